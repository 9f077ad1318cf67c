"""`padded_detections` (TensorFlow graph) against the NumPy detection pipeline and planted cases."""

import functools

import numpy as np
import pytest
import tensorflow as tf

from keras_wsal.export import padded_detections
from keras_wsal.inference import PostProcessing, untrimmednet_detections, wsgn_detections

CLASSES = ["a", "b", "c"]


@functools.cache
def traced(with_eligible, options):
    """`padded_detections` traced once per option set, with unknown batch and time (as `detect`)."""
    specs = [
        tf.TensorSpec([None, None], tf.float32),
        tf.TensorSpec([None, None, None], tf.float32),
        tf.TensorSpec([None], tf.int32),
    ]
    if with_eligible:
        specs.append(tf.TensorSpec([None, None, None], tf.bool))

    @tf.function(input_signature=specs)
    def graph(video_scores, curve, length, eligible=None):
        return padded_detections(video_scores, curve, length, eligible=eligible, **dict(options))

    return graph


def run_graph(video_scores, curve, length, eligible=None, **options):
    graph = traced(eligible is not None, tuple(sorted(options.items())))
    tensors = (video_scores, curve, length) + (() if eligible is None else (eligible,))
    return {name: value.numpy() for name, value in graph(*tensors).items()}


def rows(outputs, b):
    """Video b's detections as [(label, score, start, end)]."""
    count = int(outputs["count"][b])
    return [
        (
            CLASSES[int(outputs["class"][b, i])],
            float(outputs["score"][b, i]),
            float(outputs["start"][b, i]),
            float(outputs["end"][b, i]),
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


def assert_padding(outputs, b):
    count = int(outputs["count"][b])
    assert np.all(outputs["class"][b, count:] == -1)
    for name in ("start", "end", "score"):
        assert np.all(outputs[name][b, count:] == 0)


@pytest.mark.parametrize("rule", ["wsgn", "untrimmednet"])
def test_random_batches_equal_the_numpy_pipeline(rule):
    rng = np.random.default_rng(1)
    fps = 1.25
    compared = 0
    for _ in range(12):
        batch, time = 4, int(rng.integers(1, 40))
        video_scores = rng.random((batch, 3)).astype(np.float32)
        curve = (rng.random((batch, time, 3)) ** 2).astype(np.float32)
        attention = (
            rng.random((batch, time, 1)) * (rng.random((batch, time, 1)) > 0.2) * 2e-4
        ).astype(np.float32)
        length = rng.integers(1, time + 1, batch).astype(np.int32)
        if rule == "wsgn":
            outputs = run_graph(
                video_scores, curve, length, feature_fps=fps, relative=True, min_duration=1.0
            )
        else:
            outputs = run_graph(
                video_scores,
                curve,
                length,
                attention >= 1e-4,
                feature_fps=fps,
                relative=False,
                min_duration=0.0,
            )
        for b in range(batch):
            cut = slice(0, int(length[b]))
            if rule == "wsgn":
                expected = wsgn_detections(
                    curve[b, cut], fps, CLASSES, video_scores=video_scores[b]
                )
            else:
                expected = untrimmednet_detections(
                    curve[b, cut], attention[b, cut], fps, CLASSES, video_scores=video_scores[b]
                )
            assert_same_detections(rows(outputs, b), expected)
            assert_padding(outputs, b)
            compared += len(expected)
    assert compared > 50  # the comparison is not vacuous


def test_planted_segments_times_scores_and_order():
    # fps 2: class a has runs [1, 3) (mean 0.85) and [5, 8) (mean 0.6); its peak 0.9 gives the
    # level 0.45; [9, 10) is one snippet = 0.5 s < 1 s and is dropped. Class b's run [2, 5)
    # has mean 0.6 too: equal scores rank by class, so a's [5, 8) comes before b's.
    curve = np.zeros((1, 10, 3), np.float32)
    curve[0, :, 0] = [0, 0.8, 0.9, 0.1, 0, 0.6, 0.6, 0.6, 0, 0.5]
    curve[0, 2:5, 1] = 0.6
    video_scores = np.array([[0.9, 0.5, 0.05]], np.float32)  # class c is below 0.1: not localised
    curve[0, :, 2] = 1.0
    outputs = run_graph(
        video_scores, curve, np.array([10], np.int32), feature_fps=2.0, min_duration=1.0
    )
    got = rows(outputs, 0)
    assert [(g[0], g[2], g[3]) for g in got] == [("a", 0.5, 1.5), ("a", 2.5, 4.0), ("b", 1.0, 2.5)]
    np.testing.assert_allclose([g[1] for g in got], [0.85, 0.6, 0.6], rtol=1e-6)
    assert_same_detections(
        got, wsgn_detections(curve[0], 2.0, CLASSES, video_scores=video_scores[0])
    )
    assert outputs["class"].dtype == np.int32 and outputs["count"].dtype == np.int32
    assert outputs["score"].dtype == np.float32 and outputs["start"].shape == (1, 100)


def test_padding_is_ignored_and_max_detections_keeps_the_best():
    # Video 0 has 6 valid snippets; a high padded tail must neither add a segment nor raise the
    # peak. Three runs of class a; max_detections=2 keeps the two best, count 2.
    curve = np.zeros((2, 9, 3), np.float32)
    curve[0, :6, 0] = [0.9, 0, 0.7, 0, 0.8, 0]
    curve[0, 6:, 0] = 5.0
    curve[1, :, 1] = [0, 1, 1, 0, 0, 0, 0, 0, 0]
    video_scores = np.array([[1, 0, 0], [0, 1, 0]], np.float32)
    outputs = run_graph(
        video_scores,
        curve,
        np.array([6, 9], np.int32),
        feature_fps=1.0,
        min_duration=0.0,
        max_detections=2,
    )
    assert rows(outputs, 0) == [
        ("a", pytest.approx(0.9), 0.0, 1.0),
        ("a", pytest.approx(0.8), 4.0, 5.0),
    ]
    assert rows(outputs, 1) == [("b", 1.0, 1.0, 3.0)]
    assert outputs["count"].tolist() == [2, 1]
    assert_padding(outputs, 1)


def test_edges_one_snippet_no_peak_nan_and_empty_batch():
    one = run_graph(
        np.array([[1, 1, 1]], np.float32),
        np.array([[[0.3, 0.0, np.nan]]], np.float32),
        np.array([1], np.int32),
        feature_fps=1.0,
        min_duration=0.0,
    )
    # a: its one snippet is its own maximum; b: maximum 0 (relative: nothing); c: NaN, nothing.
    assert rows(one, 0) == [("a", pytest.approx(0.3), 0.0, 1.0)]
    absolute = run_graph(
        np.array([[1, 1, 1]], np.float32),
        np.array([[[0.6], [np.nan], [0.7]]], np.float32).repeat(3, axis=2),
        np.array([3], np.int32),
        feature_fps=1.0,
        relative=False,
        class_threshold=None,
        min_duration=0.0,
    )
    assert all(np.isfinite(absolute[name]).all() for name in ("start", "end", "score"))
    assert int(absolute["count"][0]) == 6  # two one-snippet runs per class, NaN splits them
    empty = run_graph(
        np.zeros((0, 3), np.float32),
        np.zeros((0, 5, 3), np.float32),
        np.zeros((0,), np.int32),
        feature_fps=1.0,
    )
    assert empty["start"].shape == (0, 100) and empty["count"].shape == (0,)


def test_untrimmednet_rule_respects_the_attention():
    curve = np.full((1, 4, 3), 0.9, np.float32)
    attention = np.array([[[1.0], [0.0], [1.0], [1.0]]], np.float32)
    outputs = run_graph(
        np.array([[1, 0, 0]], np.float32),
        curve,
        np.array([4], np.int32),
        attention >= 1e-4,
        feature_fps=1.0,
        relative=False,
        min_duration=0.0,
    )
    expected = untrimmednet_detections(
        curve[0], attention[0], 1.0, CLASSES, video_scores=[1, 0, 0], post=PostProcessing()
    )
    assert [(g[0], g[2], g[3]) for g in rows(outputs, 0)] == [("a", 0.0, 1.0), ("a", 2.0, 4.0)]
    assert_same_detections(rows(outputs, 0), expected)


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("feature_fps", 0.0, "feature_fps"),
        ("threshold", 1.5, "threshold"),
        ("min_duration", -1.0, "min_duration"),
        ("max_detections", 0, "max_detections"),
        ("class_threshold", float("nan"), "class_threshold"),
    ],
)
def test_bad_options_name_the_option(option, value, message):
    options = {"feature_fps": 1.0, option: value}
    with pytest.raises(ValueError, match=message):
        padded_detections(
            np.zeros((1, 3), np.float32), np.zeros((1, 2, 3), np.float32), np.array([2]), **options
        )
