"""The thumos14 protocol (TH14evalDet.m semantics) on hand-computed cases."""

import numpy as np
import pytest

from keras_wsal.evaluation import thumos14_average_precision


def _detections(*rows):
    grouped = {}
    for video, start, end, score in rows:
        grouped.setdefault(video, ([], []))
        grouped[video][0].append([start, end])
        grouped[video][1].append(score)
    return {
        v: (np.array(s, dtype=float), np.array(c, dtype=float)) for v, (s, c) in grouped.items()
    }


def test_ambiguous_intervals_drop_free_detections():
    truth = {"v": np.array([[0.0, 10.0]])}
    ambiguous = {"v": np.array([[20.0, 25.0]])}
    detections = _detections(
        ("v", 21, 24, 0.95),  # no ground truth, intersects the Ambiguous interval -> dropped
        ("v", 0, 10, 0.9),  # TP
        ("v", 40, 50, 0.7),  # FP
    )
    # With Ambiguous: ranked TP, FP -> AP = precision@1 / 1 = 1.
    # Without (the toolkit with no Ambiguous file): FP, TP, FP -> AP = precision@2 / 1 = 1/2.
    assert thumos14_average_precision(truth, ambiguous, detections, [0.5])[0] == pytest.approx(1.0)
    assert thumos14_average_precision(truth, {}, detections, [0.5])[0] == pytest.approx(0.5)


def test_ambiguous_keeps_true_positives_and_touching_detections():
    truth = {"v": np.array([[0.0, 10.0]])}
    ambiguous = {"v": np.array([[0.0, 10.0], [30.0, 40.0]])}
    detections = _detections(
        ("v", 40, 45, 0.95),  # touches the Ambiguous [30, 40] at one point only -> stays an FP
        ("v", 0, 10, 0.9),  # TP even though it lies on an Ambiguous interval
    )
    # FP, TP -> AP = 1/2.
    assert thumos14_average_precision(truth, ambiguous, detections, [0.5])[0] == pytest.approx(0.5)


def test_strict_overlap_threshold():
    truth = {"v": np.array([[0.0, 5.0]])}
    detections = _detections(("v", 0, 4, 0.9))  # overlap 4/5 = 0.8
    ap = thumos14_average_precision(truth, {}, detections, [0.7, 0.8])
    np.testing.assert_allclose(ap, [1.0, 0.0])  # 0.8 > 0.7 matches; 0.8 > 0.8 does not


def test_each_ground_truth_in_turn_takes_its_best_free_detection():
    truth = {"v": np.array([[0.0, 10.0], [4.0, 14.0]])}
    # overlaps: d1 [3,12]: g1 7/12, g2 8/11; d2 [5,14]: g1 5/14, g2 9/10.
    # g1 first takes its best free detection d1 (7/12 > 0.5); g2 then takes d2 (9/10).
    # Both TPs -> AP 1 (the activitynet protocol, greedy by score, gives 1/2 here).
    detections = _detections(("v", 3, 12, 0.9), ("v", 5, 14, 0.8))
    assert thumos14_average_precision(truth, {}, detections, [0.5])[0] == pytest.approx(1.0)


def test_equal_overlaps_go_to_the_higher_scored_detection():
    truth = {"v": np.array([[0.0, 10.0]])}
    # Two copies of the same segment: the ground truth takes the one ranked first (score 0.9);
    # ranked: TP (0.9), FP (0.4) -> AP 1. Were the other one taken, the ranking would be FP, TP.
    detections = _detections(("v", 0, 10, 0.4), ("v", 0, 10, 0.9))
    assert thumos14_average_precision(truth, {}, detections, [0.5])[0] == pytest.approx(1.0)


def test_ties_across_videos_follow_sorted_video_names():
    truth = {"b": np.array([[0.0, 10.0]])}
    # Equal scores: the toolkit concatenates videos in sorted name order, then sorts stably:
    # "a" (FP) before "b" (TP) whatever the file order -> AP = 1/2.
    detections = _detections(("b", 0, 10, 0.5), ("a", 0, 10, 0.5))
    assert thumos14_average_precision(truth, {}, detections, [0.5])[0] == pytest.approx(0.5)


def test_non_interpolated_ap_with_misses():
    truth = {"v": np.array([[0.0, 10.0], [20.0, 30.0], [40.0, 50.0]])}
    detections = _detections(("v", 0, 10, 0.9), ("v", 60, 70, 0.8), ("v", 20, 30, 0.7))
    # hits T,F,T with 3 positives -> (1 + 2/3) / 3 = 5/9.
    assert thumos14_average_precision(truth, {}, detections, [0.5])[0] == pytest.approx(5 / 9)


def test_class_without_detections_and_zero_length():
    truth = {"v": np.array([[0.0, 10.0], [5.0, 5.0]])}
    assert thumos14_average_precision(truth, {}, {}, [0.1, 0.5]).tolist() == [0.0, 0.0]
    detections = _detections(("v", 5, 5, 0.9))
    assert thumos14_average_precision(truth, {}, detections, [0.1])[0] == 0.0


def test_video_with_an_empty_detection_list():
    truth = {"v": np.array([[0.0, 10.0]])}
    detections = {
        "v": (np.zeros((0, 2)), np.zeros(0)),
        "w": (np.array([[0.0, 10.0]]), np.array([0.5])),
    }
    assert thumos14_average_precision(truth, {}, detections, [0.5])[0] == 0.0
