"""A `DetectionRule` in TensorFlow ops, for a batch: the `detect` signature of an exported model.

`padded_detections` applies the same `keras_wsal.inference.DetectionRule` object that
`keras-wsal detect` applies with NumPy, to a batch of padded model outputs inside a graph, and
returns padded segment tensors equal to `rule.detect` run on each video cut to its length
(tested on random batches for every named rule):

1. the curve: `outputs[rule.curve]`, smoothed by a centred moving average of `rule.smoothing`
   steps over the valid steps that exist;
2. the class scores: the video prediction, or the mean of the top ⌈`top_k_ratio` · length⌉
   values of the curve; classes chosen by `class_top_k` and `class_threshold`;
3. per threshold θ (absolute; relative: θ · the class's maximum over the video, nothing when
   the maximum is <= 0; range: min + θ · (max − min)), active steps (eligible: selection >=
   `attention_threshold`) grouped into runs; runs shorter than `min_duration` seconds or
   `min_snippets` steps dropped; the runs of all thresholds unioned;
4. each segment scored (mean, max or outer-inner contrast of the curve) and fused with its
   class score (none, multiply or add);
5. class-wise greedy NMS, then per video the `max_detections` best segments, highest score first
   (equal scores: class order, then time — the order of the NumPy pipeline).

With `step_times` (a model on clips of varying length) a segment runs from the start of its first
clip to the end of its last, `min_duration` compares that span and NMS its seconds. Every
comparison and mean is computed in float64, as the NumPy pipeline does.
"""

from __future__ import annotations

from collections.abc import Mapping

import tensorflow as tf

from keras_wsal.formats.snippet_outputs import check_feature_fps
from keras_wsal.inference.detection_rule import DetectionRule

# A run is kept when its length in snippets is >= min_duration · fps minus this slack (as in
# `keras_wsal.inference.detect_segments`), so that 1 s at 1.25 snippets/s keeps 2-snippet runs;
# with step times, when its duration in seconds is >= min_duration minus this slack.
_DURATION_SLACK = 1e-9


def padded_detections(
    outputs: Mapping[str, tf.Tensor],
    length: tf.Tensor,
    rule: DetectionRule,
    *,
    feature_fps: float | None = None,
    step_times: tuple[tf.Tensor, tf.Tensor] | None = None,
) -> dict[str, tf.Tensor]:
    """The segments of a batch of videos under `rule`, as padded tensors (module docstring).

    Args:
        outputs: the model's outputs (`model.snippet_outputs`): `video_scores` `[B, C]` (read
            when `rule.class_score == "video"`), the curve `outputs[rule.curve]` `[B, T, C]`, and
            `selection` `[B, T, C or 1]` when `rule.attention_threshold` is set.
        length: int `[B]`, the number of valid steps of each video (the first `length[b]`).
        rule: the detection rule; its `post.max_detections` is N, the rows per video.
        feature_fps: steps per second: step t covers [t / fps, (t + 1) / fps) seconds.
        step_times: instead of `feature_fps`, the seconds each step covers, float `(start [B, T],
            end [B, T])`: the clips of a model on clips, in time order.

    Returns:
        `start`, `end` float32 `[B, N]` seconds, `class` int32 `[B, N]`, `score` float32
        `[B, N]` and `count` int32 `[B]`, the number of real rows of each video. Rows from
        `count[b]` on are padding: times and score 0, class -1.

    Raises:
        ValueError: not exactly one of `feature_fps` and `step_times`, a bad `feature_fps`, or a
            rule without `max_detections` (a graph returns a fixed number of rows).
    """
    if (feature_fps is None) == (step_times is None):
        raise ValueError(
            "give exactly one of feature_fps (steps of 1 / feature_fps seconds) and step_times "
            f"(each step's start and end); got feature_fps={feature_fps!r} and "
            f"step_times={'None' if step_times is None else 'tensors'}"
        )
    if feature_fps is not None:
        check_feature_fps(feature_fps)
    if not isinstance(rule, DetectionRule):
        raise ValueError(f"rule must be a DetectionRule; got {type(rule).__name__}")
    if rule.post.max_detections is None:
        raise ValueError(
            "the rule's max_detections is None: a graph returns a fixed number of rows per "
            "video; set it (rule.replace(max_detections=N))"
        )
    curve = tf.cast(outputs[rule.curve], tf.float64)
    batch, time, num_classes = tf.unstack(tf.shape(curve))
    length = tf.cast(length, tf.int32)
    valid = tf.sequence_mask(length, time)[:, :, None]
    curve = tf.where(valid, _smoothed(curve, length, rule.smoothing), 0.0)
    class_scores = _class_scores(outputs, curve, valid, length, rule)
    chosen = _chosen_classes(class_scores, rule)
    allowed = valid & chosen[:, None, :]
    if rule.attention_threshold is not None:
        selection = tf.cast(outputs["selection"], tf.float64)
        allowed = allowed & (selection >= rule.attention_threshold)
    runs = _runs_of_all_thresholds(curve, valid, allowed, rule)
    runs, start, end = _long_enough(runs, rule, feature_fps, step_times)
    score = _segment_scores(curve, length, runs, rule, class_scores)
    order = _ranked(runs, score)
    runs, start, end, score = (tf.gather(x, order) for x in (runs, start, end, score))
    if rule.post.nms_threshold is not None:
        spans = (
            tf.cast(runs[:, 2:], tf.float64) if step_times is None else tf.stack([start, end], 1)
        )
        kept = _greedy_nms(runs[:, 0] * tf.cast(num_classes, tf.int64) + runs[:, 1], spans, rule)
        runs, start, end, score = (tf.boolean_mask(x, kept) for x in (runs, start, end, score))
    return _padded(runs, start, end, score, batch, rule.post.max_detections)


def _smoothed(curve, length, width: int):
    """The centred moving average of `width` steps over the valid steps that exist."""
    if width == 1:
        return curve
    half = width // 2
    time = tf.shape(curve)[1]
    totals = tf.pad(tf.cumsum(curve, axis=1), [[0, 0], [1, 0], [0, 0]])
    steps = tf.range(time)[None, :]
    high = tf.minimum(steps + half + 1, length[:, None])
    low = tf.maximum(steps - half, 0) + tf.zeros_like(high)
    high = tf.maximum(high, low)  # padded steps: an empty window (their value is replaced by 0)
    sums = tf.gather(totals, high, batch_dims=1) - tf.gather(totals, low, batch_dims=1)
    counts = tf.cast(tf.maximum(high - low, 1), tf.float64)[:, :, None]
    return sums / counts


def _class_scores(outputs, curve, valid, length, rule: DetectionRule):
    """`[B, C]` float64: the video prediction, or the top-k mean of the curve."""
    if rule.class_score == "video":
        return tf.cast(outputs["video_scores"], tf.float64)
    k = tf.maximum(
        1, tf.cast(tf.math.ceil(rule.top_k_ratio * tf.cast(length, tf.float64)), tf.int32)
    )
    ranked = tf.sort(tf.where(valid, curve, -float("inf")), axis=1, direction="DESCENDING")
    ranked = tf.where(tf.math.is_finite(ranked), ranked, 0.0)
    top = tf.gather(tf.cumsum(ranked, axis=1), k - 1, axis=1, batch_dims=1)
    return top / tf.cast(k, tf.float64)[:, None]


def _chosen_classes(class_scores, rule: DetectionRule):
    """`[B, C]` bool: the classes to localise (`select_classes`)."""
    chosen = tf.ones_like(class_scores, tf.bool)
    if rule.post.class_top_k is not None:
        order = tf.argsort(class_scores, axis=1, direction="DESCENDING", stable=True)
        rank = tf.argsort(order, axis=1, stable=True)
        chosen = rank < rule.post.class_top_k
    if rule.post.class_threshold is not None:
        chosen = chosen & (class_scores >= rule.post.class_threshold)
    return chosen


def _runs_of_all_thresholds(curve, valid, allowed, rule: DetectionRule):
    """int64 `[M, 4]` (video, class, start, end) of every run over all thresholds, each once."""
    peak = tf.reduce_max(tf.where(valid, curve, -float("inf")), axis=1)[:, None, :]
    low = tf.reduce_min(tf.where(valid, curve, float("inf")), axis=1)[:, None, :]
    found = []
    for threshold in rule.thresholds:
        if rule.threshold_mode == "relative":
            active = (curve >= threshold * peak) & (peak > 0)
        elif rule.threshold_mode == "range":
            active = curve >= low + threshold * (peak - low)
        else:
            active = curve >= threshold
        found.append(_runs(tf.transpose(active & allowed, [0, 2, 1])))
    runs = tf.concat(found, axis=0)
    time = tf.cast(tf.shape(curve)[1], tf.int64) + 1
    classes = tf.cast(tf.shape(curve)[2], tf.int64)
    key = ((runs[:, 0] * classes + runs[:, 1]) * time + runs[:, 2]) * time + runs[:, 3]
    unique, index = tf.unique(key)
    first = tf.math.unsorted_segment_min(tf.range(tf.size(key)), index, tf.size(unique))
    return tf.gather(runs, first)


def _runs(active):
    """int64 `[M, 4]` (video, class, start, end) of the runs of `active` `[B, C, T]`."""
    padded = tf.pad(active, [[0, 0], [0, 0], [1, 1]])
    # tf.where lists positions in (video, class, time) order, so the k-th start and the k-th end
    # belong to the same run.
    start_at = tf.where(active & ~padded[:, :, :-2])
    end_at = tf.where(active & ~padded[:, :, 2:])
    return tf.concat([start_at, end_at[:, 2:] + 1], axis=1)


def _long_enough(runs, rule: DetectionRule, feature_fps, step_times):
    """The runs of at least `min_snippets` steps and `min_duration` seconds, with their times."""
    steps = runs[:, 3] - runs[:, 2]
    post = rule.post
    if step_times is None:
        start = tf.cast(runs[:, 2], tf.float64) / feature_fps
        end = tf.cast(runs[:, 3], tf.float64) / feature_fps
        shortest = max(post.min_duration * feature_fps - _DURATION_SLACK, post.min_snippets)
        keep = tf.cast(steps, tf.float64) >= shortest
    else:
        step_start, step_end = (tf.cast(times, tf.float64) for times in step_times)
        start = tf.gather_nd(step_start, tf.stack([runs[:, 0], runs[:, 2]], 1))
        end = tf.gather_nd(step_end, tf.stack([runs[:, 0], runs[:, 3] - 1], 1))
        keep = (end - start >= post.min_duration - _DURATION_SLACK) & (steps >= post.min_snippets)
    return tuple(tf.boolean_mask(x, keep) for x in (runs, start, end))


def _values(curve, runs, first, last):
    """A ragged `[M, None]` of `curve[video, first:last, class]` for each run."""
    ranges = tf.ragged.range(first, last)
    rows = tf.cast(ranges.value_rowids(), tf.int64)
    where = tf.stack(
        [tf.gather(runs[:, 0], rows), ranges.flat_values, tf.gather(runs[:, 1], rows)], 1
    )
    return tf.RaggedTensor.from_row_splits(tf.gather_nd(curve, where), ranges.row_splits)


def _segment_scores(curve, length, runs, rule: DetectionRule, class_scores):
    """float64 `[M]`: each run's score (`PostProcessing.segment_score`, then the fusion)."""
    post = rule.post
    first, last = runs[:, 2], runs[:, 3]
    inner = _values(curve, runs, first, last)
    if post.segment_score == "max":
        score = tf.reduce_max(inner, axis=1)
    else:
        score = tf.reduce_mean(inner, axis=1)
    if post.segment_score == "outer_inner":
        steps = tf.cast(last - first, tf.float64)
        flank = tf.maximum(tf.cast(tf.floor(post.outer_ratio * steps + 0.5), tf.int64), 1)
        video_length = tf.gather(tf.cast(length, tf.int64), runs[:, 0])
        before = _values(curve, runs, tf.maximum(first - flank, 0), first)
        after = _values(curve, runs, last, tf.minimum(last + flank, video_length))
        outer = tf.concat([before, after], axis=1)
        count = tf.cast(outer.row_lengths(), tf.float64)
        outer_mean = tf.math.divide_no_nan(tf.reduce_sum(outer, axis=1), count)
        score = score - outer_mean
    if post.video_score_fusion != "none":
        video_score = tf.gather_nd(class_scores, runs[:, :2])
        if post.video_score_fusion == "multiply":
            score = score * video_score
        else:
            score = score + post.video_score_weight * video_score
    return score


def _ranked(runs, score):
    """The order video, then score (high first), then class, start and end: NumPy's tie order."""
    order = tf.range(tf.shape(runs)[0])
    for key in (runs[:, 3], runs[:, 2], runs[:, 1]):
        order = tf.gather(order, tf.argsort(tf.gather(key, order), stable=True))
    order = tf.gather(
        order, tf.argsort(tf.gather(score, order), direction="DESCENDING", stable=True)
    )
    return tf.gather(order, tf.argsort(tf.gather(runs[:, 0], order), stable=True))


def _greedy_nms(group, spans, rule: DetectionRule):
    """`[M]` bool: greedy NMS within each group (video and class) over runs in ranked order.

    A run is kept unless its tIoU with an earlier kept run of its group is > the threshold
    (`keras_wsal.inference.temporal_nms`, whose visiting order the ranking reproduces).
    """
    threshold = tf.constant(rule.post.nms_threshold, tf.float64)
    count = tf.shape(group)[0]
    start, end = spans[:, 0], spans[:, 1]

    def visit(index, kept):
        overlap = tf.maximum(
            tf.minimum(end, end[index]) - tf.maximum(start, start[index]),
            tf.constant(0.0, tf.float64),
        )
        union = (end - start) + (end[index] - start[index]) - overlap
        tiou = tf.math.divide_no_nan(overlap, union)
        earlier = tf.range(count) < index
        suppressed = tf.reduce_any(kept & earlier & (group == group[index]) & (tiou > threshold))
        return index + 1, tf.tensor_scatter_nd_update(kept, [[index]], [~suppressed])

    _, kept = tf.while_loop(
        lambda index, kept: index < count, visit, (tf.constant(0), tf.zeros([count], tf.bool))
    )
    return kept


def _padded(runs, start, end, score, batch, max_detections: int):
    """The ranked runs as `[B, N]` padded tensors, the first N of each video."""
    video = tf.cast(runs[:, 0], tf.int32)
    per_video = tf.math.bincount(video, minlength=batch, maxlength=batch, dtype=tf.int32)
    rank = tf.range(tf.size(video)) - tf.gather(tf.cumsum(per_video, exclusive=True), video)
    shown = rank < max_detections
    rows = tf.boolean_mask(tf.stack([video, rank], axis=1), shown)
    shape = tf.stack([batch, max_detections])

    def place(values, dtype):
        return tf.scatter_nd(rows, tf.cast(tf.boolean_mask(values, shown), dtype), shape)

    filled = tf.scatter_nd(rows, tf.ones_like(rows[:, 0]), shape)
    return {
        "start": place(start, tf.float32),
        "end": place(end, tf.float32),
        "class": place(runs[:, 1], tf.int32) + filled - 1,
        "score": place(score, tf.float32),
        "count": tf.minimum(per_video, max_detections),
    }
