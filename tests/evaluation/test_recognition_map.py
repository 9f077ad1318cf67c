"""Video-level recognition mAP (THUMOSeventclspr) on a hand-computed case."""

import pytest

from keras_wsal.errors import DataError
from keras_wsal.evaluation import UnknownVideoWarning, evaluate_recognition

GROUND_TRUTH = {
    "database": {
        "v1": {"subset": "test", "annotations": [{"label": "A", "segment": [0, 1]}]},
        "v2": {"subset": "test", "annotations": [{"label": "B", "segment": [0, 1]}]},
        "v3": {
            "subset": "test",
            "annotations": [{"label": "A", "segment": [0, 1]}, {"label": "B", "segment": [2, 3]}],
        },
    }
}


def _scores(table):
    return {
        "results": {
            video: [{"label": k, "score": s} for k, s in row.items()]
            for video, row in table.items()
        }
    }


def test_hand_computed_map():
    predictions = _scores(
        {"v1": {"A": 0.9, "B": 0.7}, "v2": {"A": 0.8, "B": 0.6}, "v3": {"A": 0.3}}
    )
    result = evaluate_recognition(GROUND_TRUTH, predictions)
    # A: ranking v1 (+), v2 (-), v3 (+) -> (1 + 2/3) / 2 = 5/6.
    # B: v1 (-) 0.7, v2 (+) 0.6, v3 (+) missing -> -inf last -> (1/2 + 2/3) / 2 = 7/12.
    assert result.per_class_AP == {"A": pytest.approx(5 / 6), "B": pytest.approx(7 / 12)}
    assert result.mAP == pytest.approx(17 / 24)
    assert result.to_dict()["metric"] == "recognition"


def test_ties_keep_annotation_order_and_unknown_videos_warn():
    predictions = _scores(
        {"v1": {"A": 0.5}, "v2": {"A": 0.5}, "v3": {"A": 0.5}, "other": {"A": 1.0}}
    )
    with pytest.warns(UnknownVideoWarning, match="1 videos .* are ignored"):
        result = evaluate_recognition(GROUND_TRUTH, predictions)
    # A, all tied: v1 (+), v2 (-), v3 (+) -> 5/6. B: no scores, v1, v2 (+), v3 (+) -> (1/2 + 2/3)/2.
    assert result.per_class_AP["A"] == pytest.approx(5 / 6)
    assert result.per_class_AP["B"] == pytest.approx(7 / 12)


def test_unknown_label_is_an_error():
    with pytest.raises(
        DataError, match="video 'v1', prediction 0, field 'label': unknown label 'Z'"
    ):
        evaluate_recognition(GROUND_TRUTH, _scores({"v1": {"Z": 0.5}}))
