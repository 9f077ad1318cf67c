"""Video-level recognition mAP (weakly supervised recognition, THUMOS14 / ActivityNet WSR)."""

from __future__ import annotations

import warnings

import numpy as np

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
    truth = load_ground_truth(ground_truth, subset)
    scores, name = load_recognition_results(predictions, truth.labels)
    unknown = [video for video in scores if video not in truth.videos]
    if unknown:
        warnings.warn(
            f"{name}: predictions for {len(unknown)} videos that are not in "
            f"{truth.describe_subset()} of {truth.name} (first: {unknown[0]!r}) are ignored",
            UnknownVideoWarning,
            stacklevel=2,
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
    return mean_average_precision("recognition", labels, matrix, positives)
