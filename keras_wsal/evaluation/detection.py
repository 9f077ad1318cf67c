"""Temporal action detection mAP under the ActivityNet or the THUMOS14 protocol."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from keras_wsal.evaluation.activitynet import activitynet_average_precision
from keras_wsal.evaluation.thumos14 import thumos14_average_precision
from keras_wsal.formats.annotations import GroundTruth, load_ground_truth
from keras_wsal.formats.json_files import JsonSource
from keras_wsal.formats.results import DetectionResults, load_detection_results

PROTOCOLS = ("activitynet", "thumos14")
DEFAULT_TIOU_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)


class UnknownVideoWarning(UserWarning):
    """Predictions were given for videos that are not in the evaluated ground truth."""


@dataclass(frozen=True)
class DetectionEvaluation:
    """Detection mAP at each tIoU threshold.

    Attributes:
        protocol: "activitynet" or "thumos14".
        tiou: the tIoU thresholds.
        mAP: per threshold, the mean over classes of the per-class AP (fractions in [0, 1]).
        average_mAP: the mean of `mAP` over thresholds.
        per_class_AP: label → its AP at each threshold, for every class with ground truth in the
            evaluated subset.
        subset: the subset evaluated (None: every video).
        num_videos: the number of ground-truth videos evaluated.
        unknown_videos: videos that have predictions but are not in the evaluated ground truth
            (their predictions counted as false positives).
    """

    protocol: str
    tiou: list[float]
    mAP: list[float]
    average_mAP: float
    per_class_AP: dict[str, list[float]]
    subset: str | None = None
    num_videos: int = 0
    unknown_videos: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        """`{"protocol", "tiou", "mAP", "average_mAP", "per_class_AP"}`, JSON-serialisable."""
        return {
            "protocol": self.protocol,
            "tiou": list(self.tiou),
            "mAP": list(self.mAP),
            "average_mAP": self.average_mAP,
            "per_class_AP": {label: list(ap) for label, ap in self.per_class_AP.items()},
        }


def evaluate_detection(
    ground_truth: JsonSource,
    predictions: JsonSource,
    protocol: str = "activitynet",
    tiou_thresholds: Sequence[float] = DEFAULT_TIOU_THRESHOLDS,
    subset: str | None = None,
) -> DetectionEvaluation:
    """Mean average precision of temporal detections against annotated segments.

    For every class with at least one ground-truth segment in the subset and every threshold θ,
    the class's AP is computed by the protocol; mAP(θ) is the mean over those classes (a class
    without predictions counts with AP 0) and `average_mAP` the mean of mAP(θ) over θ.

    - "activitynet": ActivityNet's `eval_detection.py` (`activitynet_average_precision`): greedy
      matching by score to the unmatched ground truth of highest tIoU when tIoU >= θ, AP from the
      interpolated precision-recall curve. The official code's check of blocked videos on a server
      is not reproduced.
    - "thumos14": the THUMOS14 toolkit `TH14evalDet.m` (`thumos14_average_precision`): each
      ground truth takes the free detection of maximum overlap when overlap > θ, free detections
      that intersect an "Ambiguous" interval are dropped, non-interpolated AP.

    Predictions for videos that are not in the evaluated ground truth (another subset, or unknown)
    are false positives under both protocols, as in the official code, and are reported by an
    `UnknownVideoWarning` that counts them. Predicted labels must be labels of the annotation file
    (any subset); labels with no ground truth in the subset are not evaluated.

    Args:
        ground_truth: annotation JSON path or dict (see `load_ground_truth`).
        predictions: ActivityNet detection result JSON path or dict (see
            `load_detection_results`).
        protocol: "activitynet" or "thumos14".
        tiou_thresholds: thresholds in (0, 1], at least one.
        subset: evaluate the videos of this subset (case-insensitive); None: every video.

    Returns:
        The `DetectionEvaluation`.

    Raises:
        DataError: a malformed annotation or result file (see the loaders), or an empty subset.
        ValueError: an unknown protocol, or thresholds outside (0, 1].
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}; got {protocol!r}")
    thresholds = check_tiou_thresholds(tiou_thresholds)
    truth = load_ground_truth(ground_truth, subset)
    results = load_detection_results(predictions, truth.labels)
    unknown = _warn_unknown_videos(truth, results)
    ambiguous = {video: video_truth.ambiguous for video, video_truth in truth.videos.items()}
    per_class = {}
    for label in truth.classes:
        class_truth = {
            video: video_truth.segments[np.array(video_truth.labels) == label]
            for video, video_truth in truth.videos.items()
            if label in video_truth.labels
        }
        class_detections = {}
        for video, detections in results.videos.items():
            chosen = np.array(detections.labels) == label
            if chosen.any():
                class_detections[video] = (detections.segments[chosen], detections.scores[chosen])
        if protocol == "activitynet":
            ap = activitynet_average_precision(class_truth, class_detections, thresholds)
        else:
            ap = thumos14_average_precision(class_truth, ambiguous, class_detections, thresholds)
        per_class[label] = [float(value) for value in ap]
    mean_ap = np.mean(np.array(list(per_class.values())), axis=0)
    return DetectionEvaluation(
        protocol=protocol,
        tiou=list(thresholds),
        mAP=[float(value) for value in mean_ap],
        average_mAP=float(np.mean(mean_ap)),
        per_class_AP=per_class,
        subset=subset,
        num_videos=len(truth.videos),
        unknown_videos=unknown,
    )


def check_tiou_thresholds(tiou_thresholds: Sequence[float]) -> list[float]:
    """The thresholds as floats; ValueError unless a non-empty sequence of numbers in (0, 1]."""
    thresholds = list(tiou_thresholds)
    if not thresholds:
        raise ValueError("tIoU thresholds: expected at least one number in (0, 1]; got none")
    for value in thresholds:
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float, np.floating, np.integer))
            or not math.isfinite(value)
            or not 0.0 < value <= 1.0
        ):
            raise ValueError(f"tIoU thresholds must be numbers in (0, 1]; got {value!r}")
    return [float(value) for value in thresholds]


def _warn_unknown_videos(truth: GroundTruth, results: DetectionResults) -> tuple[str, ...]:
    unknown = tuple(
        video
        for video, detections in results.videos.items()
        if video not in truth.videos and len(detections.labels) > 0
    )
    if unknown:
        count = sum(len(results.videos[video].labels) for video in unknown)
        warnings.warn(
            f"{results.name}: {count} predictions for {len(unknown)} videos that are not in "
            f"{truth.describe_subset()} of {truth.name} (first: {unknown[0]!r}) are counted as "
            "false positives, as the official evaluation code does",
            UnknownVideoWarning,
            stacklevel=2,
        )
    return unknown
