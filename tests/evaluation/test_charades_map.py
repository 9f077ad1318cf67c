"""Charades localisation mAP: the 25 time points and the AP, by hand."""

import numpy as np
import pytest

from keras_wsal.errors import DataError
from keras_wsal.evaluation import (
    charades_localization_map,
    charades_time_points,
    sample_snippet_scores,
)


def test_time_points_by_hand():
    # (j - 1) / 25 * 10 for j = 1..25: 0, 0.4, 0.8, ..., 9.6.
    np.testing.assert_allclose(charades_time_points(10.0), 0.4 * np.arange(25))
    assert charades_time_points(10.0, num_points=4).tolist() == [0.0, 2.5, 5.0, 7.5]


def test_sampling_snippet_scores_by_hand():
    scores = np.arange(10, dtype=float)[:, None] * [1.0, -1.0]  # snippet i scores (i, -i)
    sampled = sample_snippet_scores(scores, duration=10.0, feature_fps=1.0)
    # t = 0, .4, .8, 1.2, 1.6, 2.0, 2.4, 2.8 fall in snippets 0, 0, 0, 1, 1, 2, 2, 2.
    assert sampled[:8, 0].tolist() == [0, 0, 0, 1, 1, 2, 2, 2]
    assert sampled[:8, 1].tolist() == [0, 0, 0, -1, -1, -2, -2, -2]
    # A video longer than its snippets (20 s but 10 snippets at 1 fps): late points read snippet 9.
    assert sample_snippet_scores(scores, 20.0, 1.0)[-1, 0] == 9
    # Point 9 of a 10 s video is t = 3.6 s, the start of snippet 90 at 25 fps, although in floating
    # point (9 / 25 * 10) * 25 = 89.99999999999999.
    assert sample_snippet_scores(np.arange(250.0)[:, None], 10.0, 25.0)[9, 0] == 90


def test_map_by_hand():
    points = charades_time_points(25.0)
    truth = {
        "database": {
            "v": {
                "duration": 25.0,
                "annotations": [
                    {
                        "label": "A",
                        "segment": [0.0, float(points[2])],
                    },  # points 0, 1, 2 (inclusive)
                    {"label": "B", "segment": [float(points[24]), 25.0]},  # point 24
                ],
            }
        }
    }
    scores = np.zeros((25, 2))
    scores[:, 0] = 1 - np.arange(25) / 100  # A: points ranked 0, 1, 2, ... -> AP 1
    scores[0, 1], scores[24, 1] = 0.5, 0.4  # B: point 0 (-), point 24 (+) -> AP 1/2
    result = charades_localization_map(truth, {"v": scores}, ["A", "B"])
    assert result.per_class_AP == {"A": pytest.approx(1.0), "B": pytest.approx(0.5)}
    assert result.mAP == pytest.approx(0.75)


def test_errors_name_the_video():
    truth = {"database": {"v": {"annotations": [{"label": "A", "segment": [0, 1]}]}}}
    with pytest.raises(DataError, match="video 'v' has no 'duration' field"):
        charades_localization_map(truth, {"v": np.zeros((25, 1))}, ["A"])
    truth["database"]["v"]["duration"] = 5.0
    with pytest.raises(DataError, match="scores of video 'v': NaN"):
        charades_localization_map(truth, {"v": np.full((25, 1), np.nan)}, ["A"])
    with pytest.raises(
        DataError, match=r"scores of video 'v': expected shape \[25 time points, 1 classes\]"
    ):
        charades_localization_map(truth, {"v": np.zeros((24, 1))}, ["A"])
    with pytest.raises(DataError, match=r"labels \['A'\] of the ground truth are not among"):
        charades_localization_map(truth, {"v": np.zeros((25, 1))}, ["B"])


def test_missing_video_ranks_last_with_a_warning():
    truth = {
        "database": {
            "v1": {"duration": 25.0, "annotations": [{"label": "A", "segment": [0.0, 24.5]}]},
            "v2": {"duration": 25.0, "annotations": [{"label": "A", "segment": [0.0, 24.5]}]},
        }
    }
    with pytest.warns(UserWarning, match="1 videos of all videos have no scores"):
        result = charades_localization_map(truth, {"v1": np.ones((25, 1))}, ["A"])
    # v1's 25 positives rank first (precision 1), v2's 25 positives follow: all positive -> 1.
    assert result.mAP == pytest.approx(1.0)
