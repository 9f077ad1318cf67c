"""Per-snippet networks run on the valid snippets of a padded batch only.

A training batch pads its videos to the longest one (and crops at `max_length`): on THUMOS14's
validation videos under WSGN's recipe about a quarter of the `[B, T]` snippets are padding. The
heads' per-snippet layers (`Dense` on each snippet's features, the bulk of a step's FLOPs) need not
run on them: their outputs at padded snippets are masked out of every prediction and loss.
"""

from __future__ import annotations

import keras
from keras import ops

# The heads run on the valid rows rounded up to a multiple of this (with padded rows, whose outputs
# are dropped): oneDNN builds and caches its kernels per matrix shape, and a new row count at every
# batch grew training's memory by 390 MiB at D 256 where multiples of 256 rows (about 30 shapes)
# grew it by 256 (`benchmarks/bench_side_by_side.py --feature-dim 256`, the files row), for at
# most 255 rows of extra work.
ROWS_MULTIPLE = 256


def on_valid_snippets(function, features, mask):
    """`function` applied to each valid snippet of `features`, its outputs put back in place.

    With `features` `[B, T, D]` and `mask` `[B, T]` (True at real snippets, or None: all real),
    and `function` mapping snippet rows `[N, D]` to a tuple of arrays `[N, K_i]` row by row (output
    row n depends on input row n only, as `Dense` layers do), returns the tuple of `[B, T, K_i]`

        out_i[b, t] = function(features[b, t])_i   where mask[b, t],   0 elsewhere.

    Under TensorFlow, `function` runs on the N valid rows only, with padded rows up to a multiple
    of `ROWS_MULTIPLE` (gathered with `tf.where`; the outputs of the N scattered back; under XLA,
    whose shapes are static, its dynamic padder pads the rows back to B·T, with the same values),
    or in place when all B·T are valid. Under JAX and PyTorch it runs on all B·T rows and the
    padded rows' outputs are set to 0: the values are the same.
    """
    shape = ops.shape(features)
    rows = ops.reshape(features, (-1, shape[-1]))
    if keras.backend.backend() == "tensorflow" and mask is not None:
        return _on_valid_rows_tensorflow(function, features, rows, mask)
    outputs = function(rows)
    valid = None if mask is None else ops.reshape(ops.cast(mask, "bool"), (-1, 1))
    return tuple(
        ops.reshape(
            out if valid is None else ops.where(valid, out, ops.zeros((), out.dtype)),
            (shape[0], shape[1], ops.shape(out)[-1]),
        )
        for out in outputs
    )


def _on_valid_rows_tensorflow(function, features, rows, mask):
    """`on_valid_snippets` under TensorFlow: the valid rows gathered, the outputs scattered back;
    when every step is valid (inference on one video, fixed-length batches) the rows are used in
    place, without the copy."""
    import tensorflow as tf

    flat_mask = tf.reshape(tf.cast(mask, tf.bool), [-1])

    def in_place():
        return tuple(function(rows))

    def gathered():
        valid = tf.cast(tf.where(flat_mask)[:, 0], tf.int32)
        count, total = tf.size(valid), tf.size(flat_mask)
        # N rounded up to a multiple of ROWS_MULTIPLE with padded rows (their outputs dropped).
        rounded = tf.minimum(total, -(-count // ROWS_MULTIPLE) * ROWS_MULTIPLE)
        padded = tf.cast(tf.where(tf.logical_not(flat_mask))[:, 0], tf.int32)
        index = tf.concat([valid, padded[: rounded - count]], axis=0)
        outputs = function(tf.gather(rows, index))
        return tuple(
            tf.scatter_nd(valid[:, None], out[:count], tf.stack([total, tf.shape(out)[1]]))
            for out in outputs
        )

    outputs = tf.cond(tf.reduce_all(flat_mask), in_place, gathered)
    return tuple(
        tf.reshape(out, tf.concat([tf.shape(features)[:2], tf.shape(out)[1:]], axis=0))
        for out in outputs
    )
