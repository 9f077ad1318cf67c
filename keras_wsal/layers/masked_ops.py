"""Masked operations over time for the layers, models and losses: shape checks and reductions.

All reductions run in float32 whatever the layer's compute dtype: under `mixed_float16` a sum of
hundreds of exponentials, or the square of a logit of 1e4, would overflow float16.
"""

from __future__ import annotations

from keras import ops


def check_scores_shape(layer_name: str, argument: str, shape, rank: int = 3) -> None:
    """Raise a ValueError unless `shape` has the given rank (default `[batch, time, channels]`)."""
    if shape is None or len(shape) != rank:
        expected = "[batch, time, channels]" if rank == 3 else f"rank {rank}"
        raise ValueError(
            f"{layer_name}: `{argument}` must have shape {expected} (rank {rank}); "
            f"received shape {None if shape is None else tuple(shape)}."
        )


def check_mask_shape(layer_name: str, scores_shape, mask_shape) -> None:
    """Raise a ValueError unless the mask is `[batch, time]` and agrees with the scores' shape."""
    if mask_shape is None:
        return
    if len(mask_shape) != 2:
        raise ValueError(
            f"{layer_name}: `mask` must have shape [batch, time] (rank 2); "
            f"received shape {tuple(mask_shape)}."
        )
    for axis, name in ((0, "batch"), (1, "time")):
        a, b = mask_shape[axis], scores_shape[axis]
        if a is not None and b is not None and int(a) != int(b):
            raise ValueError(
                f"{layer_name}: `mask` shape {tuple(mask_shape)} does not match the {name} "
                f"dimension of the inputs {tuple(scores_shape)}; expected mask shape "
                f"[{scores_shape[0]}, {scores_shape[1]}]."
            )


def first_mask(mask):
    """The mask of the first input when Keras passes one mask per input, else `mask` itself."""
    if isinstance(mask, (list, tuple)):
        return next((m for m in mask if m is not None), None)
    return mask


def float_mask(mask, like):
    """`[batch, time]` boolean (or 0/1) mask → float32 `[batch, time, 1]`; all ones when None."""
    if mask is None:
        return ops.ones_like(like[..., :1], dtype="float32")
    return ops.expand_dims(ops.cast(ops.cast(mask, "bool"), "float32"), -1)


def safe_divide(numerator, denominator):
    """numerator / denominator, with 0 where the denominator is 0 (finite values and gradients)."""
    nonzero = ops.not_equal(denominator, 0.0)
    return ops.where(nonzero, numerator / ops.where(nonzero, denominator, 1.0), 0.0)


def masked_softmax_over_time(logits, valid):
    """Softmax over axis 1 restricted to valid steps, in float32.

    Args:
        logits: float32 `[batch, time, channels]`.
        valid: float32 `[batch, time, 1]` of 0/1.

    Returns:
        float32 `[batch, time, channels]`; each channel sums to 1 over the valid steps of a video,
        0 at padded steps, and 0 everywhere for a video with no valid step.
    """
    is_valid = ops.greater(valid, 0.0)
    # A finite stand-in for -inf: padded steps never win the max, and nothing overflows.
    max_valid = ops.max(ops.where(is_valid, logits, -1e30), axis=1, keepdims=True)
    shifted = ops.where(is_valid, logits - max_valid, 0.0)
    weights = ops.exp(shifted) * valid
    return safe_divide(weights, ops.sum(weights, axis=1, keepdims=True))


def masked_moments_over_time(values, valid):
    """Mean and population variance over the valid steps of each video (axis 1), in float32.

    Returns `(mean, variance)`, each `[batch, 1, channels]`; both 0 for a video with no valid step.
    """
    count = ops.sum(valid, axis=1, keepdims=True)
    mean = safe_divide(ops.sum(values * valid, axis=1, keepdims=True), count)
    variance = safe_divide(ops.sum(ops.square(values - mean) * valid, axis=1, keepdims=True), count)
    return mean, variance
