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
    batch, time, dim = ops.shape(features)
    rows = ops.reshape(features, (-1, dim))
    if mask is None:
        flat = function(rows)
    elif keras.backend.backend() == "tensorflow":
        flat = _on_valid_rows_tensorflow(function, rows, ops.reshape(mask, (-1,)))
    else:
        valid = ops.reshape(ops.cast(mask, "bool"), (-1, 1))
        flat = [ops.where(valid, out, ops.zeros((), out.dtype)) for out in function(rows)]
    return tuple(ops.reshape(out, (batch, time, ops.shape(out)[-1])) for out in flat)


def _on_valid_rows_tensorflow(function, rows, flat_mask):
    """`function`'s outputs `[B·T, K_i]` on the valid rows, 0 elsewhere, under TensorFlow: the
    valid rows gathered (and padded ones up to a multiple of `ROWS_MULTIPLE`), the outputs
    scattered back; when every row is valid (inference on one video, fixed-length batches), the
    rows in place, without the copy."""
    import tensorflow as tf

    flat_mask = tf.cast(flat_mask, tf.bool)

    def in_place():
        return tuple(function(rows))

    def gathered():
        total = tf.size(flat_mask)
        count = tf.reduce_sum(tf.cast(flat_mask, tf.int32))
        rounded = tf.minimum(total, -(-count // ROWS_MULTIPLE) * ROWS_MULTIPLE)
        # The valid rows in order, then the padded ones: the first `rounded` are computed.
        index = tf.argsort(tf.cast(tf.logical_not(flat_mask), tf.int32), stable=True)[:rounded]
        outputs = function(tf.gather(rows, index))
        return tuple(
            tf.scatter_nd(index[:count, None], out[:count], tf.stack([total, tf.shape(out)[1]]))
            for out in outputs
        )

    return tf.cond(tf.reduce_all(flat_mask), in_place, gathered)
