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


# `every` 2: UntrimmedNet's WSR reads one snippet every 30 frames, every 2nd of 15-frame snippets.
@pytest.mark.parametrize("every", [1, 2])
@pytest.mark.parametrize("method", ["top_k", "attention", "model"])
def test_recognition_scores_and_their_evaluation(run, tmp_path, capsys, method, every):
    data, out = run
    scores_file = tmp_path / "scores.json"
    assert main(["detect", "--data", str(data), "--subset", "test", "--model", str(out),
                 "--out", str(scores_file), "--recognition", method, "--recognition-k", "2",
                 "--recognition-every", str(every)]) == 0  # fmt: skip
    written = json.loads(scores_file.read_text())["results"]
    model, _ = load_run_model(out)
    dataset = FeatureDataset(data)
    for outputs in predict_videos(model, dataset, "test"):
        expected = video_scores(
            outputs.snippet_scores[::every],
            outputs.selection[::every],
            outputs.video_scores,
            method,
            k=2,
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


def _as_charades(root):
    """Rename the dataset's classes to Charades' c000, c001, ... (annotations and meta)."""
    annotations = json.loads((root / "annotations.json").read_text())
    meta = json.loads((root / "meta.json").read_text())
    names = sorted(
        {a["label"] for v in annotations["database"].values() for a in v["annotations"]}
        - {"Ambiguous"}
    )
    rename = {name: f"c{index:03d}" for index, name in enumerate(names)}
    for entry in annotations["database"].values():
        for annotation in entry["annotations"]:
            annotation["label"] = rename.get(annotation["label"], annotation["label"])
    meta.pop("classes", None)
    (root / "annotations.json").write_text(json.dumps(annotations))
    (root / "meta.json").write_text(json.dumps(meta))


def test_detect_writes_a_charades_submission_that_evaluates_as_the_library(tmp_path, capsys):
    from keras_wsal.evaluation import charades_localization_map, sample_snippet_scores

    data = make_synthetic_dataset(
        tmp_path / "data", num_classes=3, feature_dim=8, subsets={"train": 6, "test": 4}, seed=2
    )
    _as_charades(data.root)
    run_dir = tmp_path / "run"
    assert main(["train", "--data", str(data.root), "--subset", "train", "--model", "wsgn",
                 "--out", str(run_dir), "--steps", "2", "--validation-fraction", "0",
                 "--quiet"]) == 0  # fmt: skip
    points = tmp_path / "points.txt"
    assert main(["detect", "--data", str(data.root), "--subset", "test", "--model",
                 str(run_dir), "--out", str(points), "--charades"]) == 0  # fmt: skip
    capsys.readouterr()
    annotations = str(data.root / "annotations.json")
    assert main(["evaluate", "--ground-truth", annotations, "--predictions", str(points),
                 "--subset", "test", "--protocol", "charades", "--json"]) == 0  # fmt: skip
    printed = json.loads(capsys.readouterr().out)
    model, classes = load_run_model(run_dir)
    dataset = FeatureDataset(data.root)
    expected = charades_localization_map(
        annotations,
        {
            o.video: sample_snippet_scores(
                o.snippet_scores, dataset.duration(o.video), dataset.feature_fps
            )
            for o in predict_videos(model, dataset, "test")
        },
        classes,
        subset="test",
    )
    assert printed["mAP"] == pytest.approx(expected.mAP, abs=1e-5)  # the file holds 6 digits


def test_charades_needs_charades_classes(run, tmp_path, capsys):
    data, out = run
    assert main(["detect", "--data", str(data), "--subset", "test", "--model", str(out),
                 "--out", str(tmp_path / "p.txt"), "--charades"]) == 2  # fmt: skip
    assert "--charades: the model's classes must be Charades'" in capsys.readouterr().err


def test_detect_on_frames_uses_the_frame_inference(run, tmp_path, capsys):
    data, out = run
    scores_file = tmp_path / "scores.json"
    assert main(["detect", "--data", str(data), "--subset", "test", "--model", str(out),
                 "--out", str(scores_file), "--recognition", "model", "--frames"]) == 0  # fmt: skip
    written = json.loads(scores_file.read_text())["results"]
    model, _ = load_run_model(out)
    dataset = FeatureDataset(data)
    # A synthetic dataset records no extraction: 16 frames per snippet (I3D's).
    for outputs in predict_videos(model, dataset, "test", frames_per_snippet=16):
        got = {entry["label"]: entry["score"] for entry in written[outputs.video]}
        np.testing.assert_allclose(
            [got[c] for c in dataset.classes], outputs.video_scores, rtol=1e-6
        )
    assert main(["detect", str(tmp_path), "--model", str(out), "--out",
                 str(tmp_path / "x.json"), "--frames"]) == 2  # fmt: skip
    assert "--frames goes with --data" in capsys.readouterr().err
