"""Folders of videos: which files are videos, their names, and the shards of a list of them."""

from __future__ import annotations

import os
from pathlib import Path

from keras_wsal.errors import VideoError

VIDEO_SUFFIXES = (".avi", ".flv", ".m4v", ".mkv", ".mov", ".mp4", ".mpeg", ".mpg", ".webm", ".wmv")


def find_videos(videos_dir: str | os.PathLike) -> dict[str, Path]:
    """The videos of a folder by name (the file name without its suffix), sorted by name.

    Files with a video suffix (`VIDEO_SUFFIXES`, any case) directly in the folder; hidden files
    are ignored.

    Raises:
        VideoError: the folder does not exist, or two files have the same name.
    """
    folder = Path(videos_dir)
    if not folder.is_dir():
        raise VideoError(f"videos folder {folder} does not exist or is not a folder")
    videos: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.suffix.lower() not in VIDEO_SUFFIXES:
            continue
        if not path.is_file():
            continue
        if path.stem in videos:
            raise VideoError(f"two videos are named {path.stem!r}: {videos[path.stem]} and {path}")
        videos[path.stem] = path
    return dict(sorted(videos.items()))


def shard_videos(names: list[str], shard: tuple[int, int]) -> list[str]:
    """Shard `I` of `N` (`0 <= I < N`): `sorted(names)[I::N]`, the same split on every machine."""
    index, count = shard
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"shard must be I/N with 0 <= I < N, got {index}/{count}")
    return sorted(names)[index::count]
