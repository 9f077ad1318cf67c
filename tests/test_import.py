"""`import keras_wsal` registers every serializable class; the command line parses, helps and
rejects arguments without loading a Keras backend, and starts one without its log lines."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "keras_wsal"


def _decorated_classes() -> set[str]:
    """The classes the source decorates with `@keras_wsal_serializable` (an independent list)."""
    found = set()
    for path in PACKAGE.rglob("*.py"):
        found |= set(
            re.findall(
                r"@keras_wsal_serializable\s*\nclass (\w+)", path.read_text(encoding="utf-8")
            )
        )
    return found


def _python(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300
    )


def test_import_registers_every_serializable_class():
    expected = _decorated_classes()
    assert {"WSGN", "UntrimmedNet", "TopKSelect", "WSGNLoss", "SegmentalConsensus"} <= expected
    done = _python(
        "import keras, keras_wsal\n"
        "print(sorted(k.split('>')[1] for k in keras.saving.get_custom_objects()"
        " if k.startswith('keras_wsal>')))"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert set(eval(done.stdout.strip().splitlines()[-1])) == expected


_COMMAND_LINE = """
import sys
sys.argv = ["keras-wsal", *sys.argv[1:]]
from keras_wsal.cli import main
try:
    status = main(sys.argv[1:])
except SystemExit as exit:
    status = exit.code
heavy = [m for m in ("tensorflow", "keras", "torch", "jax") if m in sys.modules]
print("STATUS", status, "HEAVY", heavy)
"""


@pytest.mark.parametrize(
    "argv, status",
    [
        (["--help"], 0),
        (["train", "--help"], 0),
        (["detect", "--help"], 0),
        (["extract", "--help"], 0),
        (["export", "--help"], 0),
        (["demo", "--help"], 0),
        (["train", "--model", "nope"], 2),
        (["detect", "--thresholds", "x"], 2),
        (["bogus"], 2),
    ],
)
def test_parsing_never_loads_a_backend(argv, status):
    done = _python(_COMMAND_LINE, *argv)
    assert done.stdout.strip().splitlines()[-1] == f"STATUS {status} HEAVY []", done.stderr[-2000:]
    if status == 0:
        assert done.stderr == ""
    else:
        assert "Traceback" not in done.stderr and "error:" in done.stderr.splitlines()[-1]


def test_help_shows_every_options_default():
    done = _python(_COMMAND_LINE, "train", "--help")
    text = " ".join(done.stdout.split())
    shown = (
        "--batch-size BATCH_SIZE global batch size (videos per step); default: the recipe's",
        "(the choice is printed and saved) (default: auto)",
        "default: zloc,gloc,sloc for wsgn, none for supervised",
        "XLA for the train step (default: auto)",
    )
    assert all(s in text for s in shown), text


def test_a_backend_command_starts_without_log_lines(tmp_path):
    """`keras-wsal evaluate`-free check: `train` on a missing dataset starts the backend, then
    fails on the data; stderr holds only that one line (no TensorFlow start-up lines)."""
    done = _python(_COMMAND_LINE, "train", "--data", str(tmp_path / "none"), "--subset", "x",
                   "--model", "naive", "--out", str(tmp_path / "run"))  # fmt: skip
    assert done.stdout.strip().splitlines()[-1].startswith("STATUS 2")
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("keras-wsal train: error: "), done.stderr
