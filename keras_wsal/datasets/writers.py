"""Writing a feature dataset in the keras_wsal format (documented in `feature_dataset`).

Every file is written atomically (a temporary file in the same folder, then `os.replace`), so a
reader sees either the previous file or the complete new one. The low-level writers
(`write_features`, `write_annotations`, `write_meta`) each check only the file they write and work
on a partly filled folder, so feature extraction can add videos one at a time; `FeatureDataset`
checks that the files agree when the folder is opened.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from keras_wsal.datasets.feature_dataset import FeatureDataset
from keras_wsal.errors import DataError
from keras_wsal.formats.annotations import parse_segments, resolve_classes
from keras_wsal.formats.dataset_layout import (
    ANNOTATIONS_FILE,
    META_FILE,
    STREAM_SETS,
    check_video_name,
    dataset_records,
    feature_path,
)
from keras_wsal.formats.dataset_meta import parse_meta, positive_real
from keras_wsal.utils.atomic_files import atomic_write, atomic_write_text

logger = logging.getLogger(__name__)

_STREAMS = sorted({stream for streams in STREAM_SETS for stream in streams})


def _checked_features(array: object, what: str) -> np.ndarray:
    """`array` as float32 [T, D] with T, D >= 1 and finite values, else DataError about `what`."""
    array = np.asarray(array)
    if array.ndim != 2 or 0 in array.shape or array.dtype.kind not in "fiu":
        raise DataError(
            f"{what}: expected a real-valued array of shape [T, D] with T, D >= 1, "
            f"got dtype {array.dtype} and shape {array.shape}"
        )
    array = array.astype(np.float32)
    if not np.isfinite(array).all():
        rows = np.flatnonzero(~np.isfinite(array).all(axis=1))
        raise DataError(f"{what}: NaN or inf values (first in snippet {rows[0]}, float32)")
    return array


def write_features(root: str | os.PathLike, video: str, stream: str, array: np.ndarray) -> Path:
    """Write the features of one stream of one video: `features[/STREAM]/VIDEO.npy`, float32.

    Args:
        root: the dataset folder (created if needed).
        video: the video name.
        stream: "features" (single stream), "rgb" or "flow".
        array: [T, D] real values, T >= 1, all finite; stored as float32.

    Returns:
        The path written.

    Raises:
        DataError: a bad video name, stream or array (nothing is written).
    """
    check_video_name(video, "write_features")
    if stream not in _STREAMS:
        raise DataError(f"write_features: stream must be one of {_STREAMS}, got {stream!r}")
    path = feature_path(Path(root), stream, video)
    features = _checked_features(array, f'video "{video}" stream "{stream}"')
    atomic_write(path, lambda file: np.save(file, features))
    return path


def write_json(path: str | os.PathLike, content: object) -> None:
    """Write `content` as JSON to `path` atomically; DataError if it is not plain JSON."""
    try:
        text = json.dumps(content, indent=1, allow_nan=False) + "\n"
    except (TypeError, ValueError) as error:
        raise DataError(f"{path}: cannot be written as JSON ({error})") from error
    atomic_write_text(path, text)


def _normalised_database(database: Mapping, source: str) -> dict:
    """`database` checked (labels and segments) with its known fields made plain JSON values."""
    annotations = {"database": database}
    records = dataset_records(annotations, source)
    segments = {video: [] for video in records}
    for video, _, start, end in parse_segments(annotations, source, records):
        segments[video].append([start, end])
    normalised = {}
    for video, record in records.items():
        entry = dict(database[video])
        entry.update(subset=record.subset, duration=record.duration)
        entry["annotations"] = [
            {**annotation, "label": label, "segment": segment}
            for annotation, label, segment in zip(
                entry.get("annotations", []), record.labels, segments[video], strict=True
            )
        ]
        normalised[video] = entry
    return normalised


def write_annotations(root: str | os.PathLike, database: Mapping[str, Mapping]) -> Path:
    """Write `annotations.json` = `{"database": database}`.

    Args:
        root: the dataset folder (created if needed).
        database: {video: {"subset": str, "duration": seconds, "annotations":
            [{"segment": [start_s, end_s], "label": str, ...}, ...], ...}}; extra fields are kept.

    Returns:
        The path written.

    Raises:
        DataError: a malformed entry (names the video and the field; nothing is written).
    """
    path = Path(root) / ANNOTATIONS_FILE
    write_json(path, {"database": _normalised_database(database, "annotations")})
    return path


def write_meta(root: str | os.PathLike, meta: Mapping) -> Path:
    """Write `meta.json` after checking its fields (see `FeatureDataset`); extra fields are kept.

    Returns:
        The path written.

    Raises:
        DataError: a missing or malformed field (nothing is written).
    """
    path = Path(root) / META_FILE
    write_json(path, parse_meta(meta, "meta"))
    return path


def write_dataset_by_video(
    root: str | os.PathLike,
    database: Mapping[str, Mapping],
    load_features: Callable[[str], Mapping[str, np.ndarray]],
    feature_fps: float,
    classes: list[str] | None = None,
    extra_meta: Mapping | None = None,
    skip_bad: bool = False,
) -> tuple[FeatureDataset, list[tuple[str, str]]]:
    """Write a whole dataset, reading one video's features at a time.

    The annotations are checked first; then each video's features are read with
    `load_features(video)` ({stream: [T, D]}), checked and written; `annotations.json` (the videos
    written) and `meta.json` come last. The streams and feature sizes are those of the first video.

    Args:
        root: the dataset folder (created if needed).
        database: the annotations, as for `write_annotations`.
        load_features: returns {stream: array [T, D]} of a video; raises DataError (or
            FileNotFoundError) when the video has no usable features.
        feature_fps: snippets per second.
        classes: the class names in class-index order; default: the sorted labels, "Ambiguous"
            excluded.
        extra_meta: extra `meta.json` fields.
        skip_bad: log and leave out a video whose features are missing or bad instead of raising.

    Returns:
        (the written dataset, [(video, why it was skipped), ...]).

    Raises:
        DataError: bad annotations, a label not in `classes`, bad features (unless `skip_bad`), no
            video written, or `extra_meta` that redefines a format field.
    """
    root = Path(root)
    records = dataset_records({"database": database}, "annotations")
    classes = resolve_classes(records, classes, "annotations")
    extra_meta = dict(extra_meta or {})
    clashes = sorted(set(extra_meta) & {"feature_fps", "streams", "feature_dim", "classes"})
    if clashes:
        raise DataError(f"extra_meta must not redefine the format fields {clashes}")
    positive_real(feature_fps, "feature_fps")
    meta = {"feature_fps": feature_fps, "streams": None, "feature_dim": None, "classes": classes}
    written, skipped = [], []
    for video in records:
        try:
            features = _checked_video(video, load_features, meta)
        except DataError as error:
            if not skip_bad:
                raise
            logger.warning('skipping video "%s": %s', video, error)
            skipped.append((video, str(error)))
            continue
        for stream, array in features.items():
            write_features(root, video, stream, array)
        written.append(video)
    if not written:
        raise DataError(f"{root}: no video has usable features; nothing to write")
    if skipped:
        logger.warning("skipped %d of %d videos", len(skipped), len(records))
    write_annotations(root, {video: database[video] for video in written})
    write_meta(root, {**meta, **extra_meta})
    return FeatureDataset(root), skipped


def _checked_video(video: str, load_features: Callable, meta: dict) -> dict[str, np.ndarray]:
    """The checked features of `video`; the first video fills meta's streams and feature_dim."""
    try:
        features = load_features(video)
    except FileNotFoundError as error:
        raise DataError(f'video "{video}": feature file not found ({error})') from error
    streams = tuple(features)
    if streams not in STREAM_SETS:
        raise DataError(
            f'video "{video}": streams must be ("features",) or ("rgb", "flow"), got {streams}'
        )
    features = {
        s: _checked_features(a, f'video "{video}" stream "{s}"') for s, a in features.items()
    }
    lengths = {stream: len(array) for stream, array in features.items()}
    if len(set(lengths.values())) > 1:
        raise DataError(
            f'video "{video}": the streams have different numbers of snippets {lengths}'
        )
    dims = {stream: array.shape[1] for stream, array in features.items()}
    if meta["streams"] is None:
        meta.update(streams=list(streams), feature_dim=dims)
    elif dims != meta["feature_dim"]:
        raise DataError(
            f'video "{video}": feature sizes {dims} differ from those of the first video '
            f"{meta['feature_dim']}"
        )
    return features


def write_dataset(
    root: str | os.PathLike,
    annotations: Mapping[str, Mapping],
    features: Mapping[str, Mapping[str, np.ndarray]],
    feature_fps: float,
    classes: list[str] | None = None,
    extra_meta: Mapping | None = None,
) -> FeatureDataset:
    """Write a whole dataset from memory.

    Args:
        root: the dataset folder (created if needed).
        annotations: the database {video: {"subset", "duration", "annotations"}}, as for
            `write_annotations`.
        features: {video: {stream: array [T, D]}} for every video of `annotations` (and no other);
            streams ("features",) or ("rgb", "flow"), the same for every video.
        feature_fps: snippets per second.
        classes: class names in class-index order; default: the sorted labels minus "Ambiguous".
        extra_meta: extra `meta.json` fields.

    Returns:
        The written dataset, opened.

    Raises:
        DataError: any malformed input (names the video, stream or field).
    """
    unannotated = sorted(set(features) - set(annotations))
    if unannotated:
        raise DataError(f"features given for videos that are not in the annotations: {unannotated}")

    def load(video: str) -> Mapping[str, np.ndarray]:
        if video not in features:
            raise DataError(f'video "{video}" is in the annotations but has no features')
        return features[video]

    dataset, _ = write_dataset_by_video(root, annotations, load, feature_fps, classes, extra_meta)
    return dataset
