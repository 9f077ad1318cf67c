"""`annotations.json`: ActivityNet-style annotations, the one parser for training, detection and
evaluation.

The format (the dataset contract of keras_wsal, and ActivityNet's own)::

    {"database": {VIDEO: {"subset": str, "duration": seconds,
                          "annotations": [{"segment": [start_s, end_s], "label": str}, ...]}}}

Rules, the same for every reader:
- "subset": a non-empty string; compared case-insensitively (`subset_matches`: "test" selects
  THUMOS14's "Test").
- "duration": a positive finite number of seconds.
- "annotations": a list (an entry without it has none); each annotation an object with a
  non-empty string "label" and a "segment" of two finite numbers with start <= end (an end past
  the duration is kept: real THUMOS14 ground truth has such segments).
- A reader says which of "subset" and "duration" it needs (`parse_database(required=...)`):
  training needs both, evaluation neither unless it selects a subset (or needs durations).
- Extra fields (ActivityNet's "taxonomy", "version", "url", ActionFormer's "fps",
  "segment(frames)", "label_id") are ignored.
- "Ambiguous" (`AMBIGUOUS`, THUMOS14's intervals that are neither action nor background) is a
  ground-truth-only label: never a class; only the THUMOS14 protocol reads its intervals.

Labels and segment boundaries are parsed by separate functions, so that what training reads
(`parse_database`: subset, duration, label names) never touches a segment boundary; evaluation
reads both (`load_ground_truth`).

Every fault raises `DataError` in the style of `keras_wsal.formats.json_files`, naming the file,
the video, the annotation and the field.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from keras_wsal.errors import DataError
from keras_wsal.formats.json_files import (
    JsonSource,
    entry_field,
    kind,
    label_field,
    load_json_object,
    positive_number,
    segment_pair,
)

AMBIGUOUS = "Ambiguous"
_OPTIONAL_FIELDS = ("subset", "duration")


@dataclass(frozen=True)
class VideoRecord:
    """What a video's annotation entry says apart from where its actions are.

    Attributes:
        subset: the subset it belongs to (e.g. "validation"), None where the entry has none.
        duration: its length in seconds, None where the entry has none.
        labels: the label of each of its annotations, in file order (repeats and "Ambiguous" kept).
    """

    subset: str | None
    duration: float | None
    labels: tuple[str, ...]


def subset_matches(subset: str | None, wanted: str) -> bool:
    """Whether a video of `subset` belongs to the subset `wanted` (case-insensitive)."""
    return subset is not None and subset.casefold() == wanted.casefold()


def parse_database(
    annotations: JsonSource, source: str = "annotations", required: Collection[str] = ()
) -> dict[str, VideoRecord]:
    """The `VideoRecord` of every video of an annotations file, in file order.

    Reads each video's "subset", "duration" and the "label" of each annotation; segment
    boundaries are not read.

    Args:
        annotations: the path of the file, or its parsed content.
        source: the name used in messages when `annotations` is already parsed.
        required: which of "subset" and "duration" every video must have.

    Raises:
        DataError: a missing or mistyped field (the message names the file, video and field).
        MissingFileError: `annotations` is a path that does not exist.
    """
    unknown = sorted(set(required) - set(_OPTIONAL_FIELDS))
    if unknown:
        raise ValueError(f"required must name fields among {_OPTIONAL_FIELDS}, got {unknown}")
    database, name = load_json_object(annotations, source, "database")
    records = {}
    for video, entry in database.items():
        where = f"{name}: video {video!r}"
        if not isinstance(entry, Mapping):
            raise DataError(f"{where}: expected an object, got {kind(entry)}")
        for wanted in required:
            entry_field(entry, wanted, where)
        subset = entry.get("subset")
        if subset is not None and (not isinstance(subset, str) or not subset):
            raise DataError(f"{where}, field 'subset': expected a non-empty string, got {subset!r}")
        duration = entry.get("duration")
        if duration is not None:
            duration = positive_number(duration, where, "duration")
        labels = tuple(
            label_field(annotation, f"{where}, annotation {index}")
            for index, annotation in enumerate(_annotation_list(entry, where))
        )
        records[video] = VideoRecord(subset, duration, labels)
    return records


def parse_segments(
    annotations: JsonSource, source: str, videos: Iterable[str]
) -> list[tuple[str, str, float, float]]:
    """(video, label, start_s, end_s) of every annotation of `videos`, in file order.

    Raises:
        DataError: a video is not in the file, or a segment is not two finite numbers with
            start <= end.
    """
    database, name = load_json_object(annotations, source, "database")
    segments = []
    for video in videos:
        where = f"{name}: video {video!r}"
        if not isinstance(database.get(video), Mapping):
            raise DataError(f"{where}: no such video (did the file change since it was opened?)")
        for index, annotation in enumerate(_annotation_list(database[video], where)):
            annotation_where = f"{where}, annotation {index}"
            label = label_field(annotation, annotation_where)
            start, end = segment_pair(
                entry_field(annotation, "segment", annotation_where), annotation_where
            )
            segments.append((video, label, start, end))
    return segments


def check_classes(classes: object, what: str) -> list[str]:
    """`classes` as a list: distinct non-empty names without "Ambiguous", else DataError."""
    if not isinstance(classes, (list, tuple)) or not all(
        isinstance(name, str) and name for name in classes
    ):
        raise DataError(f"{what} must be a list of non-empty class names, got {classes!r}")
    if len(set(classes)) != len(classes):
        duplicates = sorted({name for name in classes if classes.count(name) > 1})
        raise DataError(f"{what} lists {duplicates} more than once")
    if AMBIGUOUS in classes:
        raise DataError(f'{what} must not contain "{AMBIGUOUS}" (a ground-truth-only label)')
    return list(classes)


def resolve_classes(
    records: Mapping[str, VideoRecord], classes: Iterable[str] | None, source: str
) -> list[str]:
    """`classes` (checked against every label) or, when None, the sorted labels minus "Ambiguous".

    Raises:
        DataError: a label is neither a class nor "Ambiguous" (names the video and the label).
    """
    if classes is None:
        return sorted({label for r in records.values() for label in r.labels} - {AMBIGUOUS})
    classes = check_classes(list(classes), "classes")
    known = set(classes) | {AMBIGUOUS}
    for video, record in records.items():
        for label in record.labels:
            if label not in known:
                raise DataError(
                    f"{source}: video {video!r} has label {label!r}, which is not in the class "
                    f"list ({len(classes)} classes: {', '.join(classes)})"
                )
    return classes


def videos_of_subset(records: Mapping[str, VideoRecord], subset: str, source: str) -> list[str]:
    """The videos of `subset` in file order; DataError listing the subsets when there is none."""
    videos = [video for video, record in records.items() if subset_matches(record.subset, subset)]
    if not videos:
        subsets = sorted({r.subset for r in records.values() if r.subset is not None})
        available = ", ".join(repr(name) for name in subsets) or "none"
        raise DataError(
            f"{source}: subset {subset!r} has no video (subsets in the file: {available})"
        )
    return videos


@dataclass(frozen=True)
class VideoGroundTruth:
    """The annotations of one video, for evaluation.

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
        classes: the labels with at least one segment in the subset, sorted: the classes the
            detection and recognition mAPs average over.
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

    Args:
        source: path of the annotation JSON, or the loaded dict.
        subset: keep the videos whose "subset" matches this (`subset_matches`); None keeps every
            video (and then no video needs a "subset").

    Returns:
        The `GroundTruth` of the subset.

    Raises:
        DataError: malformed JSON, a missing or mistyped field, a segment with start > end or a
            non-finite time (the message names the video, the annotation and the field); a subset
            with no videos; a subset with no action segment to evaluate.
        MissingFileError: `source` is a path that does not exist.
    """
    database, name = load_json_object(source, "ground truth", "database")
    content = {"database": database}
    records = parse_database(content, name, required=() if subset is None else ("subset",))
    if not records:
        raise DataError(f"{name}: field 'database' holds no video")
    chosen = list(records) if subset is None else videos_of_subset(records, subset, name)
    segments: dict[str, list[tuple[str, float, float]]] = {video: [] for video in chosen}
    for video, label, start, end in parse_segments(content, name, chosen):
        segments[video].append((label, start, end))
    all_labels = {label for record in records.values() for label in record.labels}
    videos = {video: _video_ground_truth(records[video], segments[video]) for video in chosen}
    ground_truth = GroundTruth(name, subset, videos, tuple(sorted(all_labels - {AMBIGUOUS})))
    if not ground_truth.classes:
        raise DataError(
            f"{name}: {ground_truth.describe_subset()} has no action annotation, "
            "nothing to evaluate"
        )
    return ground_truth


def _video_ground_truth(record: VideoRecord, segments: list) -> VideoGroundTruth:
    actions = [(label, s, e) for label, s, e in segments if label != AMBIGUOUS]
    ambiguous = [(s, e) for label, s, e in segments if label == AMBIGUOUS]
    return VideoGroundTruth(
        subset=record.subset,
        duration=record.duration,
        labels=tuple(label for label, _, _ in actions),
        segments=np.array([(s, e) for _, s, e in actions], dtype=np.float64).reshape(-1, 2),
        ambiguous=np.array(ambiguous, dtype=np.float64).reshape(-1, 2),
    )


def _annotation_list(entry: Mapping, where: str) -> list[Any]:
    annotations = entry.get("annotations", [])
    if not isinstance(annotations, list):
        raise DataError(f"{where}, field 'annotations': expected a list, got {kind(annotations)}")
    return annotations
