"""`padded_detections` (a `DetectionRule` in TensorFlow ops) against the NumPy rule and planted
cases."""

import functools

import numpy as np
import pytest
import tensorflow as tf

from keras_wsal.export import padded_detections
from keras_wsal.inference import DetectionRule, VideoOutputs

CLASSES = ["a", "b", "c"]
FIELDS = ("video_scores", "snippet_scores", "detection_scores", "selection")


@functools.cache
def traced(rule, feature_fps):
    """`padded_detections` traced once per rule, with unknown batch and time (as `detect`)."""
    specs = {
        "video_scores": tf.TensorSpec([None, None], tf.float32),
        "snippet_scores": tf.TensorSpec([None, None, None], tf.float32),
        "detection_scores": tf.TensorSpec([None, None, None], tf.float32),
        "selection": tf.TensorSpec([None, None, None], tf.float32),
    }

    @tf.function(input_signature=[specs, tf.TensorSpec([None], tf.int32)])
    def graph(outputs, length):
        return padded_detections(outputs, length, rule, feature_fps=feature_fps)

    return graph


def run_graph(outputs, length, rule, feature_fps=1.0):
    tensors = {name: np.asarray(outputs[name], np.float32) for name in FIELDS}
    found = traced(rule, feature_fps)(tensors, np.asarray(length, np.int32))
    return {name: value.numpy() for name, value in found.items()}


def batch_outputs(curve, video_scores=None, selection=None):
    """Model outputs with `curve` as both curves; all classes scored 1 unless given."""
    curve = np.asarray(curve, np.float32)
    batch, time, classes = curve.shape
    return {
        "video_scores": np.ones((batch, classes)) if video_scores is None else video_scores,
        "snippet_scores": curve,
        "detection_scores": curve,
        "selection": np.ones((batch, time, 1)) if selection is None else selection,
    }


def rows(found, b):
    """Video b's detections as [(label, score, start, end)]."""
    count = int(found["count"][b])
    return [
        (
            CLASSES[int(found["class"][b, i])],
            float(found["score"][b, i]),
            float(found["start"][b, i]),
            float(found["end"][b, i]),
        )
        for i in range(count)
    ]


def assert_same_detections(got, expected):
    assert [g[0] for g in got] == [d["label"] for d in expected]
    np.testing.assert_allclose(
        [g[1] for g in got], [d["score"] for d in expected], rtol=1e-6, atol=1e-7
    )
    np.testing.assert_allclose(
        np.reshape([g[2:] for g in got], (-1, 2)),
        np.reshape([d["segment"] for d in expected], (-1, 2)),
        rtol=1e-6,
    )


def assert_padding(found, b):
    count = int(found["count"][b])
    assert np.all(found["class"][b, count:] == -1)
    for name in ("start", "end", "score"):
        assert np.all(found[name][b, count:] == 0)


RULES = {
    "default": DetectionRule.named("default"),
    "untrimmednet": DetectionRule.named("untrimmednet").replace(max_detections=100),
    "wsgn": DetectionRule.named("wsgn").replace(max_detections=100),
    "wtalc": DetectionRule.named("wtalc").replace(max_detections=100),
    "default-top-k": DetectionRule.named("default").replace(class_score="top_k"),
    "custom": DetectionRule(
        curve="detection_scores",
        smoothing=5,
        class_score="top_k",
        top_k_ratio=0.3,
        thresholds=(0.2, 0.6),
        threshold_mode="absolute",
        attention_threshold=1e-4,
    ).replace(class_top_k=2, segment_score="max", nms_threshold=0.5, max_detections=7),
}


@pytest.mark.parametrize("name", sorted(RULES))
def test_random_batches_equal_the_numpy_rule(name):
    rule = RULES[name]
    rng = np.random.default_rng(1)
    fps = 1.25
    compared = 0
    for _ in range(10):
        batch, time = 4, int(rng.integers(1, 40))
        scores = rng.random((batch, time, 3)) ** 2
        logits = rng.normal(size=(batch, time, 3))
        outputs = {
            "video_scores": rng.random((batch, 3)),
            "snippet_scores": scores,
            "detection_scores": logits
            if name == "wtalc"
            else scores * rng.random((batch, time, 3)),
            "selection": rng.random((batch, time, 1)) * (rng.random((batch, time, 1)) > 0.2) * 2e-4,
        }
        outputs = {key: value.astype(np.float32) for key, value in outputs.items()}
        length = rng.integers(1, time + 1, batch)
        found = run_graph(outputs, length, rule, fps)
        for b in range(batch):
            cut = int(length[b])
            video = VideoOutputs(
                f"v{b}",
                outputs["video_scores"][b],
                outputs["snippet_scores"][b, :cut],
                outputs["selection"][b, :cut],
                outputs["detection_scores"][b, :cut],
            )
            expected = rule.detect(video, fps, CLASSES)
            assert_same_detections(rows(found, b), expected[: rule.post.max_detections])
            assert_padding(found, b)
            compared += len(expected)
    assert compared > 30  # the comparison is not vacuous


def test_planted_segments_times_scores_and_order():
    # fps 2: class a has runs [1, 3) (mean 0.85) and [5, 8) (mean 0.6); its peak 0.9 gives the
    # level 0.45; [9, 10) is one snippet = 0.5 s < 1 s and is dropped. Class b's run [2, 5)
    # has mean 0.6 too: equal scores rank by class, so a's [5, 8) comes before b's.
    curve = np.zeros((1, 10, 3), np.float32)
    curve[0, :, 0] = [0, 0.8, 0.9, 0.1, 0, 0.6, 0.6, 0.6, 0, 0.5]
    curve[0, 2:5, 1] = 0.6
    curve[0, :, 2] = 1.0
    video_scores = np.array([[0.9, 0.5, 0.05]], np.float32)  # class c is below 0.1: not localised
    found = run_graph(batch_outputs(curve, video_scores), [10], RULES["wsgn"], 2.0)
    got = rows(found, 0)
    assert [(g[0], g[2], g[3]) for g in got] == [("a", 0.5, 1.5), ("a", 2.5, 4.0), ("b", 1.0, 2.5)]
    np.testing.assert_allclose([g[1] for g in got], [0.85, 0.6, 0.6], rtol=1e-6)
    assert found["class"].dtype == np.int32 and found["count"].dtype == np.int32
    assert found["score"].dtype == np.float32 and found["start"].shape == (1, 100)


def test_default_rule_by_hand_smoothing_union_outer_inner_and_nms():
    # One class, 8 snippets at fps 1, smoothed over 3: [0, .4, .8, .8, .4, 0, 0, 0]. Its video
    # prediction is 0.8 (class score). Thresholds 0.1..0.9 of 0.8 give the runs [1, 5)
    # (θ <= 0.5) and [2, 4) (θ >= 0.6). Outer-inner: [1, 5) mean .6, flanks of 1: (0 + 0) / 2 →
    # .6; [2, 4): .8 - (.4 + .4) / 2 = .4. × 0.8: 0.48 and 0.32. tIoU 0.5 > 0.3: NMS keeps [1, 5).
    curve = np.zeros((1, 8, 1), np.float32)
    curve[0, 2:4, 0] = 1.2
    rule = DetectionRule.named("default")
    outputs = batch_outputs(curve)
    outputs["video_scores"] = np.full((1, 1), 0.8, np.float32)
    found = run_graph(outputs, [8], rule)
    assert int(found["count"][0]) == 1
    np.testing.assert_allclose(
        [found["start"][0, 0], found["end"][0, 0], found["score"][0, 0]], [1, 5, 0.48], rtol=1e-6
    )
    without_nms = run_graph(outputs, [8], rule.replace(nms_threshold=None))
    np.testing.assert_allclose(without_nms["score"][0, :2], [0.48, 0.32], rtol=1e-6)


def test_padding_is_ignored_and_max_detections_keeps_the_best():
    # Video 0 has 6 valid snippets; a high padded tail must neither add a segment nor raise the
    # peak. Three runs of class a; max_detections=2 keeps the two best, count 2.
    curve = np.zeros((2, 9, 3), np.float32)
    curve[0, :6, 0] = [0.9, 0, 0.7, 0, 0.8, 0]
    curve[0, 6:, 0] = 5.0
    curve[1, :, 1] = [0, 1, 1, 0, 0, 0, 0, 0, 0]
    video_scores = np.array([[1, 0, 0], [0, 1, 0]], np.float32)
    rule = RULES["wsgn"].replace(min_duration=0.0, max_detections=2)
    found = run_graph(batch_outputs(curve, video_scores), [6, 9], rule)
    assert rows(found, 0) == [
        ("a", pytest.approx(0.9), 0.0, 1.0),
        ("a", pytest.approx(0.8), 4.0, 5.0),
    ]
    assert rows(found, 1) == [("b", 1.0, 1.0, 3.0)]
    assert found["count"].tolist() == [2, 1]
    assert_padding(found, 1)


def test_edges_one_snippet_no_peak_nan_and_empty_batch():
    rule = RULES["wsgn"].replace(min_duration=0.0)
    one = run_graph(batch_outputs([[[0.3, 0.0, np.nan]]]), [1], rule)
    # a: its one snippet is its own maximum; b: maximum 0 (relative: nothing); c: NaN, nothing.
    assert rows(one, 0) == [("a", pytest.approx(0.3), 0.0, 1.0)]
    curve = np.array([[[0.6], [np.nan], [0.7]]], np.float32).repeat(3, axis=2)
    absolute = run_graph(
        batch_outputs(curve), [3], rule.replace(threshold_mode="absolute", class_threshold=None)
    )
    assert all(np.isfinite(absolute[name]).all() for name in ("start", "end", "score"))
    assert int(absolute["count"][0]) == 6  # two one-snippet runs per class, NaN splits them
    empty = run_graph(batch_outputs(np.zeros((0, 5, 3))), np.zeros((0,)), rule)
    assert empty["start"].shape == (0, 100) and empty["count"].shape == (0,)


def test_untrimmednet_rule_respects_the_attention():
    curve = np.full((1, 4, 3), 0.9, np.float32)
    attention = np.array([[[1.0], [0.0], [1.0], [1.0]]], np.float32)
    found = run_graph(
        batch_outputs(curve, np.array([[1, 0, 0]], np.float32), attention),
        [4],
        RULES["untrimmednet"],
    )
    assert [(g[0], g[2], g[3]) for g in rows(found, 0)] == [("a", 0.0, 1.0), ("a", 2.0, 4.0)]


def test_bad_arguments_name_what_is_wrong():
    outputs = batch_outputs(np.zeros((1, 2, 3)))
    with pytest.raises(ValueError, match="feature_fps"):
        padded_detections(outputs, np.array([2]), RULES["wsgn"], feature_fps=0.0)
    with pytest.raises(ValueError, match="max_detections is None"):
        padded_detections(outputs, np.array([2]), DetectionRule.named("wsgn"), feature_fps=1.0)
    with pytest.raises(ValueError, match="exactly one of feature_fps"):
        padded_detections(outputs, np.array([2]), RULES["wsgn"])
    with pytest.raises(ValueError, match="must be a DetectionRule"):
        padded_detections(outputs, np.array([2]), "wsgn", feature_fps=1.0)
