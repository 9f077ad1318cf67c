"""`--precision auto`: the policy chosen from the machine, said and saved; a slow explicit choice
is kept with a warning."""

import json
import logging

import pytest

from keras_wsal.training import precision as module
from keras_wsal.training.precision import cpu_bfloat16_flags, resolve_precision

CPUINFO = "processor\t: 0\nflags\t\t: fpu sse2 avx2 {extra}\n\nprocessor\t: 1\nflags\t\t: fpu\n"


@pytest.mark.parametrize(
    "extra, found",
    [("avx512_bf16 amx_bf16 amx_tile", ["amx_bf16", "avx512_bf16"]), ("avx512f", [])],
)
def test_cpu_flags_are_read_from_cpuinfo(tmp_path, extra, found):
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO.format(extra=extra))
    assert cpu_bfloat16_flags(path) == found
    assert cpu_bfloat16_flags(tmp_path / "absent") == []


@pytest.mark.parametrize(
    "gpus, bf16, expected",
    [
        ([(8, 0)], [], "mixed_float16"),
        ([(6, 1)], ["amx_bf16"], "float32"),
        ([], ["amx_bf16"], "mixed_bfloat16"),
        ([], [], "float32"),
    ],
)
def test_auto_by_hardware(monkeypatch, gpus, bf16, expected):
    monkeypatch.setattr(module, "gpu_compute_capabilities", lambda: gpus)
    monkeypatch.setattr(module, "cpu_bfloat16_flags", lambda: bf16)
    policy, why = resolve_precision("auto")
    assert policy == expected and why
    assert resolve_precision("float32") == ("float32", "as given")


def test_explicit_bfloat16_on_a_slow_cpu_warns_and_is_kept(monkeypatch, caplog):
    monkeypatch.setattr(module, "gpu_compute_capabilities", lambda: [])
    monkeypatch.setattr(module, "cpu_bfloat16_flags", lambda: [])
    with caplog.at_level(logging.WARNING, logger=module.__name__):
        assert resolve_precision("mixed_bfloat16")[0] == "mixed_bfloat16"
    assert "will be slower than float32" in caplog.text
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve_precision("half")


def test_auto_is_said_and_saved_as_chosen(tmp_path, capsys, monkeypatch):
    from training_helpers import write_tiny_dataset

    from keras_wsal.cli import main

    monkeypatch.setattr(module, "gpu_compute_capabilities", lambda: [])
    monkeypatch.setattr(module, "cpu_bfloat16_flags", lambda: ["amx_bf16"])
    data = tmp_path / "data"
    write_tiny_dataset(data)
    argv = ["train", "--data", str(data), "--subset", "train", "--model", "naive",
            "--out", str(tmp_path / "run"), "--steps", "1", "--validation-fraction", "0",
            "--precision", "auto", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    assert "precision auto: mixed_bfloat16, for a CPU with bfloat16 instructions (amx_bf16)" in (
        capsys.readouterr().out
    )
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["precision"] == "mixed_bfloat16"
    assert main(argv) == 0  # the same command resumes the same run


def test_auto_is_the_default_and_resumes_a_run_in_its_own_policy(tmp_path, capsys, monkeypatch):
    from training_helpers import write_tiny_dataset

    from keras_wsal.cli import main
    from keras_wsal.training import TrainConfig

    assert TrainConfig(data="d", subset="s", model="wsgn", out="o").precision == "auto"
    monkeypatch.setattr(module, "gpu_compute_capabilities", lambda: [])
    monkeypatch.setattr(module, "cpu_bfloat16_flags", lambda: ["amx_bf16"])
    data, run = tmp_path / "data", tmp_path / "run"
    write_tiny_dataset(data)
    argv = ["train", "--data", str(data), "--subset", "train", "--model", "naive",
            "--out", str(run), "--validation-fraction", "0", "--quiet"]  # fmt: skip
    assert main([*argv, "--steps", "1", "--precision", "float32"]) == 0
    capsys.readouterr()
    # Started in float32 (e.g. before auto was the default): auto continues it in float32.
    assert main([*argv, "--steps", "2"]) == 0
    assert "precision auto: float32, the policy this run was started in" in capsys.readouterr().out
    assert json.loads((run / "config.json").read_text())["precision"] == "float32"
