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


def test_hand_computed_hit_rates():
    from keras_wsal.evaluation import recognition_hit_rates

    ground_truth = {
        "database": {
            **GROUND_TRUTH["database"],
            "v4": {"subset": "test", "annotations": [{"label": "C", "segment": [0, 1]}]},
            "v5": {"subset": "test", "annotations": []},  # no label: not counted
        }
    }
    predictions = _scores(
        {
            "v1": {"A": 0.9, "B": 0.7, "C": 0.1},  # top-1 A: hit
            "v2": {"A": 0.8, "B": 0.6, "C": 0.7},  # top-1 A miss; top-3 holds B: hit
            "v3": {"C": 0.9, "B": 0.5},  # top-1 C miss; top-3 C, B, (A missing): hit (B)
            "v5": {"A": 1.0},
        }
    )  # v4 has no predictions: a miss at every k
    rates = recognition_hit_rates(ground_truth, predictions, top=(1, 2, 3))
    assert rates == {1: pytest.approx(1 / 4), 2: pytest.approx(2 / 4), 3: pytest.approx(3 / 4)}
    with pytest.raises(DataError, match="top must hold integers >= 1"):
        recognition_hit_rates(ground_truth, predictions, top=(0,))


def test_hit_rates_with_equal_scores_keep_class_order():
    from keras_wsal.evaluation import recognition_hit_rates

    predictions = _scores({v: {"A": 0.5, "B": 0.5} for v in ("v1", "v2", "v3")})
    # Classes in order A, B: top-1 is A everywhere: v1 (A) and v3 (A, B) hit, v2 (B) misses.
    assert recognition_hit_rates(GROUND_TRUTH, predictions, top=(1,)) == {1: pytest.approx(2 / 3)}
