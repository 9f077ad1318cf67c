"""`keras-wsal fuse`: runs trained on one stream each become one late-fusion run."""

import json

import numpy as np
import pytest

from keras_wsal.cli import main
from keras_wsal.datasets import FeatureDataset, make_synthetic_dataset
from keras_wsal.inference import predict_videos
from keras_wsal.training import load_run_model


@pytest.fixture(scope="module")
def two_stream(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuse")
    data = root / "data"
    make_synthetic_dataset(
        data, num_classes=3, feature_dim=6, streams=("rgb", "flow"),
        subsets={"train": 8, "test": 3}, min_length=6, max_length=30, seed=0,
    )  # fmt: skip
    runs = {}
    for stream in ("rgb", "flow"):
        runs[stream] = root / f"unet_{stream}"
        assert main(["train", "--data", str(data), "--subset", "train", "--model",
                     "untrimmednet-soft", "--recipe", "paper", "--stream", stream,
                     "--steps", "2", "--batch-size", "4", "--out", str(runs[stream]),
                     "--quiet"]) == 0  # fmt: skip
    return data, runs


def test_each_stream_trains_alone_with_its_papers_schedule(two_stream):
    _, runs = two_stream
    for stream, (rate, step, dropout) in {
        "rgb": (1e-3, 4000, 0.8),
        "flow": (5e-3, 6000, 0.7),
    }.items():
        config = json.loads((runs[stream] / "config.json").read_text())
        assert (config["learning_rate"], config["lr_step"], config["dropout"]) == (
            rate,
            step,
            dropout,
        )
        model, _ = load_run_model(runs[stream])
        assert model.streams == (stream,)


def test_fused_run_detects_with_the_mean_of_the_streams(two_stream, tmp_path, capsys):
    data, runs = two_stream
    fused_dir = tmp_path / "fused"
    assert main(["fuse", str(runs["rgb"]), str(runs["flow"]), "--out", str(fused_dir)]) == 0
    assert "fused flow, rgb" in capsys.readouterr().out
    fused, classes = load_run_model(fused_dir)
    assert fused.streams == ("flow", "rgb") and classes == FeatureDataset(data).classes
    assert json.loads((fused_dir / "config.json").read_text())["stream"] is None
    dataset = FeatureDataset(data)
    singles = [load_run_model(runs[s])[0] for s in ("rgb", "flow")]
    per_stream = [list(predict_videos(m, dataset, "test")) for m in singles]
    for index, outputs in enumerate(predict_videos(fused, dataset, "test")):
        expected = (per_stream[0][index].video_scores + per_stream[1][index].video_scores) / 2
        np.testing.assert_allclose(outputs.video_scores, expected, rtol=1e-5, atol=1e-7)
    results = tmp_path / "results.json"
    assert main(["detect", "--data", str(data), "--subset", "test", "--model", str(fused_dir),
                 "--out", str(results)]) == 0  # fmt: skip
    assert set(json.loads(results.read_text())["results"]) == set(dataset.videos("test"))


def test_bad_fusions_are_one_line_errors(two_stream, tmp_path, capsys):
    _, runs = two_stream
    cases = [
        ([str(runs["rgb"])], "give two or more runs"),
        ([str(runs["rgb"]), str(runs["rgb"])], "its own stream"),
        ([str(runs["rgb"]), str(tmp_path / "missing")], "no such run folder"),
    ]
    for run_dirs, message in cases:
        assert main(["fuse", *run_dirs, "--out", str(tmp_path / "out")]) == 2
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and message in error, error
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "model.keras").write_text("old")
    assert main(["fuse", str(runs["rgb"]), str(runs["flow"]), "--out", str(taken)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert (taken / "model.keras").read_text() == "old"
    assert not (tmp_path / "out").exists()
