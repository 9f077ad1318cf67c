"""`keras-wsal detect --recognition` writes video-level scores; `evaluate --task recognition`
scores them as the library does."""

import json

import numpy as np
import pytest

from keras_wsal.cli import detect, main
from keras_wsal.datasets import FeatureDataset, make_synthetic_dataset
from keras_wsal.evaluation import evaluate_recognition, recognition_hit_rates
from keras_wsal.inference import VIDEO_SCORE_METHODS, predict_videos, video_scores
from keras_wsal.training import load_run_model


def test_the_cli_lists_the_librarys_pooling_methods():
    assert detect.VIDEO_SCORE_METHODS == VIDEO_SCORE_METHODS


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("recognition")
    data = make_synthetic_dataset(
        root / "data", num_classes=3, feature_dim=8, subsets={"train": 8, "test": 6}, seed=1
    )
    out = root / "run"
    assert main(["train", "--data", str(data.root), "--subset", "train", "--model",
                 "untrimmednet-soft", "--out", str(out), "--steps", "3",
                 "--validation-fraction", "0", "--quiet"]) == 0  # fmt: skip
    return data.root, out


@pytest.mark.parametrize("method", ["top_k", "attention", "model"])
def test_recognition_scores_and_their_evaluation(run, tmp_path, capsys, method):
    data, out = run
    scores_file = tmp_path / "scores.json"
    assert main(["detect", "--data", str(data), "--subset", "test", "--model", str(out),
                 "--out", str(scores_file), "--recognition", method,
                 "--recognition-k", "2"]) == 0  # fmt: skip
    written = json.loads(scores_file.read_text())["results"]
    model, _ = load_run_model(out)
    dataset = FeatureDataset(data)
    for outputs in predict_videos(model, dataset, "test"):
        expected = video_scores(
            outputs.snippet_scores, outputs.selection, outputs.video_scores, method, k=2
        )
        got = {entry["label"]: entry["score"] for entry in written[outputs.video]}
        np.testing.assert_allclose([got[c] for c in dataset.classes], expected, rtol=1e-6)
    capsys.readouterr()
    ground_truth = str(data / "annotations.json")
    assert main(["evaluate", "--ground-truth", ground_truth, "--predictions", str(scores_file),
                 "--subset", "test", "--task", "recognition", "--json"]) == 0  # fmt: skip
    printed = json.loads(capsys.readouterr().out)
    assert printed["mAP"] == pytest.approx(
        evaluate_recognition(ground_truth, scores_file, subset="test").mAP
    )
    hits = recognition_hit_rates(ground_truth, scores_file, (1, 3), subset="test")
    assert (printed["top1"], printed["top3"]) == (pytest.approx(hits[1]), pytest.approx(hits[3]))
