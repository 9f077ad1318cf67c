"""Video-level labels: the only supervision a weakly supervised model is trained with."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from keras_wsal.errors import DataError
from keras_wsal.formats.annotations import AMBIGUOUS


@dataclass(frozen=True, eq=False)
class WeakLabels:
    """Which classes occur in each video, and nothing about where.

    Attributes:
        classes: the class names; class `c` is column `c` of `multi_hot`.
        videos: the video names; video `i` is row `i` of `multi_hot`.
        multi_hot: float32 [N, C], read-only; `multi_hot[i, c] = 1` when video `i` has at least one
            instance of class `c`, else 0. A video whose only labels are "Ambiguous" (or that has no
            labels) has an all-zero row.
    """

    classes: tuple[str, ...]
    videos: tuple[str, ...]
    multi_hot: np.ndarray

    def __len__(self) -> int:
        return len(self.videos)

    def select(self, videos: Sequence[str]) -> WeakLabels:
        """The labels of `videos` (a subset of `self.videos`), in that order."""
        row = {video: i for i, video in enumerate(self.videos)}
        missing = [video for video in videos if video not in row]
        if missing:
            raise DataError(f"videos {missing} have no weak labels here")
        return _frozen(self.classes, tuple(videos), self.multi_hot[[row[v] for v in videos]])


def _frozen(classes: tuple, videos: tuple, multi_hot: np.ndarray) -> WeakLabels:
    multi_hot = np.array(multi_hot, dtype=np.float32).reshape(len(videos), len(classes))
    multi_hot.setflags(write=False)
    return WeakLabels(classes, videos, multi_hot)


def weak_labels_from_names(
    classes: Sequence[str], label_names: Mapping[str, Iterable[str]]
) -> WeakLabels:
    """Build `WeakLabels` from each video's label names (all a training path may ever see).

    Args:
        classes: the class names, in class-index order.
        label_names: {video: the labels of its annotations} (repeats allowed, "Ambiguous" ignored).

    Returns:
        WeakLabels over the videos in the order of `label_names`.

    Raises:
        DataError: a label is neither in `classes` nor "Ambiguous" (the message names the video).
    """
    column = {name: c for c, name in enumerate(classes)}
    multi_hot = np.zeros((len(label_names), len(classes)), np.float32)
    for i, (video, names) in enumerate(label_names.items()):
        for name in names:
            if name == AMBIGUOUS:
                continue
            if name not in column:
                raise DataError(
                    f'video "{video}" has label "{name}", which is not one of the classes '
                    f"{list(classes)}"
                )
            multi_hot[i, column[name]] = 1.0
    return _frozen(tuple(classes), tuple(label_names), multi_hot)
