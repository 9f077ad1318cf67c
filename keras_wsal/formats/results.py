"""Prediction files: ActivityNet detection and classification result JSON, validated.

Detection results (what `keras-wsal detect` writes, ActivityNet's submission format)::

    {"results": {VIDEO: [{"label": str, "score": float, "segment": [start_s, end_s]}, ...]}}

Recognition (video-level) results, ActivityNet's classification format::

    {"results": {VIDEO: [{"label": str, "score": float}, ...]}}

Other top-level fields ("version", "external_data") are ignored when reading; `detection_results`
writes the ones ActivityNet's evaluator requires. The writer checks each entry with the reader's
own field checks, so every file keras_wsal writes reads back.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from keras_wsal.errors import DataError
from keras_wsal.formats.annotations import AMBIGUOUS
from keras_wsal.formats.json_files import (
    JsonSource,
    entry_field,
    finite_number,
    label_field,
    load_json_object,
    segment_pair,
)
from keras_wsal.utils.atomic_files import atomic_output
from keras_wsal.version import __version__


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


def detection_results(detections_by_video: Mapping[str, Sequence[Mapping]]) -> dict:
    """The ActivityNet result JSON of all videos' detections.

    Returns:
        `{"version": "keras_wsal X", "results": {VIDEO: [{"label", "score", "segment"}]},
        "external_data": {"used": False, "details": ""}}` (the fields ActivityNet's evaluator
        requires), with plain floats.

    Raises:
        DataError: a detection with a missing field, a non-string label, a non-finite score or
            time, or start > end (naming the video, the detection and the field).
    """
    results = {}
    for video, detections in detections_by_video.items():
        entries = []
        for index, detection in enumerate(detections):
            where = f"video {video!r}, detection {index}"
            label = label_field(detection, where)
            score = finite_number(_plain(entry_field(detection, "score", where)), where, "score")
            segment = entry_field(detection, "segment", where)
            if isinstance(segment, (list, tuple)):
                segment = [_plain(value) for value in segment]
            start, end = segment_pair(segment, where)
            entries.append({"label": label, "score": score, "segment": [start, end]})
        results[video] = entries
    return {
        "version": f"keras_wsal {__version__}",
        "results": results,
        "external_data": {"used": False, "details": ""},
    }


def write_detection_results(
    path: str | os.PathLike, detections_by_video: Mapping[str, Sequence[Mapping]]
) -> Path:
    """Write `detection_results(detections_by_video)` to `path` as JSON, atomically.

    Returns:
        The path written.
    """
    payload = detection_results(detections_by_video)
    with atomic_output(path, "w") as handle:
        json.dump(payload, handle, allow_nan=False)
    return Path(path)


def _plain(value: object) -> object:
    """A NumPy scalar as the Python number it holds; anything else unchanged."""
    return value.item() if isinstance(value, np.generic) else value


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
