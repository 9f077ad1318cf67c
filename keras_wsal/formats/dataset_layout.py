"""Where the files of a feature dataset live (the format is documented in `keras_wsal.datasets`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from keras_wsal.errors import DataError
from keras_wsal.formats.annotations import JsonSource, VideoRecord, parse_database

ANNOTATIONS_FILE = "annotations.json"
META_FILE = "meta.json"
FEATURES_DIR = "features"
SINGLE_STREAM = "features"
STREAM_SETS = ((SINGLE_STREAM,), ("rgb", "flow"))


def check_video_name(video: object, source: str) -> str:
    """Return `video` if it can name a feature file (`features/VIDEO.npy`), else raise DataError."""
    if (
        not isinstance(video, str)
        or not video
        or video.startswith(".")
        or any(c in video for c in "/\\\0")
    ):
        raise DataError(
            f"{source}: video name {video!r} is not usable as a file name "
            "(expected a non-empty string with no '/', '\\' or NUL that does not start with '.')"
        )
    return video


def dataset_records(annotations: JsonSource, source: str = "annotations") -> dict[str, VideoRecord]:
    """`parse_database` with what a feature dataset needs of every video: a "subset", a
    "duration" and a name usable as a feature file name (`check_video_name`)."""
    records = parse_database(annotations, source, required=("subset", "duration"))
    name = source if isinstance(annotations, Mapping) else str(annotations)
    for video in records:
        check_video_name(video, name)
    return records


def feature_path(root: Path, stream: str, video: str) -> Path:
    """`root/features/VIDEO.npy` for one stream, `root/features/STREAM/VIDEO.npy` otherwise."""
    if stream == SINGLE_STREAM:
        return root / FEATURES_DIR / f"{video}.npy"
    return root / FEATURES_DIR / stream / f"{video}.npy"


def read_npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype stored in the header of the `.npy` file `path`, reading nothing else.

    Raises:
        FileNotFoundError: `path` does not exist.
        DataError: the file is not a `.npy` file numpy can read.
    """
    with open(path, "rb") as file:
        try:
            version = np.lib.format.read_magic(file)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(file)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(file)
            else:
                raise ValueError(f"unsupported .npy format version {version}")
        except ValueError as error:
            raise DataError(f"{path}: not a readable .npy file ({error})") from error
    return tuple(shape), dtype
