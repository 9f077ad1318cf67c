"""Detection post-processing (WSD): planted curves give back their segments, exactly."""

import json

import numpy as np
import pytest

from keras_wsal.errors import DataError
from keras_wsal.evaluation import evaluate_detection
from keras_wsal.inference import (
    DetectionRule,
    PostProcessing,
    detect_segments,
    detection_results,
    group_snippets,
    outer_inner_score,
    select_classes,
    temporal_nms,
    untrimmednet_detections,
    write_detection_results,
    wsgn_detections,
)

CLASSES = ["A", "B"]


def _planted(num_snippets=40):
    scores = np.full((num_snippets, 2), 0.05)
    scores[8:16, 0] = 0.9  # A: snippets 8..15 -> [2.0, 4.0] s at 4 fps
    scores[20:30, 1] = 0.7  # B: snippets 20..29 -> [5.0, 7.5] s
    return scores


def test_planted_segments_come_back_with_exact_times():
    detections = detect_segments(_planted(), 4.0, CLASSES)
    assert detections == [
        {"label": "A", "score": pytest.approx(0.9), "segment": [2.0, 4.0]},
        {"label": "B", "score": pytest.approx(0.7), "segment": [5.0, 7.5]},
    ]


def test_untrimmednet_rule_removes_background_by_attention():
    attention = np.full((40, 1), 0.02)
    attention[11:13] = 5e-5  # below 1e-4: background, splits A into [8, 11) and [13, 16)
    detections = untrimmednet_detections(_planted(), attention, 4.0, CLASSES)
    assert sorted(d["segment"] for d in detections if d["label"] == "A") == [
        [2.0, 2.75],
        [3.25, 4.0],
    ]
    # attention exactly 1e-4 is kept (below the threshold is dropped)
    attention[11:13] = 1e-4
    detections = untrimmednet_detections(_planted(), attention, 4.0, CLASSES)
    assert [d["segment"] for d in detections if d["label"] == "A"] == [[2.0, 4.0]]
    # class score exactly 0.5 passes
    scores = np.zeros((4, 1))
    scores[1:3, 0] = 0.5
    assert untrimmednet_detections(scores, np.ones((4, 1)), 1.0, ["A"])[0]["segment"] == [1.0, 3.0]


def test_wsgn_rule_drops_segments_shorter_than_one_second():
    scores = np.zeros((40, 1))
    scores[2:5, 0] = 0.8  # 3 snippets = 0.75 s at 4 fps: dropped
    scores[10:14, 0] = 0.8  # 4 snippets = 1.0 s: kept
    detections = wsgn_detections(scores, 4.0, ["A"])
    assert [d["segment"] for d in detections] == [[2.5, 3.5]]


def test_relative_and_absolute_thresholds():
    scores = np.zeros((10, 1))
    scores[2:4, 0] = 0.4
    scores[6:8, 0] = 0.15
    # relative 0.5: threshold 0.2 (half the maximum 0.4) keeps only [2, 4)
    relative = detect_segments(scores, 1.0, ["A"], thresholds=0.5, relative=True)
    assert [d["segment"] for d in relative] == [[2.0, 4.0]]
    # absolute 0.1: both runs
    absolute = detect_segments(scores, 1.0, ["A"], thresholds=0.1)
    assert sorted(d["segment"] for d in absolute) == [[2.0, 4.0], [6.0, 8.0]]
    # a class that is 0 everywhere gives nothing under relative thresholds
    assert detect_segments(np.zeros((5, 1)), 1.0, ["A"], thresholds=0.5, relative=True) == []


def test_classes_chosen_from_video_scores():
    post = PostProcessing(class_threshold=0.1)
    detections = detect_segments(_planted(), 4.0, CLASSES, video_scores=[0.05, 0.9], post=post)
    assert [d["label"] for d in detections] == ["B"]
    post = PostProcessing(class_threshold=None, class_top_k=1)
    detections = detect_segments(_planted(), 4.0, CLASSES, video_scores=[0.6, 0.4], post=post)
    assert [d["label"] for d in detections] == ["A"]
    assert select_classes([0.3, 0.5, 0.3, 0.05], 0.1, None).tolist() == [1, 0, 2]
    assert select_classes([0.3, 0.5, 0.3, 0.05], None, 2).tolist() == [1, 0]


def test_outer_inner_contrast_by_hand():
    curve = np.array([0, 0, 0.2, 1, 1, 1, 1, 0.2, 0, 0])
    # [3, 7): length 4, flank round(0.25 * 4) = 1 on each side: 1 - mean(0.2, 0.2) = 0.8
    assert outer_inner_score(curve, 3, 7) == pytest.approx(0.8)
    # [0, 2) of [1, 1, 0.5, ...]: flank 1, only the right one exists: 1 - 0.5
    assert outer_inner_score(np.array([1, 1, 0.5, 0]), 0, 2) == pytest.approx(0.5)
    # the whole video: no flank, outer mean 0
    assert outer_inner_score(np.array([0.6, 0.6]), 0, 2) == pytest.approx(0.6)
    post = PostProcessing(segment_score="outer_inner")
    detections = detect_segments(curve[:, None], 1.0, ["A"], thresholds=0.5, post=post)
    assert detections == [{"label": "A", "score": pytest.approx(0.8), "segment": [3.0, 7.0]}]


def test_video_score_fusion():
    curve = np.array([[0.0], [0.8], [0.8], [0.0]])
    multiply = detect_segments(
        curve, 1.0, ["A"], video_scores=[0.5], post=PostProcessing(video_score_fusion="multiply")
    )
    add = detect_segments(
        curve, 1.0, ["A"], video_scores=[0.5], post=PostProcessing(video_score_fusion="add")
    )
    assert multiply[0]["score"] == pytest.approx(0.4)
    assert add[0]["score"] == pytest.approx(1.3)
    with pytest.raises(ValueError, match="needs video_scores"):
        detect_segments(curve, 1.0, ["A"], post=PostProcessing(video_score_fusion="add"))


def test_nms_by_hand():
    segments = np.array([[0, 10], [1, 11], [20, 30], [5, 15]], dtype=float)
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    # tIoU([0,10],[1,11]) = 9/11 > 0.5: suppressed; [5,15] vs [0,10] = 5/15, vs [20,30] = 0: kept.
    assert temporal_nms(segments, scores, 0.5).tolist() == [0, 2, 3]
    # at 0.3, 5/15 = 0.33 > 0.3 suppresses [5,15] too.
    assert temporal_nms(segments, scores, 0.3).tolist() == [0, 2]
    # equal scores: the first listed wins
    assert temporal_nms(
        np.array([[0, 10], [0, 10]], dtype=float), np.array([0.5, 0.5]), 0.5
    ).tolist() == [0]


def test_several_thresholds_unioned_then_nms():
    curve = np.array([[0.3], [0.3], [0.9], [0.9], [0.3], [0.3], [0.0], [0.0]])
    union = detect_segments(curve, 1.0, ["A"], thresholds=(0.2, 0.5))
    # 0.2 gives [0, 6) (mean 0.5), 0.5 gives [2, 4) (mean 0.9); a segment found twice is kept once
    assert [(d["segment"], round(d["score"], 6)) for d in union] == [
        ([2.0, 4.0], 0.9),
        ([0.0, 6.0], 0.5),
    ]
    twice = detect_segments(curve, 1.0, ["A"], thresholds=(0.5, 0.6))
    assert [d["segment"] for d in twice] == [[2.0, 4.0]]
    # NMS at 0.3: tIoU 2/6 > 0.3, the lower-scored [0, 6) goes
    suppressed = detect_segments(
        curve, 1.0, ["A"], thresholds=(0.2, 0.5), post=PostProcessing(nms_threshold=0.3)
    )
    assert [d["segment"] for d in suppressed] == [[2.0, 4.0]]


def test_edges_one_snippet_none_above_all_equal():
    assert detect_segments(np.array([[0.7]]), 2.0, ["A"]) == [
        {"label": "A", "score": 0.7, "segment": [0.0, 0.5]}
    ]
    assert detect_segments(np.array([[0.2]]), 2.0, ["A"]) == []
    assert detect_segments(np.full((6, 1), 0.1), 2.0, ["A"]) == []
    equal = detect_segments(np.full((6, 1), 0.6), 2.0, ["A"])
    assert equal == [{"label": "A", "score": pytest.approx(0.6), "segment": [0.0, 3.0]}]
    assert group_snippets(np.array([True, True, False, True])) == [(0, 2), (3, 4)]
    assert group_snippets(np.zeros(0, dtype=bool)) == []


def test_bad_inputs_name_the_video():
    with pytest.raises(DataError, match="video 'v9': detection_scores holds NaN"):
        detect_segments(np.array([[np.nan]]), 1.0, ["A"], video="v9")
    with pytest.raises(DataError, match="video 'v9': selection holds NaN"):
        untrimmednet_detections(
            np.ones((2, 1)), np.array([[np.nan], [1.0]]), 1.0, ["A"], video="v9"
        )
    with pytest.raises(DataError, match="video 'v9': 1 score columns but 2 classes"):
        detect_segments(np.ones((2, 1)), 1.0, ["A", "B"], video="v9")
    with pytest.raises(DataError, match="video 'v9': video scores hold NaN"):
        detect_segments(np.ones((2, 1)), 1.0, ["A"], video_scores=[np.nan], video="v9")
    with pytest.raises(ValueError, match="feature_fps must be a positive number"):
        detect_segments(np.ones((2, 1)), 0.0, ["A"])
    with pytest.raises(ValueError, match=r"relative thresholds must be in \(0, 1\]"):
        detect_segments(np.ones((2, 1)), 1.0, ["A"], thresholds=2.0, relative=True)
    with pytest.raises(ValueError, match="segment_score must be one of"):
        PostProcessing(segment_score="median")


def test_result_file_is_written_atomically_and_evaluates(tmp_path):
    detections = {"v": detect_segments(_planted(), 4.0, CLASSES)}
    path = write_detection_results(tmp_path / "out" / "results.json", detections)
    payload = json.loads(path.read_text())
    assert set(payload) == {"version", "results", "external_data"}
    truth = {
        "database": {
            "v": {
                "annotations": [
                    {"label": "A", "segment": [2.0, 4.0]},
                    {"label": "B", "segment": [5.0, 7.5]},
                ]
            }
        }
    }
    assert evaluate_detection(truth, path).mAP == [1.0] * 7
    before = path.read_text()
    bad = {"v": [{"label": "A", "score": float("nan"), "segment": [0.0, 1.0]}]}
    with pytest.raises(DataError, match="video 'v', detection 0"):
        write_detection_results(path, bad)
    assert path.read_text() == before  # the old file is untouched
    assert sorted(p.name for p in path.parent.iterdir()) == ["results.json"]  # no temporary left


def test_detection_results_rejects_start_after_end():
    with pytest.raises(DataError, match="video 'v', detection 0"):
        detection_results({"v": [{"label": "A", "score": 0.5, "segment": [2.0, 1.0]}]})


def _brute_force_nms(segments, scores, threshold):
    """The textbook greedy NMS over the full pairwise tIoU matrix (an independent reference)."""
    from keras_wsal.evaluation.tiou import segment_tiou as pairwise

    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    overlap = pairwise(segments, segments)
    kept = []
    for i in order:
        if all(overlap[i, j] <= threshold for j in kept):
            kept.append(i)
    return kept


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nms_equals_the_pairwise_reference_and_max_keep_is_its_prefix(seed):
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, 200, size=300)
    segments = np.stack([starts, starts + rng.integers(1, 30, size=300)], axis=1).astype(float)
    scores = np.round(rng.random(300), 2)  # rounded: many equal scores, kept in input order
    reference = _brute_force_nms(segments, scores, 0.3)
    assert temporal_nms(segments, scores, 0.3).tolist() == reference
    assert temporal_nms(segments, scores, 0.3, max_keep=7).tolist() == reference[:7]


def test_detection_time_is_linear_in_the_number_of_segments():
    """No quadratic step: 4 times the snippets (of noise: thousands of segments) must not take
    much more than 4 times as long. A ratio of counts of work, not a timing: the NMS visits each
    segment against the kept ones only, so its tIoU evaluations are bounded by N · K."""
    from keras_wsal.inference import detection

    calls = []
    real = detection.segment_tiou

    def counting(a, b):
        calls.append(len(np.atleast_2d(a)) * len(np.atleast_2d(b)))
        return real(a, b)

    rule = DetectionRule.named("default")
    counts = []
    for length in (1000, 4000):
        scores = np.random.default_rng(0).random((length, 3))
        calls.clear()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(detection, "segment_tiou", counting)
            _detect_outputs(rule, scores)
        counts.append(sum(calls))
    assert counts[1] <= 5 * counts[0], counts  # quadratic would be 16x


def _detect_outputs(rule, scores):
    from keras_wsal.inference.predict import VideoOutputs

    outputs = VideoOutputs("v", scores.mean(0), scores, np.ones_like(scores), scores)
    return rule.detect(outputs, 1.0, ["a", "b", "c"][: scores.shape[1]])
