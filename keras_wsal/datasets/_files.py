"""Paths, names and atomic writes of the on-disk dataset format (see `keras_wsal.datasets`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from keras_wsal.errors import DataError

ANNOTATIONS_FILE = "annotations.json"
META_FILE = "meta.json"
FEATURES_DIR = "features"
SINGLE_STREAM = "features"
STREAM_SETS = ((SINGLE_STREAM,), ("rgb", "flow"))
# THUMOS14's label for instances the annotators could not decide on: ground truth only, never a class.
AMBIGUOUS = "Ambiguous"


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


def feature_path(root: Path, stream: str, video: str) -> Path:
    """`root/features/VIDEO.npy` for the single stream, `root/features/STREAM/VIDEO.npy` otherwise."""
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
