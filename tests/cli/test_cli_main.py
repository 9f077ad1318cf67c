"""The command line as a whole: every subcommand listed, documented, and polite on user errors."""

import subprocess
import sys

import pytest

from keras_wsal.cli import SUBCOMMANDS, main


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    listed = capsys.readouterr().out
    for name in ("demo", "extract", "train", "detect", "evaluate", "plot", "export"):
        assert f"    {name}" in listed, name
    assert set(SUBCOMMANDS) == {
        "demo",
        "extract",
        "train",
        "fuse",
        "detect",
        "evaluate",
        "plot",
        "export",
    }


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_each_subcommand_has_help_with_examples(name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([name, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "examples:" in text and f"keras-wsal {name}" in text


MISSING = "/nonexistent/keras_wsal_input"


@pytest.mark.parametrize(
    "argv",
    [
        [
            "train",
            "--data",
            MISSING,
            "--subset",
            "validation",
            "--model",
            "wsgn",
            "--out",
            "{tmp}/run",
        ],
        [
            "detect",
            "--data",
            MISSING,
            "--subset",
            "test",
            "--model",
            MISSING,
            "--out",
            "{tmp}/r.json",
        ],
        ["evaluate", "--ground-truth", MISSING, "--predictions", MISSING],
        ["plot", "--data", MISSING, "--video", "v", "--out", "{tmp}/v.png"],
        ["export", MISSING, "--out", "{tmp}/saved"],
        ["extract", MISSING, "{tmp}/dataset"],
    ],
)
def test_a_missing_file_gives_one_line_and_exit_2(argv, tmp_path, capsys):
    status = main([a.replace("{tmp}", str(tmp_path)) for a in argv])
    error = capsys.readouterr().err.strip()
    assert status == 2
    assert error.startswith(f"keras-wsal {argv[0]}: error:") and "\n" not in error, error
    assert "Traceback" not in error


def test_a_bad_flag_gives_usage_and_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--data", "d", "--subset", "s", "--model", "tsn", "--out", "o"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'tsn'" in capsys.readouterr().err


def test_console_script_entry_point_runs_without_traceback(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "keras_wsal",
            "evaluate",
            "--ground-truth",
            MISSING,
            "--predictions",
            MISSING,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "keras-wsal evaluate: error:" in result.stderr


def test_the_real_command_line_loads_the_models_it_trained(tmp_path):
    # In-process tests import keras_wsal as a library, which registers its classes for Keras
    # saving; the `keras-wsal` program imports it lazily and must register them before loading.
    from keras_wsal.datasets import make_synthetic_dataset

    data, run = tmp_path / "data", tmp_path / "run"
    make_synthetic_dataset(
        data, num_classes=3, feature_dim=6, subsets={"train": 6, "test": 2},
        min_length=6, max_length=20, seed=0,
    )  # fmt: skip
    command = [sys.executable, "-m", "keras_wsal.cli"]
    for argv in (
        ["train", "--data", str(data), "--subset", "train", "--model", "wsgn", "--steps", "2",
         "--out", str(run), "--quiet"],
        ["detect", "--data", str(data), "--subset", "test", "--model", str(run),
         "--out", str(tmp_path / "results.json")],
        ["export", str(run), "--out", str(tmp_path / "served")],
    ):  # fmt: skip
        done = subprocess.run([*command, *argv], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "results.json").is_file()
    assert (tmp_path / "served" / "1" / "saved_model.pb").is_file()
