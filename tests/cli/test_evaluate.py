"""`keras-wsal evaluate`: table, --json, protocols, and one clear error per bad input."""

import json

import pytest

from keras_wsal.cli import main

ANNOTATIONS = {
    "database": {
        "v1": {
            "subset": "Test",
            "duration": 60.0,
            "annotations": [
                {"label": "A", "segment": [0, 10]},
                {"label": "B", "segment": [20, 30]},
            ],
        },
        "v2": {
            "subset": "Test",
            "duration": 60.0,
            "annotations": [
                {"label": "A", "segment": [0, 5]},
                {"label": "Ambiguous", "segment": [40, 50]},
            ],
        },
        "v3": {
            "subset": "Validation",
            "duration": 60.0,
            "annotations": [{"label": "A", "segment": [0, 5]}],
        },
    }
}
RESULTS = {
    "results": {
        "v1": [
            {"label": "A", "score": 0.9, "segment": [0, 10]},
            {"label": "B", "score": 0.4, "segment": [20, 26]},
        ],
        "v2": [
            {"label": "A", "score": 0.8, "segment": [0, 4]},
            {"label": "A", "score": 0.95, "segment": [41, 45]},
        ],
    }
}


@pytest.fixture
def files(tmp_path):
    (tmp_path / "annotations.json").write_text(json.dumps(ANNOTATIONS))
    (tmp_path / "results.json").write_text(json.dumps(RESULTS))
    return tmp_path


def _evaluate(files, *extra):
    return main(
        [
            "evaluate",
            "--ground-truth",
            str(files / "annotations.json"),
            "--predictions",
            str(files / "results.json"),
            *extra,
        ]
    )


def test_table(files, capsys):
    assert _evaluate(files, "--subset", "test", "--tiou", "0.5,0.7", "--per-class") == 0
    out = capsys.readouterr().out
    # the values are checked in test_json_parses_and_has_the_keys; here the layout
    assert "protocol activitynet, subset test: 2 videos, 2 classes" in out
    assert "  0.50" in out and "  0.70" in out and "avg" in out
    assert out.splitlines()[-1].startswith("B ")


def test_json_parses_and_has_the_keys(files, capsys):
    assert _evaluate(files, "--subset", "Test", "--tiou", "0.5,0.7", "--json") == 0
    payload = json.loads(capsys.readouterr().out)
    assert {"protocol", "tiou", "mAP", "average_mAP", "per_class_AP"} <= set(payload)
    assert payload["tiou"] == [0.5, 0.7] and payload["num_videos"] == 2
    # A at 0.5: ranked FP (0.95), TP (0.9), TP (0.8) with 2 positives -> envelope 2/3 -> 2/3.
    # B at 0.5: [20,26] vs [20,30] tIoU 0.6 -> TP -> 1; at 0.7 -> 0. A at 0.7: 0.8 >= 0.7 -> 2/3.
    assert payload["per_class_AP"]["A"] == pytest.approx([2 / 3, 2 / 3])
    assert payload["per_class_AP"]["B"] == pytest.approx([1.0, 0.0])
    assert payload["mAP"] == pytest.approx([5 / 6, 1 / 3])


def test_thumos14_protocol_drops_the_ambiguous_false_positive(files, capsys):
    assert (
        _evaluate(files, "--subset", "Test", "--tiou", "0.5", "--protocol", "thumos14", "--json")
        == 0
    )
    payload = json.loads(capsys.readouterr().out)
    # A: the 0.95 detection lies on v2's Ambiguous interval and is dropped -> TP, TP -> 1.
    assert payload["protocol"] == "thumos14"
    assert payload["per_class_AP"]["A"] == pytest.approx([1.0])


def test_unknown_videos_warn_on_stderr(files, capsys):
    results = json.loads((files / "results.json").read_text())
    results["results"]["v3"] = [{"label": "A", "score": 0.1, "segment": [0, 5]}]
    (files / "results.json").write_text(json.dumps(results))
    assert _evaluate(files, "--subset", "test") == 0
    err = capsys.readouterr().err
    assert "keras-wsal evaluate: warning:" in err and "1 predictions for 1 videos" in err


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        ('{"results": {"v1": [', "not valid JSON"),
        (
            '{"results": {"v1": [{"label": "A", "score": NaN, "segment": [0, 1]}]}}',
            "video 'v1', prediction 0, field 'score'",
        ),
        (
            '{"results": {"v1": [{"label": "A", "score": 0.5, "segment": [3, 1]}]}}',
            "video 'v1', prediction 0, field 'segment': start 3.0 is after end 1.0",
        ),
        (
            '{"results": {"v1": [{"label": "Z", "score": 0.5, "segment": [0, 1]}]}}',
            "video 'v1', prediction 0, field 'label': unknown label 'Z'",
        ),
        (
            '{"results": {"v1": [{"label": "A", "segment": [0, 1]}]}}',
            "video 'v1', prediction 0: missing field 'score'",
        ),
        ("[1, 2]", "expected a JSON object at the top level"),
    ],
)
def test_bad_predictions_exit_2_with_one_line(files, capsys, results, expected):
    (files / "results.json").write_text(results)
    assert _evaluate(files) == 2
    err = capsys.readouterr().err
    assert err.startswith("keras-wsal evaluate: error: ") and expected in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_bad_ground_truth_and_subset(files, capsys):
    assert _evaluate(files, "--subset", "train") == 2
    assert (
        "subset 'train' has no video (subsets in the file: 'Test', 'Validation')"
        in capsys.readouterr().err
    )
    (files / "annotations.json").write_text(
        '{"database": {"v1": {"annotations": [{"label": "A", "segment": [5, 1]}]}}}'
    )
    assert _evaluate(files) == 2
    assert (
        "video 'v1', annotation 0, field 'segment': start 5.0 is after end 1.0"
        in capsys.readouterr().err
    )


def test_missing_file(files, capsys):
    assert (
        main(
            [
                "evaluate",
                "--ground-truth",
                str(files / "nope.json"),
                "--predictions",
                str(files / "results.json"),
            ]
        )
        == 2
    )
    assert "ground truth file" in capsys.readouterr().err


@pytest.mark.parametrize("tiou", ["0.5,abc", "0,0.5", "1.5", ","])
def test_bad_tiou_is_an_argument_error(files, capsys, tiou):
    with pytest.raises(SystemExit) as exit_info:
        _evaluate(files, "--tiou", tiou)
    assert exit_info.value.code == 2
    assert (
        "argument --tiou: expected comma-separated tIoU thresholds in (0, 1]"
        in capsys.readouterr().err
    )


def test_bad_protocol(files, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _evaluate(files, "--protocol", "voc")
    assert exit_info.value.code == 2
    assert "invalid choice: 'voc'" in capsys.readouterr().err
