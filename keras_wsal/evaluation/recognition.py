"""Video-level recognition mAP (weakly supervised recognition, THUMOS14 / ActivityNet WSR)."""

from __future__ import annotations

import warnings

import numpy as np

from keras_wsal.errors import DataError
from keras_wsal.evaluation.average_precision import MeanAveragePrecision, mean_average_precision
from keras_wsal.evaluation.detection import UnknownVideoWarning
from keras_wsal.formats.annotations import load_ground_truth
from keras_wsal.formats.json_files import JsonSource
from keras_wsal.formats.results import load_recognition_results


def evaluate_recognition(
    ground_truth: JsonSource, predictions: JsonSource, subset: str | None = None
) -> MeanAveragePrecision:
    """Per-class AP over the subset's videos ranked by their video-level score, and the mean.

    The THUMOS classification toolkit's `THUMOSeventclspr` (non-interpolated AP): for class c, the
    subset's videos are ranked by their score for c (stable: equal scores keep annotation-file
    order; a video with no score for c ranks last, as the toolkit's `-inf`), a video is positive
    when one of its annotations has label c, and

        AP_c = (1 / #positives) · Σ_{positive video at rank n} precision@n.

    The mean is over the classes that have a positive video in the subset. ActivityNet's own
    classification evaluator interpolates the precision-recall curve instead; this function
    uses the THUMOS definition for every dataset, the one weakly supervised papers report.
    Predictions for videos outside the subset are ignored and counted in an `UnknownVideoWarning`.

    Args:
        ground_truth: annotation JSON path or dict (see `load_ground_truth`).
        predictions: `{"results": {VIDEO: [{"label": str, "score": float}, ...]}}`, path or dict
            (see `load_recognition_results`; `keras_wsal.inference.recognition_results` builds it).
        subset: evaluate the videos of this subset (case-insensitive); None: every video.

    Returns:
        `MeanAveragePrecision` with metric "recognition".

    Raises:
        DataError: a malformed annotation or result file, or an empty subset.
    """
    labels, matrix, positives = _score_matrix(ground_truth, predictions, subset)
    return mean_average_precision("recognition", labels, matrix, positives)


def recognition_hit_rates(
    ground_truth: JsonSource,
    predictions: JsonSource,
    top: tuple[int, ...] = (1, 3),
    subset: str | None = None,
) -> dict[int, float]:
    """ActivityNet's classification hit@k ("top-1", "top-3" accuracy) of video-level scores.

    For each video of the subset that has at least one label, its `k` labels of highest score
    (ties: class order) are a hit when one of them is one of the video's labels; hit@k is the
    share of hits. A video without predictions is a miss. Predictions for other videos are
    ignored (an `UnknownVideoWarning`).

    Returns:
        `{k: hit rate in [0, 1]}`; NaN for every k when no video has a label.

    Raises:
        DataError: as `evaluate_recognition`, or a k < 1.
    """
    if any(not isinstance(k, int) or k < 1 for k in top):
        raise DataError(f"top must hold integers >= 1; got {top!r}")
    _, matrix, positives = _score_matrix(ground_truth, predictions, subset)
    labelled = positives.any(axis=1)
    if not labelled.any():
        return {k: float("nan") for k in top}
    # Stable descending order: equal scores keep class order, as `ranked_labels`.
    order = np.argsort(-matrix[labelled], axis=1, kind="stable")
    truth = positives[labelled]
    rates = {}
    for k in top:
        best = order[:, :k]
        hits = np.take_along_axis(truth, best, axis=1) & np.isfinite(
            np.take_along_axis(matrix[labelled], best, axis=1)
        )
        rates[k] = float(hits.any(axis=1).mean())
    return rates


def _score_matrix(ground_truth: JsonSource, predictions: JsonSource, subset: str | None):
    """(labels, scores `[V, C]` with -inf for a missing score, positives `[V, C]` bool)."""
    truth = load_ground_truth(ground_truth, subset)
    scores, name = load_recognition_results(predictions, truth.labels)
    unknown = [video for video in scores if video not in truth.videos]
    if unknown:
        warnings.warn(
            f"{name}: predictions for {len(unknown)} videos that are not in "
            f"{truth.describe_subset()} of {truth.name} (first: {unknown[0]!r}) are ignored",
            UnknownVideoWarning,
            stacklevel=3,
        )
    labels = list(truth.classes)
    videos = list(truth.videos)
    matrix = np.array(
        [[scores.get(video, {}).get(label, -np.inf) for label in labels] for video in videos],
        dtype=np.float64,
    ).reshape(len(videos), len(labels))
    positives = np.array(
        [[label in truth.videos[video].labels for label in labels] for video in videos], dtype=bool
    ).reshape(len(videos), len(labels))
    return labels, matrix, positives
