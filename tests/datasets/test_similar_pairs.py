"""W-TALC's paired batches: each begins with `n_similar` pairs of videos sharing a class."""

import numpy as np
import pytest

from keras_wsal.datasets import WeakLabels, make_training_dataset_from_weak_labels
from keras_wsal.errors import DataError

# 9 videos, 4 classes; class 3 has one video only, so it is never paired.
MULTI_HOT = np.array(
    [[1, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 0],
     [0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 0, 1]], np.float32,
)  # fmt: skip
VIDEOS = tuple(f"v{i}" for i in range(len(MULTI_HOT)))


def _batches(pairs, batch_size=6, seed=0, repeat=True, multi_hot=MULTI_HOT):
    # Each video's features hold its index, so a batch says which videos it holds.
    labels = WeakLabels(("a", "b", "c", "d"), VIDEOS[: len(multi_hot)], multi_hot)
    return make_training_dataset_from_weak_labels(
        labels,
        lambda video: {"features": np.full((3, 1), float(video[1:]), np.float32)},
        [3] * len(multi_hot),
        {"features": 1},
        batch_size=batch_size,
        seed=seed,
        repeat=repeat,
        similar_pairs=pairs,
    )


def _videos(inputs):
    return inputs["features"].numpy()[:, 0, 0].astype(int)


def test_each_batch_begins_with_pairs_of_different_videos_sharing_a_class():
    seen_classes = set()
    for inputs, labels in _batches(pairs=3).take(40):
        videos = _videos(inputs)
        assert len(videos) == 6
        np.testing.assert_array_equal(labels.numpy(), MULTI_HOT[videos])
        for first, second in zip(videos[0:6:2], videos[1:6:2], strict=True):
            shared = MULTI_HOT[first] * MULTI_HOT[second]
            assert first != second and shared.any(), (first, second)
            seen_classes.update(np.flatnonzero(shared))
        # Three pairs from three classes: three different classes when three can be paired.
        assert len({tuple(MULTI_HOT[v]) for v in videos[0:6:2]}) >= 2
    assert 3 not in seen_classes and {0, 1, 2} <= seen_classes


def test_the_rest_of_the_batch_is_random_and_the_seed_repeats_it():
    first = [_videos(i).tolist() for i, _ in _batches(pairs=1, seed=5).take(5)]
    again = [_videos(i).tolist() for i, _ in _batches(pairs=1, seed=5).take(5)]
    other = [_videos(i).tolist() for i, _ in _batches(pairs=1, seed=6).take(5)]
    assert first == again and first != other


def test_one_epoch_without_repeat():
    assert len(list(_batches(pairs=2, batch_size=4, repeat=False))) == 3  # ⌈9 / 4⌉


def test_impossible_pairings_are_named():
    with pytest.raises(ValueError, match="batches of at least 6 videos; batch_size is 4"):
        _batches(pairs=3, batch_size=4)
    with pytest.raises(DataError, match="no class has two training videos"):
        _batches(pairs=1, multi_hot=np.eye(4, dtype=np.float32))
