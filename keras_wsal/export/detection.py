"""The detection rule of `keras_wsal.inference.detect_segments` in TensorFlow ops, for a batch.

`padded_detections` turns a batch of padded model outputs into padded segment tensors, inside a
graph (a SavedModel signature), with the same result as the NumPy pipeline run on each video
cut to its length, for one threshold and no NMS:

1. classes to localise: those whose video score is >= `class_threshold` (every class when None);
2. per class, a snippet is active when its score is >= θ (absolute) or >= θ · the class's maximum
   over the video's valid snippets (`relative=True`; a class whose maximum is <= 0 gives
   nothing), and it is eligible (UntrimmedNet: attention >= 1e-4);
3. runs of consecutive active snippets [s, e) are segments; runs shorter than `min_duration`
   seconds are dropped (with `step_times`: end of the last step minus start of the first);
4. a segment's score is the mean score of its snippets; its times are s / fps and e / fps, or,
   with `step_times` (models on clips of varying length), the start of its first step and the
   end of its last;
5. per video, the `max_detections` best segments, highest score first (equal scores: class
   order, then time — the order of the NumPy pipeline).

Comparisons and means are computed in float64, as the NumPy pipeline does.
"""

from __future__ import annotations

import math

import tensorflow as tf

# A segment is kept when its length in snippets is >= min_duration · fps minus this slack (as in
# `keras_wsal.inference.detect_segments`), so that 1 s at 1.25 snippets/s keeps 2-snippet runs;
# with step times, when its duration in seconds is >= min_duration minus this slack.
_DURATION_SLACK = 1e-9


def padded_detections(
    video_scores: tf.Tensor,
    detection_scores: tf.Tensor,
    length: tf.Tensor,
    *,
    feature_fps: float | None = None,
    step_times: tuple[tf.Tensor, tf.Tensor] | None = None,
    threshold: float = 0.5,
    relative: bool = True,
    eligible: tf.Tensor | None = None,
    class_threshold: float | None = 0.1,
    min_duration: float = 0.0,
    max_detections: int = 100,
) -> dict[str, tf.Tensor]:
    """Segments of a batch of videos as padded tensors (module docstring for the rule).

    Args:
        video_scores: float `[B, C]`, choose the classes.
        detection_scores: float `[B, T, C]`, the curve that is thresholded and scores segments.
        length: int `[B]`, the number of valid snippets of each video (the first `length[b]`).
        feature_fps: snippets per second: step t covers [t / fps, (t + 1) / fps) seconds.
        step_times: instead of `feature_fps`, the seconds each step covers, float `(start [B, T],
            end [B, T])`: the clips of a model on clips, in time order.
        threshold: θ; in (0, 1] when `relative`.
        relative: threshold relative to each class's maximum over the video.
        eligible: optional bool `[B, T, C]` or `[B, T, 1]`: only these snippets may be active.
        class_threshold: localise classes whose video score is >= this (None: every class).
        min_duration: drop segments shorter than this many seconds.
        max_detections: N, the segments kept per video.

    Returns:
        A dict of tensors, N = `max_detections`: `start`, `end` float32 `[B, N]` seconds,
        `class` int32 `[B, N]`, `score` float32 `[B, N]` and `count` int32 `[B]`, the number of
        real rows of each video. Rows from `count[b]` on are padding: times and score 0, class -1.
        A video with no segment has count 0.

    Raises:
        ValueError: an option out of range, or not exactly one of `feature_fps` and `step_times`.
    """
    if (feature_fps is None) == (step_times is None):
        raise ValueError(
            "give exactly one of feature_fps (steps of 1 / feature_fps seconds) and step_times "
            f"(each step's start and end); got feature_fps={feature_fps!r} and "
            f"step_times={'None' if step_times is None else 'tensors'}"
        )
    check_detection_options(
        feature_fps=feature_fps,
        threshold=threshold,
        relative=relative,
        class_threshold=class_threshold,
        min_duration=min_duration,
        max_detections=max_detections,
    )
    curve = tf.cast(detection_scores, tf.float64)
    batch, time, num_classes = tf.unstack(tf.shape(curve))
    valid = tf.sequence_mask(length, time)[:, :, None]
    chosen = tf.ones([batch, num_classes], tf.bool)
    if class_threshold is not None:
        chosen = tf.cast(video_scores, tf.float64) >= class_threshold
    if relative:
        peak = tf.reduce_max(tf.where(valid, curve, -math.inf), axis=1)
        level = threshold * peak
        chosen = chosen & (peak > 0)
    else:
        level = tf.fill([batch, num_classes], tf.constant(threshold, tf.float64))
    active = (curve >= level[:, None, :]) & valid & chosen[:, None, :]
    if eligible is not None:
        active = active & tf.cast(eligible, tf.bool)
    return _ranked_segments(
        tf.transpose(active, [0, 2, 1]),
        tf.transpose(curve, [0, 2, 1]),
        batch,
        max_detections,
        min_duration,
        feature_fps,
        step_times,
    )


def _ranked_segments(active, curve, batch, max_detections, min_duration, feature_fps, step_times):
    """Runs of `active` `[B, C, T]` scored on `curve`, the best `max_detections` per video."""
    padded = tf.pad(active, [[0, 0], [0, 0], [1, 1]])
    starts = active & ~padded[:, :, :-2]
    ends = active & ~padded[:, :, 2:]
    # tf.where lists positions in (video, class, time) order, so the k-th start and the k-th end
    # belong to the same run, and runs come in the NumPy pipeline's tie order.
    start_at = tf.where(starts)
    end_at = tf.where(ends)
    active_at = tf.where(active)
    run_of_snippet = tf.cumsum(tf.cast(tf.gather_nd(starts, active_at), tf.int32)) - 1
    num_runs = tf.shape(start_at)[0]
    sums = tf.math.unsorted_segment_sum(tf.gather_nd(curve, active_at), run_of_snippet, num_runs)
    run_length = end_at[:, 2] + 1 - start_at[:, 2]
    if step_times is None:
        fps = tf.constant(feature_fps, tf.float64)
        start = tf.cast(start_at[:, 2], tf.float64) / fps
        end = tf.cast(end_at[:, 2] + 1, tf.float64) / fps
        keep = tf.cast(run_length, tf.float64) >= min_duration * feature_fps - _DURATION_SLACK
    else:
        step_start, step_end = (tf.cast(times, tf.float64) for times in step_times)
        # At the (video, time) of each run's first and of its last step.
        start = tf.gather_nd(step_start, tf.gather(start_at, [0, 2], axis=1))
        end = tf.gather_nd(step_end, tf.gather(end_at, [0, 2], axis=1))
        keep = end - start >= min_duration - _DURATION_SLACK
    video = tf.boolean_mask(tf.cast(start_at[:, 0], tf.int32), keep)
    fields = {
        "class": tf.boolean_mask(tf.cast(start_at[:, 1], tf.int32), keep),
        "start": tf.boolean_mask(start, keep),
        "end": tf.boolean_mask(end, keep),
        "score": tf.boolean_mask(sums / tf.cast(run_length, tf.float64), keep),
    }
    # Best first within each video: a stable sort by score, then a stable sort by video.
    order = tf.argsort(fields["score"], direction="DESCENDING", stable=True)
    order = tf.gather(order, tf.argsort(tf.gather(video, order), stable=True))
    video = tf.gather(video, order)
    per_video = tf.math.bincount(video, minlength=batch, maxlength=batch, dtype=tf.int32)
    rank = tf.range(tf.size(video)) - tf.gather(tf.cumsum(per_video, exclusive=True), video)
    shown = rank < max_detections
    rows = tf.boolean_mask(tf.stack([video, rank], axis=1), shown)
    shape = tf.stack([batch, max_detections])

    def place(values, dtype):
        kept = tf.boolean_mask(tf.gather(values, order), shown)
        return tf.scatter_nd(rows, tf.cast(kept, dtype), shape)

    filled = tf.scatter_nd(rows, tf.ones_like(rows[:, 0]), shape)
    return {
        "start": place(fields["start"], tf.float32),
        "end": place(fields["end"], tf.float32),
        "class": place(fields["class"], tf.int32) + filled - 1,
        "score": place(fields["score"], tf.float32),
        "count": tf.minimum(per_video, max_detections),
    }


def check_detection_options(
    *,
    feature_fps: float | None,
    threshold: float,
    relative: bool,
    class_threshold: float | None,
    min_duration: float,
    max_detections: int,
) -> None:
    """A ValueError naming the first of `padded_detections`' options that is out of range.

    `feature_fps` may be None (the steps' times are given as tensors, `step_times`).
    """

    def finite(value):
        return (
            isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        )

    if feature_fps is not None and not (finite(feature_fps) and feature_fps > 0):
        raise ValueError(f"feature_fps must be a positive number or None; got {feature_fps!r}")
    if not finite(threshold) or (relative and not 0.0 < threshold <= 1.0):
        expected = "in (0, 1] (relative)" if relative else "a finite number"
        raise ValueError(f"threshold must be {expected}; got {threshold!r}")
    if class_threshold is not None and not finite(class_threshold):
        raise ValueError(
            f"class_threshold must be a finite number or None; got {class_threshold!r}"
        )
    if not (finite(min_duration) and min_duration >= 0):
        raise ValueError(f"min_duration must be seconds >= 0; got {min_duration!r}")
    if (
        isinstance(max_detections, bool)
        or not isinstance(max_detections, int)
        or max_detections < 1
    ):
        raise ValueError(f"max_detections must be an int >= 1; got {max_detections!r}")
