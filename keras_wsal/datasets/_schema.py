"""Validation of `meta.json` and `annotations.json` (the format is documented in `keras_wsal.datasets`).

Every check raises `DataError` naming the file (`source`), the video and the field at fault. Label
names and segment boundaries are parsed by separate functions, so that what training reads
(`parse_database`: subset, duration, label names) never touches a segment boundary.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from keras_wsal.datasets._files import AMBIGUOUS, STREAM_SETS, check_video_name
from keras_wsal.errors import DataError


@dataclass(frozen=True)
class VideoRecord:
    """What a video's annotation entry says apart from where its actions are.

    Attributes:
        subset: the subset it belongs to (e.g. "validation").
        duration: its length in seconds.
        labels: the label of each of its annotations, in file order (repeats and "Ambiguous" kept).
    """

    subset: str
    duration: float
    labels: tuple[str, ...]


def read_json(path: Path) -> object:
    """The parsed JSON file `path`; DataError if it is missing or not valid JSON."""
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except FileNotFoundError as error:
        raise DataError(f"{path}: file not found") from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: not valid JSON ({error})") from error


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def positive_real(value: object, what: str) -> float:
    """`value` as a float if it is a positive finite number, else DataError about `what`."""
    if not _is_real(value) or not math.isfinite(value) or value <= 0:
        raise DataError(f"{what} must be a positive finite number, got {value!r}")
    return float(value)


def parse_meta(meta: object, source: str) -> dict:
    """Check the contents of `meta.json`; return it with the known fields normalised.

    Known fields: "feature_fps" (positive number), "streams" (["features"] or ["rgb", "flow"]),
    "feature_dim" ({stream: positive int} for exactly those streams) and the optional "classes"
    (distinct non-empty names, "Ambiguous" excluded, their order is the class index). Any other
    field is kept as it is.
    """
    if not isinstance(meta, Mapping):
        raise DataError(f"{source}: expected a JSON object, got {type(meta).__name__}")
    for field in ("feature_fps", "streams", "feature_dim"):
        if field not in meta:
            raise DataError(f'{source}: missing field "{field}"')
    parsed = dict(meta)
    parsed["feature_fps"] = positive_real(meta["feature_fps"], f'{source}: field "feature_fps"')
    streams = meta["streams"]
    if not isinstance(streams, (list, tuple)) or tuple(streams) not in STREAM_SETS:
        raise DataError(
            f'{source}: field "streams" must be ["features"] or ["rgb", "flow"], got {streams!r}'
        )
    parsed["streams"] = list(streams)
    dims = meta["feature_dim"]
    if not isinstance(dims, Mapping) or set(dims) != set(streams):
        raise DataError(
            f'{source}: field "feature_dim" must map each of the streams {list(streams)} to its '
            f"feature size, got {dims!r}"
        )
    for stream, dim in dims.items():
        if not isinstance(dim, numbers.Integral) or isinstance(dim, (bool, np.bool_)) or dim < 1:
            raise DataError(
                f'{source}: field "feature_dim" of stream "{stream}" must be a positive integer, '
                f"got {dim!r}"
            )
    parsed["feature_dim"] = {stream: int(dims[stream]) for stream in streams}
    if "classes" in meta:
        parsed["classes"] = _parse_classes(meta["classes"], f'{source}: field "classes"')
    return parsed


def _parse_classes(classes: object, what: str) -> list[str]:
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


def _annotation_list(entry: Mapping, where: str) -> list:
    annotations = entry.get("annotations", [])
    if not isinstance(annotations, list):
        raise DataError(f'{where}: field "annotations" must be a list, got {annotations!r}')
    return annotations


def _database(annotations: object, source: str) -> Mapping:
    if not isinstance(annotations, Mapping) or not isinstance(annotations.get("database"), Mapping):
        raise DataError(f'{source}: expected a JSON object with a "database" object')
    return annotations["database"]


def parse_database(annotations: object, source: str) -> dict[str, VideoRecord]:
    """The `VideoRecord` of every video of the parsed `annotations.json`.

    Reads each video's "subset" (string), "duration" (positive seconds) and the "label" (string) of
    each annotation; an entry without "annotations" has none. Segment boundaries are not read.
    """
    records = {}
    for video, entry in _database(annotations, source).items():
        check_video_name(video, source)
        where = f'{source}: video "{video}"'
        if not isinstance(entry, Mapping):
            raise DataError(f"{where}: expected an object, got {entry!r}")
        for field in ("subset", "duration"):
            if field not in entry:
                raise DataError(f'{where}: missing field "{field}"')
        subset = entry["subset"]
        if not isinstance(subset, str) or not subset:
            raise DataError(f'{where}: field "subset" must be a non-empty string, got {subset!r}')
        duration = positive_real(entry["duration"], f'{where}: field "duration"')
        labels = []
        for i, annotation in enumerate(_annotation_list(entry, where)):
            label = annotation.get("label") if isinstance(annotation, Mapping) else None
            if not isinstance(label, str) or not label:
                raise DataError(
                    f'{where}: annotation {i} must be an object with a non-empty string "label", '
                    f"got {annotation!r}"
                )
            labels.append(label)
        records[video] = VideoRecord(subset, duration, tuple(labels))
    return records


def resolve_classes(
    records: Mapping[str, VideoRecord], classes: Iterable[str] | None, source: str
) -> list[str]:
    """`classes` (checked against every label) or, when None, the sorted labels minus "Ambiguous".

    Raises DataError naming the video and the label when a label is neither a class nor "Ambiguous".
    """
    if classes is None:
        return sorted({label for r in records.values() for label in r.labels} - {AMBIGUOUS})
    classes = _parse_classes(list(classes), "classes")
    known = set(classes) | {AMBIGUOUS}
    for video, record in records.items():
        for label in record.labels:
            if label not in known:
                raise DataError(
                    f'{source}: video "{video}" has label "{label}", which is not in the class '
                    f"list ({len(classes)} classes: {', '.join(classes)})"
                )
    return classes


def parse_segments(annotations: object, source: str, videos: Iterable[str]) -> list[tuple]:
    """(video, label, start_s, end_s) of every annotation of `videos`, in file order.

    Each "segment" must be two finite numbers with start <= end; an end past the video's duration is
    kept as it is (real THUMOS14 ground truth has such segments).
    """
    database = _database(annotations, source)
    segments = []
    for video in videos:
        where = f'{source}: video "{video}"'
        if not isinstance(database.get(video), Mapping):
            raise DataError(f"{where}: no such video (did the file change since it was opened?)")
        for i, annotation in enumerate(_annotation_list(database[video], where)):
            segment = annotation.get("segment") if isinstance(annotation, Mapping) else None
            if (
                not isinstance(segment, (list, tuple))
                or len(segment) != 2
                or not all(_is_real(x) and math.isfinite(x) for x in segment)
                or segment[0] > segment[1]
            ):
                raise DataError(
                    f'{where}: annotation {i} field "segment" must be [start_s, end_s], two finite '
                    f"numbers with start <= end, got {segment!r}"
                )
            segments.append((video, annotation["label"], float(segment[0]), float(segment[1])))
    return segments
