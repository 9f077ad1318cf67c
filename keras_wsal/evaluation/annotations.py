"""Ground truth: ActivityNet-style annotation JSON, validated and split by subset.

The format (the dataset contract of keras_wsal, and ActivityNet's own)::

    {"database": {VIDEO: {"subset": str, "duration": seconds,
                          "annotations": [{"segment": [start_s, end_s], "label": str}, ...]}}}

Extra fields (ActivityNet's "taxonomy", "version", "url", ActionFormer's "fps", "segment(frames)",
"label_id") are ignored. Annotations labelled "Ambiguous" (THUMOS14's intervals that are neither
action nor background) are kept apart in `VideoGroundTruth.ambiguous`: only the thumos14 protocol
reads them and they are never a class.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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

AMBIGUOUS = "Ambiguous"


@dataclass(frozen=True)
class VideoGroundTruth:
    """The annotations of one video.

    Attributes:
        subset: the video's "subset" field, or None where the file has none.
        duration: the video's "duration" in seconds, or None where the file has none.
        labels: the label of each action segment (Ambiguous excluded), in file order.
        segments: float64 `[N, 2]`, `[start, end]` seconds of each action segment, in file order.
        ambiguous: float64 `[A, 2]`, the video's "Ambiguous" intervals.
    """

    subset: str | None
    duration: float | None
    labels: tuple[str, ...]
    segments: np.ndarray
    ambiguous: np.ndarray


@dataclass(frozen=True)
class GroundTruth:
    """The videos of one subset of an annotation file.

    Attributes:
        name: the file path, or "ground truth" for an in-memory dict (used in messages).
        subset: the subset asked for, or None for every video.
        videos: video id → `VideoGroundTruth`, the subset's videos in file order.
        labels: every action label of the whole file (all subsets, Ambiguous excluded), sorted:
            the labels a prediction may carry.
    """

    name: str
    subset: str | None
    videos: dict[str, VideoGroundTruth]
    labels: tuple[str, ...]
    classes: tuple[str, ...] = field(init=False)

    def __post_init__(self):
        present = {label for video in self.videos.values() for label in video.labels}
        object.__setattr__(self, "classes", tuple(sorted(present)))

    def describe_subset(self) -> str:
        """`subset 'S'` or `all videos`, for messages."""
        return "all videos" if self.subset is None else f"subset {self.subset!r}"


def load_ground_truth(source: JsonSource, subset: str | None = None) -> GroundTruth:
    """Read and validate an annotation file, keeping the videos of `subset`.

    `GroundTruth.classes` (the labels with at least one segment in the subset) are the classes
    that the detection and recognition mAPs average over.

    Args:
        source: path of the annotation JSON, or the loaded dict.
        subset: keep the videos whose "subset" equals this, compared case-insensitively
            ("test" selects THUMOS14's "Test"); None keeps every video.

    Returns:
        The `GroundTruth` of the subset.

    Raises:
        DataError: malformed JSON, a missing or mistyped field, a segment with start > end or a
            non-finite time (the message names the video, the annotation and the field); a subset
            with no videos; a subset with no action segment to evaluate.
        FileNotFoundError: `source` is a path that does not exist.
    """
    database, name = load_json_object(source, "ground truth", "database")
    all_labels: set[str] = set()
    videos: dict[str, VideoGroundTruth] = {}
    subsets_seen: set[str] = set()
    for video_id, entry in database.items():
        video = _parse_video(video_id, entry, name)
        all_labels.update(video.labels)
        if video.subset is not None:
            subsets_seen.add(video.subset)
        if subset is not None:
            if video.subset is None:
                raise DataError(
                    f"{name}: video {video_id!r} has no 'subset' field, so it cannot be selected "
                    f"by --subset {subset!r}"
                )
            if video.subset.casefold() != subset.casefold():
                continue
        videos[video_id] = video
    if not videos:
        available = ", ".join(repr(s) for s in sorted(subsets_seen)) or "none"
        if subset is None:
            raise DataError(f"{name}: field 'database' holds no video")
        raise DataError(
            f"{name}: subset {subset!r} has no video (subsets in the file: {available})"
        )
    ground_truth = GroundTruth(name, subset, videos, tuple(sorted(all_labels)))
    if not ground_truth.classes:
        raise DataError(
            f"{name}: {ground_truth.describe_subset()} has no action annotation, "
            "nothing to evaluate"
        )
    return ground_truth


def _parse_video(video_id: str, entry: Any, name: str) -> VideoGroundTruth:
    where = f"{name}: video {video_id!r}"
    annotations = entry_field(entry, "annotations", where)
    if not isinstance(annotations, list):
        raise DataError(f"{where}, field 'annotations': expected a list, got {annotations!r}")
    subset = entry.get("subset")
    if subset is not None and not isinstance(subset, str):
        raise DataError(f"{where}, field 'subset': expected a string, got {subset!r}")
    duration = entry.get("duration")
    if duration is not None:
        duration = finite_number(duration, where, "duration")
        if duration < 0:
            raise DataError(f"{where}, field 'duration': expected seconds >= 0, got {duration}")
    labels, segments, ambiguous = [], [], []
    for index, annotation in enumerate(annotations):
        annotation_where = f"{where}, annotation {index}"
        label = label_field(annotation, annotation_where)
        segment = segment_pair(
            entry_field(annotation, "segment", annotation_where), annotation_where
        )
        if label == AMBIGUOUS:
            ambiguous.append(segment)
        else:
            labels.append(label)
            segments.append(segment)
    return VideoGroundTruth(
        subset=subset,
        duration=duration,
        labels=tuple(labels),
        segments=np.array(segments, dtype=np.float64).reshape(-1, 2),
        ambiguous=np.array(ambiguous, dtype=np.float64).reshape(-1, 2),
    )
