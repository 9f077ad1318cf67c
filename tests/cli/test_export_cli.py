"""`keras-wsal export`: versions, the printed signature listing, options, one-line errors."""

import json

import pytest

from keras_wsal.cli import main
from keras_wsal.datasets import make_synthetic_dataset
from keras_wsal.inference import DetectionRule
from keras_wsal.training import TrainConfig, train


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("export_cli")
    make_synthetic_dataset(
        root / "data",
        num_classes=3,
        subsets={"validation": 8},
        feature_dim=8,
        min_length=20,
        max_length=40,
    )
    train(
        TrainConfig(
            data=str(root / "data"),
            subset="validation",
            model="wsgn",
            out=str(root / "run"),
            epochs=1,
            batch_size=4,
        ),
        verbose=0,
    )
    return root / "run"


def settings(version_dir):
    return json.loads((version_dir / "assets" / "keras_wsal_export.json").read_text())


def test_export_writes_a_version_prints_signatures_and_refuses_an_existing_one(
    run_dir, tmp_path, capsys
):
    out = tmp_path / "saved_models" / "wsgn"
    options = [
        "--version",
        "3",
        "--max-detections",
        "5",
        "--rule",
        "untrimmednet",
        "--thresholds",
        "0.3",
        "--threshold-mode",
        "absolute",
    ]
    assert main(["export", str(run_dir), "--out", str(out), *options]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == f"SavedModel → {out / '3'}"
    assert printed[1] == f"Keras model → {out / 'keras' / '3.keras'}"
    assert "signature 'detect':" in printed and "signature 'serving_default':" in printed
    assert "  input   features         float32  [-1, -1, 8]" in printed
    assert "  output  start            float32  [-1, 5]" in printed
    assert sorted(p.name for p in out.iterdir()) == ["3", "keras"]
    # feature_fps comes from the run's config.json → the dataset's meta.json; the rest from flags.
    rule = DetectionRule.named("untrimmednet").replace(
        thresholds=(0.3,), threshold_mode="absolute", max_detections=5
    )
    assert settings(out / "3")["detection"] == {"rule": rule.to_dict(), "feature_fps": 25 / 16}
    assert main(["export", str(run_dir), "--out", str(out), "--version", "3"]) == 2
    error = capsys.readouterr().err
    assert (
        error.startswith("keras-wsal export: error: version 3 already exists")
        and error.count("\n") == 1
    )


def test_missing_or_unfinished_runs_are_one_line_errors(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nothing"), "--out", str(tmp_path / "out")]) == 2
    assert "no such run folder or .keras file" in capsys.readouterr().err
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    assert main(["export", str(tmp_path / "run"), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert "no trained model (model.keras) here" in error and error.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_bad_flags_and_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["export", "run", "--out", "o", "--version", "0"])
    assert exit_info.value.code == 2 and "expected an integer ≥ 1" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["export", "--help"])
    assert exit_info.value.code == 0
    assert "keras-wsal export runs/wsgn --out saved_models/wsgn" in capsys.readouterr().out
