"""Tiny hand-made datasets whose feature rows say where they come from."""

import numpy as np

from keras_wsal.datasets import FeatureDataset, write_dataset


def indexed_features(number: int, length: int, dim: int) -> np.ndarray:
    """[length, dim], row t = [t, number, 0.5, 0.5, ...]: each row names its video and snippet."""
    features = np.full((length, dim), 0.5, np.float32)
    features[:, 0] = np.arange(length)
    features[:, 1] = number
    return features


def write_indexed_dataset(
    root,
    lengths: dict,
    labels: dict,
    subsets: dict | None = None,
    streams=("features",),
    dim: int = 4,
    feature_fps: float = 2.0,
    classes=None,
) -> FeatureDataset:
    """A dataset of videos `lengths` ({video: T}) with `indexed_features` (video number = position).

    Each label of `labels[video]` gets one annotation covering the whole video; every video is in
    subset "train" unless `subsets` says otherwise. With two streams, flow rows are rgb rows + 1000.
    """
    annotations, features = {}, {}
    for number, (video, length) in enumerate(lengths.items()):
        duration = length / feature_fps
        annotations[video] = {
            "subset": (subsets or {}).get(video, "train"),
            "duration": duration,
            "annotations": [
                {"segment": [0.0, duration], "label": label} for label in labels[video]
            ],
        }
        rows = indexed_features(number, length, dim)
        features[video] = (
            {"features": rows}
            if tuple(streams) == ("features",)
            else {"rgb": rows, "flow": rows + 1000}
        )
    return write_dataset(root, annotations, features, feature_fps, classes=classes)
