"""Prediction files: ActivityNet detection and classification result JSON, validated.

Detection results (what `keras-wsal detect` writes, ActivityNet's submission format)::

    {"results": {VIDEO: [{"label": str, "score": float, "segment": [start_s, end_s]}, ...]}}

Recognition (video-level) results, ActivityNet's classification format::

    {"results": {VIDEO: [{"label": str, "score": float}, ...]}}

Other top-level fields ("version", "external_data") are ignored.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from keras_wsal.errors import DataError
from keras_wsal.evaluation._json import (
    JsonSource,
    entry_field,
    finite_number,
    label_field,
    load_json_object,
    segment_pair,
)
from keras_wsal.evaluation.annotations import AMBIGUOUS


@dataclass(frozen=True)
class VideoDetections:
    """The detections of one video, in file order.

    Attributes:
        labels: the label of each detection.
        segments: float64 `[N, 2]`, `[start, end]` seconds.
        scores: float64 `[N]`, confidences.
    """

    labels: tuple[str, ...]
    segments: np.ndarray
    scores: np.ndarray


@dataclass(frozen=True)
class DetectionResults:
    """A detection result file: `name` (path, or "predictions") and video id → detections."""

    name: str
    videos: dict[str, VideoDetections]


def load_detection_results(source: JsonSource, labels: Collection[str]) -> DetectionResults:
    """Read and validate ActivityNet detection results.

    Args:
        source: path of the result JSON, or the loaded dict.
        labels: the labels a detection may carry (`GroundTruth.labels`).

    Returns:
        The `DetectionResults`, videos and detections in file order.

    Raises:
        DataError: malformed JSON; a missing or mistyped field; an unknown label; a non-finite
            score; a segment with start > end (the message names the video, the prediction's index
            and the field).
        FileNotFoundError: `source` is a path that does not exist.
    """
    results, name = load_json_object(source, "predictions", "results")
    known = frozenset(labels)
    videos = {}
    for video_id, entries in results.items():
        video_labels, segments, scores = [], [], []
        for entry, where in _entries(entries, f"{name}: video {video_id!r}"):
            video_labels.append(_known_label(entry, where, known))
            scores.append(finite_number(entry_field(entry, "score", where), where, "score"))
            segments.append(segment_pair(entry_field(entry, "segment", where), where))
        videos[video_id] = VideoDetections(
            labels=tuple(video_labels),
            segments=np.array(segments, dtype=np.float64).reshape(-1, 2),
            scores=np.array(scores, dtype=np.float64),
        )
    return DetectionResults(name, videos)


def load_recognition_results(
    source: JsonSource, labels: Collection[str]
) -> tuple[dict[str, dict[str, float]], str]:
    """Read and validate ActivityNet classification results.

    Args:
        source: path of the result JSON, or the loaded dict.
        labels: the labels a prediction may carry (`GroundTruth.labels`).

    Returns:
        `(scores, name)`: video id → {label: score}, and the file path (or "predictions").

    Raises:
        DataError: malformed JSON; a missing or mistyped field; an unknown label; a label listed
            twice for one video; a non-finite score.
        FileNotFoundError: `source` is a path that does not exist.
    """
    results, name = load_json_object(source, "predictions", "results")
    known = frozenset(labels)
    scores: dict[str, dict[str, float]] = {}
    for video_id, entries in results.items():
        video_scores: dict[str, float] = {}
        for entry, where in _entries(entries, f"{name}: video {video_id!r}"):
            label = _known_label(entry, where, known)
            if label in video_scores:
                raise DataError(f"{where}, field 'label': label {label!r} is listed twice")
            video_scores[label] = finite_number(entry_field(entry, "score", where), where, "score")
        scores[video_id] = video_scores
    return scores, name


def _entries(entries: object, where: str):
    if not isinstance(entries, list):
        raise DataError(f"{where}: expected a list of predictions, got {entries!r}")
    for index, entry in enumerate(entries):
        yield entry, f"{where}, prediction {index}"


def _known_label(entry: object, where: str, known: frozenset) -> str:
    label = label_field(entry, where)
    if label == AMBIGUOUS:
        raise DataError(
            f"{where}, field 'label': {AMBIGUOUS!r} marks ground-truth intervals only and is "
            "never a predicted class"
        )
    if label not in known:
        names = sorted(known)
        shown = ", ".join(names[:10]) + (f", ... ({len(names)} in all)" if len(names) > 10 else "")
        raise DataError(
            f"{where}, field 'label': unknown label {label!r} (the ground truth has: {shown})"
        )
    return label
