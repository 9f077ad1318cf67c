"""Reading a feature dataset: per-snippet features on disk plus ActivityNet-style annotations.

The format (one folder, `DATASET/`):

```
annotations.json   {"database": {VIDEO: {"subset": str, "duration": seconds,
                       "annotations": [{"segment": [start_s, end_s], "label": str}, ...]}, ...}}
features/VIDEO.npy          float [T, D], one row per snippet (single stream "features"), or
features/rgb/VIDEO.npy      two streams "rgb" and "flow" with the same T
features/flow/VIDEO.npy
meta.json          {"feature_fps": snippets per second, "streams": ["features"] | ["rgb", "flow"],
                    "feature_dim": {stream: D}, "classes": [names] (optional), ...free extra fields}
```

Only "feature_fps" is required in `meta.json`: without "streams" they are read from the folders
(`features/rgb/` and `features/flow/`, else `features/`), and without "feature_dim" each stream's
D from the header of its first video's file.

Snippet `t` covers `[t / feature_fps, (t + 1) / feature_fps)` seconds. "Ambiguous" is a
ground-truth-only label: allowed in annotations, never a class. Without "classes" in `meta.json`
the classes are the sorted labels of all videos, "Ambiguous" excluded.

Training sees `FeatureDataset.weak_labels` (which classes occur in a video) and the features.
Segment boundaries are read only by `FeatureDataset.ground_truth`, which parses `annotations.json`
again when called: the dataset object itself never holds them.
"""

from __future__ import annotations

import copy
import logging
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from keras_wsal.datasets.weak_labels import WeakLabels, weak_labels_from_names
from keras_wsal.errors import DataError
from keras_wsal.formats.annotations import parse_segments, resolve_classes, videos_of_subset
from keras_wsal.formats.dataset_layout import (
    ANNOTATIONS_FILE,
    FEATURES_DIR,
    META_FILE,
    STREAM_SETS,
    dataset_records,
    feature_path,
    read_npy_header,
)
from keras_wsal.formats.dataset_meta import parse_meta
from keras_wsal.formats.json_files import read_json

logger = logging.getLogger(__name__)

# Rows per block when scanning a whole feature file for NaN/inf: about 32 MiB of float64 at D =
# 2048.
_SCAN_ROWS = 2048


class GroundTruthSegment(NamedTuple):
    """One annotated action instance: `label` from `start` to `end` seconds of `video`."""

    video: str
    label: str
    start: float
    end: float


class FeatureDataset:
    """A dataset folder in the keras_wsal format, validated on opening.

    Opening reads `meta.json` and `annotations.json` (not the features) and checks every field,
    that every label is a class or "Ambiguous", and that video names are usable as file names.
    Feature files are checked when read: `num_snippets` and `load_features` check their headers
    (existence, 2-D float array, feature size, the same T in every stream); `validate` also scans
    their values for NaN/inf.

    Args:
        root: the dataset folder.

    Attributes:
        root: the dataset folder (a `Path`).
        classes: the class names; their order is the class index.
        feature_fps: snippets per second.
        streams: ("features",) or ("rgb", "flow").
        feature_dims: {stream: D}.

    Raises:
        DataError: the folder, `meta.json` or `annotations.json` is missing or malformed (the
            message names the file, the video and the field).
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(f"dataset folder {self.root} does not exist")
        meta_path = self.root / META_FILE
        meta = read_json(meta_path, "dataset meta")
        annotations_path = self.root / ANNOTATIONS_FILE
        self._records = dataset_records(annotations_path)
        meta = _with_derived_fields(meta, self.root, sorted(self._records), str(meta_path))
        self._meta = parse_meta(meta, str(meta_path))
        self.classes = resolve_classes(
            self._records, self._meta.get("classes"), str(annotations_path)
        )
        self.feature_fps = self._meta["feature_fps"]
        self.streams = tuple(self._meta["streams"])
        self.feature_dims = dict(self._meta["feature_dim"])

    def __repr__(self) -> str:
        return (
            f"FeatureDataset({str(self.root)!r}: {len(self._records)} videos, "
            f"{len(self.classes)} classes, streams {self.feature_dims})"
        )

    @property
    def meta(self) -> dict:
        """A copy of `meta.json`, extra fields included."""
        return copy.deepcopy(self._meta)

    def subsets(self) -> list[str]:
        """The sorted names of the subsets that have at least one video."""
        return sorted({record.subset for record in self._records.values()})

    def videos(self, subset: str | None = None) -> list[str]:
        """The sorted names of the videos of `subset` (all videos when None).

        Raises:
            DataError: no video belongs to `subset` (the message lists the subsets there are).
        """
        if subset is None:
            return sorted(self._records)
        return sorted(videos_of_subset(self._records, subset, str(self.root / ANNOTATIONS_FILE)))

    def _record(self, video: str):
        if video not in self._records:
            raise DataError(f'{self.root / ANNOTATIONS_FILE}: no video "{video}"')
        return self._records[video]

    def duration(self, video: str) -> float:
        """The duration of `video` in seconds, as annotated."""
        return self._record(video).duration

    def feature_paths(self, video: str) -> dict[str, Path]:
        """{stream: path of the feature file of `video`}."""
        self._record(video)
        return {stream: feature_path(self.root, stream, video) for stream in self.streams}

    def num_snippets(self, video: str) -> int:
        """T, the number of snippets of `video`, read from its feature file headers.

        Raises:
            DataError: a feature file is missing or unreadable, is not a 2-D float array of the
                stream's feature size, has no rows, or the streams differ in T.
        """
        lengths = {}
        for stream, path in self.feature_paths(video).items():
            try:
                shape, dtype = read_npy_header(path)
            except FileNotFoundError as error:
                raise DataError(f'video "{video}": feature file {path} not found') from error
            except DataError as error:  # not a .npy file: the message names the file
                raise DataError(f'video "{video}": {error}') from error
            except OSError as error:  # unreadable: permissions, a folder, a name too long
                raise DataError(
                    f'video "{video}": cannot read feature file {path} ({error.strerror or error})'
                ) from error
            dim = self.feature_dims[stream]
            if len(shape) != 2 or shape[1] != dim or dtype.kind != "f":
                raise DataError(
                    f'video "{video}": feature file {path} holds a {dtype} array of shape {shape}, '
                    f"expected a float array of shape [T, {dim}]"
                )
            if shape[0] == 0:
                raise DataError(f'video "{video}": feature file {path} has no snippets (T = 0)')
            lengths[stream] = shape[0]
        if len(set(lengths.values())) > 1:
            raise DataError(
                f'video "{video}": the streams have different numbers of snippets {lengths}'
            )
        return next(iter(lengths.values()))

    def load_features(self, video: str, mmap: bool = True) -> dict[str, np.ndarray]:
        """{stream: features [T, D]} of `video`, memory-mapped read-only when `mmap`.

        The headers are checked as in `num_snippets`; the values are not scanned (that is a full
        read; see `validate`).

        Raises:
            DataError: as `num_snippets`, or a file numpy cannot read (e.g. truncated).
        """
        self.num_snippets(video)
        features = {}
        for stream, path in self.feature_paths(video).items():
            try:
                features[stream] = np.load(path, mmap_mode="r" if mmap else None)
            except (ValueError, OSError, EOFError) as error:
                raise DataError(
                    f'video "{video}": cannot read feature file {path} ({error})'
                ) from error
        return features

    def _check_values(self, video: str) -> None:
        paths = self.feature_paths(video)
        for stream, features in self.load_features(video).items():
            for start in range(0, len(features), _SCAN_ROWS):
                finite = np.isfinite(features[start : start + _SCAN_ROWS]).all(axis=1)
                if not finite.all():
                    row = start + int(np.argmin(finite))
                    raise DataError(
                        f'video "{video}": feature file {paths[stream]} has NaN or inf values '
                        f"(first in snippet {row})"
                    )

    def validate(
        self, subset: str | None = None, skip_bad: bool = False, check_values: bool = True
    ) -> list[str]:
        """Check the feature files of the videos of `subset` (all when None).

        Every file is checked as in `load_features` and, with `check_values`, scanned block by block
        for NaN/inf (one streaming read of the files; memory stays bounded).

        Args:
            subset: the subset to check, or None for every video.
            skip_bad: log each bad video as skipped (and a count at the end) instead of raising.
            check_values: scan the values, not only the headers.

        Returns:
            The sorted names of the videos that passed.

        Raises:
            DataError: the first bad video's problem, unless `skip_bad`.
        """
        videos = self.videos(subset)
        passed = []
        for video in videos:
            try:
                if check_values:
                    self._check_values(video)
                else:
                    self.num_snippets(video)
            except DataError as error:
                if not skip_bad:
                    raise
                logger.warning("skipping %s", error)
            else:
                passed.append(video)
        if len(passed) < len(videos):
            logger.warning(
                "skipped %d of %d videos of %s (skip_bad)",
                len(videos) - len(passed),
                len(videos),
                "the dataset" if subset is None else f'subset "{subset}"',
            )
        return passed

    def weak_labels(self, subset: str | None = None) -> WeakLabels:
        """Which classes occur in each video of `subset` (None: all videos), in `videos` order."""
        return weak_labels_from_names(
            self.classes, {video: self._records[video].labels for video in self.videos(subset)}
        )

    def ground_truth(self, subset: str | None = None) -> list[GroundTruthSegment]:
        """Every annotated instance of the videos of `subset`, "Ambiguous" ones included.

        For evaluation only: no training code path calls this. Ordered by video, then as in the
        file.

        Raises:
            DataError: a segment is not two finite numbers with start <= end (names video and
            field).
        """
        path = self.root / ANNOTATIONS_FILE
        segments = parse_segments(path, str(path), self.videos(subset))
        return [GroundTruthSegment(*segment) for segment in segments]


def _with_derived_fields(meta: object, root: Path, videos: list[str], source: str) -> object:
    """`meta` with "streams" and "feature_dim" read from the feature files when it lacks them."""
    if not isinstance(meta, dict):
        return meta  # parse_meta names the problem
    meta = dict(meta)
    if "streams" not in meta:
        two = all((root / FEATURES_DIR / stream).is_dir() for stream in ("rgb", "flow"))
        meta["streams"] = ["rgb", "flow"] if two else ["features"]
    streams = meta["streams"]
    if "feature_dim" in meta or not isinstance(streams, list) or tuple(streams) not in STREAM_SETS:
        return meta
    dims = {}
    for stream in streams:
        path = next(
            (p for p in (feature_path(root, stream, v) for v in videos) if p.is_file()), None
        )
        if path is None:
            raise DataError(
                f'{source}: no field "feature_dim", and no feature file of stream "{stream}" to '
                "read it from"
            )
        shape, _ = read_npy_header(path)
        if len(shape) != 2:
            raise DataError(f"{path}: expected a [T, D] array to read D from, got shape {shape}")
        dims[stream] = int(shape[1])
    meta["feature_dim"] = dims
    return meta
