"""Charades-style localisation mAP: per-class AP over 25 time points per video."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence

import numpy as np

from keras_wsal.errors import DataError
from keras_wsal.evaluation.average_precision import MeanAveragePrecision, mean_average_precision
from keras_wsal.evaluation.detection import UnknownVideoWarning
from keras_wsal.formats.annotations import load_ground_truth
from keras_wsal.formats.json_files import JsonSource

CHARADES_TIME_POINTS = 25


def charades_time_points(duration: float, num_points: int = CHARADES_TIME_POINTS) -> np.ndarray:
    """The times at which Charades_v1_localize.m scores a video: `(j - 1) / n · duration`, j = 1..n.

    Args:
        duration: the video's length in seconds (>= 0).
        num_points: n, 25 in the benchmark.

    Returns:
        float64 `[n]` seconds, from 0 up to (but excluding) `duration`.
    """
    return np.arange(num_points, dtype=np.float64) / num_points * float(duration)


def sample_snippet_scores(
    snippet_scores: np.ndarray,
    duration: float,
    feature_fps: float,
    num_points: int = CHARADES_TIME_POINTS,
) -> np.ndarray:
    """Per-snippet scores read at the Charades time points.

    Time point t falls in snippet `floor(t · feature_fps)` (snippet i covers
    [i / fps, (i + 1) / fps)); a point past the last snippet (a duration longer than
    T / fps) reads the last snippet. A 1e-9 tolerance keeps a point that lies on a snippet
    boundary, such as t = 9/25 · 10 s = 3.6 s at 25 fps (3.6 · 25 rounds to 89.99999999999999), in
    the snippet that starts there.

    Args:
        snippet_scores: float `[T, C]`, T >= 1.
        duration: the video's length in seconds.
        feature_fps: snippets per second (> 0).
        num_points: the number of time points (25).

    Returns:
        `[num_points, C]`, row j the scores of the snippet holding `charades_time_points(...)[j]`.
    """
    scores = np.asarray(snippet_scores)
    if scores.ndim != 2 or scores.shape[0] == 0:
        raise ValueError(f"snippet_scores must be [T, C] with T >= 1; got shape {scores.shape}")
    if not (math.isfinite(feature_fps) and feature_fps > 0):
        raise ValueError(f"feature_fps must be a positive number; got {feature_fps!r}")
    times = charades_time_points(duration, num_points)
    index = np.floor(times * feature_fps + 1e-9).astype(np.int64)
    return scores[np.clip(index, 0, scores.shape[0] - 1)]


def charades_localization_map(
    ground_truth: JsonSource,
    point_scores: Mapping[str, np.ndarray],
    classes: Sequence[str],
    subset: str | None = None,
    num_points: int = CHARADES_TIME_POINTS,
) -> MeanAveragePrecision:
    """Charades localisation mAP (Charades_v1_localize.m, used by WSGN's Table 1).

    Every video of the subset contributes `num_points` items, its time points
    `t_j = (j - 1) / 25 · duration`; class c is active at t_j when a ground-truth segment of c
    has `start <= t_j <= end`. Per class, all items are ranked by their score (stable: video in
    annotation-file order, then time order; a video without scores ranks last, the toolkit's
    `-inf`) and AP is the non-interpolated `THUMOSeventclspr`. Time points without any active
    class stay in the ranking as negatives, as in the toolkit. The mean is over the classes with
    at least one active time point (the toolkit would average a NaN for the others).

    Args:
        ground_truth: annotation JSON path or dict; every video of the subset needs "duration".
        point_scores: video → float `[num_points, C]` scores at the time points (from
            `sample_snippet_scores`). Videos missing here rank last (a warning counts them);
            videos not in the subset are ignored (a `UnknownVideoWarning` counts them).
        classes: the C labels of the score columns; must hold every label of the subset.
        subset: evaluate the videos of this subset (case-insensitive); None: every video.
        num_points: time points per video (25).

    Returns:
        `MeanAveragePrecision` with metric "charades_localization".

    Raises:
        DataError: a malformed annotation file, a video without duration, a ground-truth label not
            in `classes`, a score array of the wrong shape or with NaN/inf (naming the video).
    """
    truth = load_ground_truth(ground_truth, subset)
    labels = list(classes)
    column = {label: index for index, label in enumerate(labels)}
    missing_labels = [label for label in truth.classes if label not in column]
    if missing_labels:
        raise DataError(
            f"{truth.name}: labels {missing_labels} of the ground truth are not among the "
            f"{len(labels)} classes of the scores"
        )
    unknown = [video for video in point_scores if video not in truth.videos]
    if unknown:
        warnings.warn(
            f"scores for {len(unknown)} videos that are not in {truth.describe_subset()} of "
            f"{truth.name} (first: {unknown[0]!r}) are ignored",
            UnknownVideoWarning,
            stacklevel=2,
        )
    without_scores = [video for video in truth.videos if video not in point_scores]
    if without_scores:
        warnings.warn(
            f"{len(without_scores)} videos of {truth.describe_subset()} have no scores "
            f"(first: {without_scores[0]!r}); their time points rank last",
            UserWarning,
            stacklevel=2,
        )
    all_scores, all_positives = [], []
    for video, video_truth in truth.videos.items():
        if video_truth.duration is None:
            raise DataError(f"{truth.name}: video {video!r} has no 'duration' field")
        times = charades_time_points(video_truth.duration, num_points)
        positives = np.zeros((num_points, len(labels)), dtype=bool)
        for label, (start, end) in zip(video_truth.labels, video_truth.segments, strict=True):
            positives[:, column[label]] |= (start <= times) & (times <= end)
        all_positives.append(positives)
        all_scores.append(_video_point_scores(point_scores, video, (num_points, len(labels))))
    return mean_average_precision(
        "charades_localization", labels, np.concatenate(all_scores), np.concatenate(all_positives)
    )


def _video_point_scores(point_scores: Mapping, video: str, shape: tuple[int, int]) -> np.ndarray:
    if video not in point_scores:
        return np.full(shape, -np.inf)
    scores = np.asarray(point_scores[video], dtype=np.float64)
    if scores.shape != shape:
        raise DataError(
            f"scores of video {video!r}: expected shape [{shape[0]} time points, {shape[1]} "
            f"classes], got {list(scores.shape)}"
        )
    if not np.all(np.isfinite(scores)):
        raise DataError(f"scores of video {video!r}: NaN or infinite values")
    return scores
