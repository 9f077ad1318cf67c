"""Frame (snippet) labels from annotated segments: for frame-supervised models only.

Weakly supervised training never reads segments (`keras_wsal.datasets.pipeline` is given only
`WeakLabels`). The one exception is the frame-supervised upper bound
(`keras_wsal.models.SupervisedWSGN`), whose loader this module builds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from keras_wsal.datasets.feature_dataset import FeatureDataset
from keras_wsal.errors import DataError


def frame_labels(
    segments: Sequence[tuple[str, float, float]],
    classes: Sequence[str],
    num_snippets: int,
    feature_fps: float,
) -> np.ndarray:
    """float32 `[T, C]`: 1 where snippet t's centre `(t + 0.5) / feature_fps` lies in `[start, end)`
    of a segment of class c. Labels not in `classes` (e.g. "Ambiguous") are ignored."""
    labels = np.zeros((num_snippets, len(classes)), np.float32)
    centres = (np.arange(num_snippets) + 0.5) / feature_fps
    index = {name: c for c, name in enumerate(classes)}
    for label, start, end in segments:
        if label in index:
            labels[(centres >= start) & (centres < end), index[label]] = 1.0
    return labels


def loader_with_frame_labels(
    dataset: FeatureDataset, videos: Sequence[str], key: str
) -> Callable[[str], Mapping[str, np.ndarray]]:
    """`dataset.load_features` with `key` → the video's `frame_labels` `[T, C]` added.

    Raises:
        DataError: a video of `videos` has no annotated segment of a class (frame supervision
            needs segments; naming the first such video and the annotation file).
    """
    by_video: dict[str, list] = {video: [] for video in videos}
    for segment in dataset.ground_truth():
        if segment.video in by_video:
            by_video[segment.video].append((segment.label, segment.start, segment.end))
    missing = [
        v for v, segments in by_video.items() if not any(s[0] in dataset.classes for s in segments)
    ]
    if len(missing) == len(by_video):
        raise DataError(
            f"{dataset.root / 'annotations.json'}: frame supervision needs annotated segments, and "
            f"no training video has one (first: {missing[0]!r})"
        )
    cache: dict[str, np.ndarray] = {}

    def load(video: str) -> dict[str, np.ndarray]:
        features = dict(dataset.load_features(video))
        if video not in cache:
            cache[video] = frame_labels(
                by_video[video], dataset.classes, dataset.num_snippets(video), dataset.feature_fps
            )
        features[key] = cache[video]
        return features

    return load
