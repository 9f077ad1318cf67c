"""W-TALC's paired batches for its co-activity similarity loss (CASL)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from keras_wsal.errors import DataError


def similar_pair_indices(
    multi_hot: np.ndarray, batch_size: int, pairs: int, seed: int | None, batches: int | None
) -> tf.data.Dataset:
    """W-TALC's batches as a stream of video indices, `batch_size` at a time.

    Each batch starts with `pairs` pairs of videos that share a class (W-TALC's `n_similar`):
    `pairs` classes drawn at random among those with two or more videos (without replacement
    when there are enough), two different videos of each, and is filled with videos drawn at
    random. `batches` batches, or endless when None.
    """
    by_class = [np.flatnonzero(column) for column in np.asarray(multi_hot).T]
    eligible = [videos for videos in by_class if len(videos) >= 2]
    if not eligible:
        raise DataError("similar_pairs: no class has two training videos to pair")
    if batch_size < 2 * pairs:
        raise ValueError(
            f"similar_pairs={pairs} needs batches of at least {2 * pairs} videos; "
            f"batch_size is {batch_size}"
        )
    num_videos = len(multi_hot)

    def generate():
        rng = np.random.default_rng(seed)
        made = 0
        while batches is None or made < batches:
            classes = rng.choice(len(eligible), pairs, replace=len(eligible) < pairs)
            for chosen in classes:
                yield from (int(i) for i in rng.choice(eligible[chosen], 2, replace=False))
            yield from (int(i) for i in rng.integers(0, num_videos, batch_size - 2 * pairs))
            made += 1

    return tf.data.Dataset.from_generator(generate, output_signature=tf.TensorSpec([], tf.int64))
