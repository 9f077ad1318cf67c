"""A tiny synthetic feature dataset that the training tests share."""

from keras_wsal.datasets import FeatureDataset, make_synthetic_dataset

NUM_VIDEOS = 8
NUM_CLASSES = 3
FEATURE_DIM = 8


def write_tiny_dataset(root, subset: str = "train") -> FeatureDataset:
    """`NUM_VIDEOS` videos of 6-20 snippets, `NUM_CLASSES` classes, `FEATURE_DIM` features."""
    return make_synthetic_dataset(
        root,
        num_classes=NUM_CLASSES,
        feature_dim=FEATURE_DIM,
        subsets={subset: NUM_VIDEOS},
        min_length=6,
        max_length=20,
        seed=0,
    )
