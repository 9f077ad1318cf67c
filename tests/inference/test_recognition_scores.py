"""Video-level scores from snippet scores (WSR): top-k, attention, ranked labels."""

import numpy as np
import pytest

from keras_wsal.errors import DataError
from keras_wsal.evaluation import evaluate_recognition
from keras_wsal.inference import (
    attention_pooling,
    ranked_labels,
    recognition_results,
    top_k_pooling,
    video_scores,
)

SCORES = np.array([[0.1, 0.9], [0.5, 0.2], [0.3, 0.4]])


def test_top_k_by_hand():
    # k = 2: class 0 mean(0.5, 0.3) = 0.4; class 1 mean(0.9, 0.4) = 0.65.
    np.testing.assert_allclose(top_k_pooling(SCORES, k=2), [0.4, 0.65])
    # k = 20 > T = 3 is clipped to 3: the plain mean.
    np.testing.assert_allclose(top_k_pooling(SCORES), SCORES.mean(axis=0))
    np.testing.assert_allclose(top_k_pooling(SCORES[:1], k=20), SCORES[0])  # T = 1
    np.testing.assert_allclose(top_k_pooling(np.full((5, 2), 0.3), k=2), [0.3, 0.3])  # all equal


def test_attention_by_hand():
    # Weights 0.5, 0.25, 0.25: class 0 = 0.05 + 0.125 + 0.075 = 0.25; class 1 = 0.45 + 0.05 + 0.1.
    np.testing.assert_allclose(attention_pooling(SCORES, [[0.5], [0.25], [0.25]]), [0.25, 0.6])
    # Unnormalised weights give the same weighted mean; per-class weights apply per column.
    np.testing.assert_allclose(attention_pooling(SCORES, [[2.0], [1.0], [1.0]]), [0.25, 0.6])
    np.testing.assert_allclose(
        attention_pooling(SCORES, [[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]]), [0.1, 0.4]
    )


def test_video_scores_dispatch():
    np.testing.assert_allclose(video_scores(SCORES, method="top_k", k=1), [0.5, 0.9])
    # weights 1, 1, 2 (sum 4): (0.1 + 0.5 + 2 * 0.3) / 4 = 0.3, (0.9 + 0.2 + 2 * 0.4) / 4 = 0.475
    np.testing.assert_allclose(
        video_scores(SCORES, [[1.0], [1.0], [2.0]], method="attention"), [0.3, 0.475]
    )
    np.testing.assert_allclose(
        video_scores(SCORES, model_video_scores=[0.7, 0.3], method="model"), [0.7, 0.3]
    )
    with pytest.raises(ValueError, match="method must be one of"):
        video_scores(SCORES, method="max")
    with pytest.raises(ValueError, match="needs `selection`"):
        video_scores(SCORES, method="attention")


def test_bad_inputs_name_the_video():
    with pytest.raises(DataError, match="video 'clip7': snippet_scores holds NaN"):
        top_k_pooling(np.array([[np.nan, 0.1]]), video="clip7")
    with pytest.raises(DataError, match="video 'clip7': snippet_scores must be"):
        top_k_pooling(np.zeros((0, 2)), video="clip7")
    with pytest.raises(
        DataError, match="video 'clip7': the selection weights of some class sum to 0"
    ):
        attention_pooling(SCORES, np.zeros((3, 1)), video="clip7")
    with pytest.raises(DataError, match=r"video 'clip7': selection must be \[3, 2\] or \[3, 1\]"):
        attention_pooling(SCORES, np.ones((2, 1)), video="clip7")
    with pytest.raises(DataError, match="video 'clip7': video scores hold NaN"):
        video_scores(SCORES, model_video_scores=[np.nan, 0.1], method="model", video="clip7")


def test_ranked_labels_ties_keep_class_order():
    assert ranked_labels([0.2, 0.7, 0.2, 0.1], ["a", "b", "c", "d"], top=3) == [
        ("b", 0.7),
        ("a", 0.2),
        ("c", 0.2),
    ]


def test_recognition_results_round_trip_through_evaluation():
    truth = {
        "database": {
            "v1": {"annotations": [{"label": "a", "segment": [0, 1]}]},
            "v2": {"annotations": [{"label": "b", "segment": [0, 1]}]},
        }
    }
    results = recognition_results(
        {"v1": np.array([0.9, 0.1]), "v2": np.array([0.2, 0.8])}, ["a", "b"]
    )
    assert results["results"]["v1"] == [{"label": "a", "score": 0.9}, {"label": "b", "score": 0.1}]
    assert evaluate_recognition(truth, results).mAP == 1.0
