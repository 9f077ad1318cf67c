"""Loading and validating annotation and result JSON: every bad input names video and field."""

import json

import numpy as np
import pytest

from keras_wsal.errors import DataError
from keras_wsal.evaluation import (
    load_detection_results,
    load_ground_truth,
    load_recognition_results,
)
from keras_wsal.formats.annotations import parse_database, videos_of_subset


def _database():
    return {
        "version": "test",
        "database": {
            "v1": {
                "subset": "Test",
                "duration": 30.0,
                "annotations": [
                    {"label": "A", "segment": [1.0, 5.0]},
                    {"label": "Ambiguous", "segment": [6.0, 7.0]},
                    {"label": "B", "segment": [8.0, 9.0]},
                ],
            },
            "v2": {
                "subset": "Validation",
                "duration": 10,
                "annotations": [{"label": "C", "segment": [0, 1]}],
            },
        },
    }


def test_ground_truth_splits_ambiguous_and_subset():
    truth = load_ground_truth(_database(), subset="test")
    assert list(truth.videos) == ["v1"]
    video = truth.videos["v1"]
    assert video.labels == ("A", "B")
    np.testing.assert_array_equal(video.segments, [[1, 5], [8, 9]])
    np.testing.assert_array_equal(video.ambiguous, [[6, 7]])
    assert truth.classes == ("A", "B")
    assert truth.labels == ("A", "B", "C")  # every subset, Ambiguous never a class
    assert load_ground_truth(_database()).classes == ("A", "B", "C")


def test_ground_truth_from_file(tmp_path):
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps(_database()))
    assert load_ground_truth(path, "Validation").classes == ("C",)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda d: d["database"]["v1"]["annotations"][0].update(segment=[5.0, 1.0]),
            "'v1', annotation 0, field 'segment': start 5.0 is after end 1.0",
        ),
        (
            lambda d: d["database"]["v1"]["annotations"][2].pop("label"),
            "'v1', annotation 2: missing field 'label'",
        ),
        (
            lambda d: d["database"]["v1"]["annotations"][0].update(segment=[1.0]),
            "'v1', annotation 0, field 'segment'",
        ),
        (
            lambda d: d["database"]["v1"]["annotations"][0].update(segment=[float("nan"), 2.0]),
            "field 'segment[0]': expected a finite number",
        ),
        (
            lambda d: d["database"]["v2"].update(annotations={}),
            "'v2', field 'annotations': expected a list",
        ),
        (lambda d: d["database"]["v2"].update(duration=0), "'v2', field 'duration'"),
        (lambda d: d["database"]["v2"].update(duration="long"), "'v2', field 'duration'"),
        (lambda d: d.pop("database"), "missing the top-level field 'database'"),
    ],
)
def test_bad_ground_truth_names_video_and_field(edit, expected):
    data = _database()
    edit(data)
    with pytest.raises(DataError, match=expected.replace("(", r"\(").replace("[", r"\[")):
        load_ground_truth(data)


def test_empty_subset_lists_the_subsets():
    with pytest.raises(
        DataError,
        match=r"subset 'train' has no video \(subsets in the file: 'Test', 'Validation'\)",
    ):
        load_ground_truth(_database(), subset="train")


def test_subset_with_only_ambiguous_has_nothing_to_evaluate():
    data = {
        "database": {
            "v": {"subset": "Test", "annotations": [{"label": "Ambiguous", "segment": [0, 1]}]}
        }
    }
    with pytest.raises(DataError, match="no action annotation"):
        load_ground_truth(data, "Test")


def test_malformed_json_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"database": {"v1": ')
    with pytest.raises(DataError, match=r"broken.json: not valid JSON .*line 1"):
        load_ground_truth(path)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="ground truth file .*nothing.json does not exist"):
        load_ground_truth(tmp_path / "nothing.json")


def _results(**fields):
    entry = {"label": "A", "score": 0.5, "segment": [1.0, 2.0]}
    entry.update(fields)
    return {"results": {"v1": [{"label": "B", "score": 0.1, "segment": [0, 1]}, entry]}}


def test_detection_results_load_in_file_order():
    results = load_detection_results(_results(), ["A", "B"])
    video = results.videos["v1"]
    assert video.labels == ("B", "A")
    np.testing.assert_array_equal(video.scores, [0.1, 0.5])
    np.testing.assert_array_equal(video.segments, [[0, 1], [1, 2]])


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"score": float("nan")},
            "video 'v1', prediction 1, field 'score': expected a finite number, got nan",
        ),
        ({"score": float("inf")}, "field 'score': expected a finite number, got inf"),
        ({"score": "0.5"}, "field 'score': expected a finite number, got '0.5'"),
        ({"score": True}, "field 'score': expected a finite number, got True"),
        (
            {"segment": [3.0, 2.0]},
            "video 'v1', prediction 1, field 'segment': start 3.0 is after end 2.0",
        ),
        ({"segment": [1.0, 2.0, 3.0]}, "field 'segment': expected [start, end]"),
        ({"label": "Z"}, "video 'v1', prediction 1, field 'label': unknown label 'Z'"),
        ({"label": "Ambiguous"}, "'Ambiguous' marks ground-truth intervals only"),
        ({"label": 3}, "field 'label': expected a non-empty string"),
    ],
)
def test_bad_detection_names_video_prediction_and_field(fields, expected):
    with pytest.raises(DataError) as caught:
        load_detection_results(_results(**fields), ["A", "B"])
    assert expected in str(caught.value)


def test_missing_detection_field():
    data = {"results": {"v1": [{"label": "A", "segment": [0, 1]}]}}
    with pytest.raises(DataError, match="video 'v1', prediction 0: missing field 'score'"):
        load_detection_results(data, ["A"])


def test_results_must_be_lists_under_results():
    with pytest.raises(DataError, match="missing the top-level field 'results'"):
        load_detection_results({"result": {}}, ["A"])
    with pytest.raises(DataError, match="video 'v1': expected a list of predictions"):
        load_detection_results({"results": {"v1": {"label": "A"}}}, ["A"])


def test_nan_literal_in_a_results_file(tmp_path):
    path = tmp_path / "results.json"
    path.write_text('{"results": {"v7": [{"label": "A", "score": NaN, "segment": [0, 1]}]}}')
    with pytest.raises(DataError, match=r"results.json: video 'v7', prediction 0, field 'score'"):
        load_detection_results(path, ["A"])


def test_recognition_results_reject_a_repeated_label():
    data = {"results": {"v1": [{"label": "A", "score": 0.5}, {"label": "A", "score": 0.4}]}}
    with pytest.raises(
        DataError, match="video 'v1', prediction 1, field 'label': label 'A' is listed twice"
    ):
        load_recognition_results(data, ["A"])
    scores, name = load_recognition_results(
        {"results": {"v1": [{"label": "A", "score": 0.5}]}}, ["A"]
    )
    assert scores == {"v1": {"A": 0.5}} and name == "predictions"


def test_a_video_without_annotations_has_none_and_the_same_parser_serves_training():
    data = _database()
    data["database"]["v2"].pop("annotations")
    truth = load_ground_truth(data)
    assert truth.videos["v2"].labels == () and truth.videos["v2"].segments.shape == (0, 2)
    records = parse_database(data, "gt", required=("subset", "duration"))
    assert records["v2"].labels == () and records["v1"].subset == truth.videos["v1"].subset


def test_subsets_match_case_insensitively_for_every_reader():
    data = _database()
    records = parse_database(data)
    assert videos_of_subset(records, "TEST", "gt") == list(load_ground_truth(data, "test").videos)
