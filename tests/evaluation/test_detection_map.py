"""`evaluate_detection`: the two protocols side by side, warnings, the result's keys, real data."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from keras_wsal.evaluation import PROTOCOLS, UnknownVideoWarning, evaluate_detection

SHARED_THUMOS14 = (
    Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "thumos14" / "thumos14.json"
)


def _annotations(*rows, subset="Test"):
    database = {}
    for video, label, start, end in rows:
        entry = database.setdefault(video, {"subset": subset, "duration": 100.0, "annotations": []})
        entry["annotations"].append({"label": label, "segment": [start, end]})
    return {"database": database}


def _results(*rows):
    results = {}
    for video, label, start, end, score in rows:
        results.setdefault(video, []).append(
            {"label": label, "score": score, "segment": [start, end]}
        )
    return {"results": results}


def test_protocols_differ_at_tiou_equal_to_the_threshold():
    truth = _annotations(("v", "A", 0, 5))
    predictions = _results(("v", "A", 0, 4, 0.9))  # tIoU exactly 4/5 = 0.8
    activitynet = evaluate_detection(truth, predictions, "activitynet", [0.8])
    thumos14 = evaluate_detection(truth, predictions, "thumos14", [0.8])
    assert activitynet.mAP == [1.0]  # tIoU >= 0.8
    assert thumos14.mAP == [0.0]  # overlap > 0.8 fails


def test_protocols_differ_by_interpolation():
    truth = _annotations(("v", "A", 0, 10), ("v", "A", 20, 30))
    predictions = _results(("v", "A", 50, 60, 0.9), ("v", "A", 0, 10, 0.8), ("v", "A", 20, 30, 0.7))
    # hits F,T,T with 2 positives: interpolated 2/3, non-interpolated (1/2 + 2/3) / 2 = 7/12.
    assert evaluate_detection(truth, predictions, "activitynet", [0.5]).mAP[0] == pytest.approx(
        2 / 3
    )
    assert evaluate_detection(truth, predictions, "thumos14", [0.5]).mAP[0] == pytest.approx(7 / 12)


def test_ambiguous_annotations_change_only_the_thumos14_protocol():
    truth = _annotations(("v", "A", 0, 10), ("v", "Ambiguous", 20, 25))
    predictions = _results(
        ("v", "A", 21, 24, 0.95), ("v", "A", 0, 10, 0.9), ("v", "A", 40, 50, 0.7)
    )
    # thumos14 drops the FP on the Ambiguous interval: TP, FP -> 1.
    # activitynet ignores Ambiguous: FP, TP, FP -> interpolated 1/2.
    assert evaluate_detection(truth, predictions, "thumos14", [0.5]).mAP == [pytest.approx(1.0)]
    assert evaluate_detection(truth, predictions, "activitynet", [0.5]).mAP == [pytest.approx(0.5)]
    without = _annotations(("v", "A", 0, 10))
    assert evaluate_detection(without, predictions, "thumos14", [0.5]).mAP == [pytest.approx(0.5)]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_unknown_videos_warn_with_a_count_and_are_false_positives(protocol):
    truth = _annotations(("v", "A", 0, 10))
    predictions = _results(
        ("elsewhere", "A", 0, 10, 0.9), ("elsewhere", "A", 5, 8, 0.8), ("v", "A", 0, 10, 0.7)
    )
    with pytest.warns(
        UnknownVideoWarning, match="2 predictions for 1 videos that are not in subset 'test'"
    ):
        result = evaluate_detection(truth, predictions, protocol, [0.5], subset="test")
    # FP, FP, TP with one positive: 1/3 under both AP definitions.
    assert result.mAP == [pytest.approx(1 / 3)]
    assert result.unknown_videos == ("elsewhere",)


def test_videos_of_another_subset_count_as_unknown():
    truth = _annotations(("v", "A", 0, 10))
    truth["database"]["w"] = {
        "subset": "Validation",
        "annotations": [{"label": "A", "segment": [0, 10]}],
    }
    with pytest.warns(UnknownVideoWarning):
        result = evaluate_detection(truth, _results(("w", "A", 0, 10, 0.9)), subset="Test")
    assert result.per_class_AP == {"A": [0.0] * 7}


def test_no_warning_without_unknown_videos_and_the_exact_match_scores_one():
    truth = _annotations(("v", "A", 0, 10))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = evaluate_detection(truth, _results(("v", "A", 0, 10, 0.7)))
    assert result.mAP == [1.0] * len(result.tiou)
    assert result.per_class_AP == {"A": [1.0] * len(result.tiou)}


def test_to_dict_has_exactly_the_keys_and_is_json():
    truth = _annotations(("v", "A", 0, 10), ("v", "B", 20, 30))
    result = evaluate_detection(truth, _results(("v", "A", 0, 10, 0.7)), tiou_thresholds=(0.3, 0.5))
    payload = json.loads(json.dumps(result.to_dict()))
    assert set(payload) == {"protocol", "tiou", "mAP", "average_mAP", "per_class_AP"}
    assert payload == {
        "protocol": "activitynet",
        "tiou": [0.3, 0.5],
        "mAP": [0.5, 0.5],
        "average_mAP": 0.5,
        "per_class_AP": {"A": [1.0, 1.0], "B": [0.0, 0.0]},
    }


def test_files_on_disk(tmp_path):
    (tmp_path / "gt.json").write_text(json.dumps(_annotations(("v", "A", 0, 10))))
    (tmp_path / "res.json").write_text(json.dumps(_results(("v", "A", 0, 10, 0.7))))
    result = evaluate_detection(tmp_path / "gt.json", str(tmp_path / "res.json"), "thumos14")
    assert result.mAP == [1.0] * 7 and result.num_videos == 1


def test_bad_arguments():
    truth = _annotations(("v", "A", 0, 10))
    with pytest.raises(ValueError, match="protocol must be one of activitynet, thumos14"):
        evaluate_detection(truth, _results(), protocol="voc")
    for thresholds in ([], [0.0], [1.5], [float("nan")]):
        with pytest.raises(ValueError, match="tIoU thresholds"):
            evaluate_detection(truth, _results(), tiou_thresholds=thresholds)


@pytest.mark.skipif(not SHARED_THUMOS14.is_file(), reason="THUMOS14 annotations not in ../shared")
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_real_thumos14_ground_truth_against_itself_scores_one(protocol):
    truth = json.loads(SHARED_THUMOS14.read_text())
    predictions = {
        "results": {
            video: [
                {"label": a["label"], "score": 1.0, "segment": a["segment"]}
                for a in entry["annotations"]
            ]
            for video, entry in truth["database"].items()
            if entry["subset"] == "Test"
        }
    }
    result = evaluate_detection(truth, predictions, protocol, subset="Test")
    assert len(result.per_class_AP) == 20
    np.testing.assert_allclose(result.mAP, 1.0)
    assert result.average_mAP == pytest.approx(1.0)
