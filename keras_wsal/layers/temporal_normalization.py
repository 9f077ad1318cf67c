"""The base of WSGN's frame-selection layers (ZLoc, GLoc, SLoc)."""

from __future__ import annotations

import keras
from keras import ops

from keras_wsal.layers.masked_ops import (
    check_mask_shape,
    check_scores_shape,
    first_mask,
    float_mask,
    masked_softmax_over_time,
)

# What a frame-selection layer's weights sum to over the valid steps of a video, per class:
# "length": T_valid, so that they average 1 and ŷ = (1/T) Σ_t w_t p_t can reach 1; "one": 1 (a
# softmax over time, eq. 7 literally); None: nothing imposed (each weight exp(log-weight) in (0, 1],
# eq. 3 and eq. 5 literally).
SUM_TO_LENGTH = "length"
SUM_TO_ONE = "one"


class TemporalNormalization(keras.layers.Layer):
    """Base of the WSGN frame-selection layers: `[batch, time, classes]` scores in, weights out.

    Subclasses define `log_weights(scores, valid)` (both float32), the log of each step's weight
    as its equation gives it, and the `sum_to` values they accept (`SUM_CHOICES`, the first the
    literal equation). The base checks the input and mask shapes, casts the scores to float32,
    builds the `[batch, time, 1]` validity mask and turns log-weights l_t into weights:

        w_t = exp(l_t)                                    (sum_to=None)
        w_t = exp(l_t) / Σ_{i valid} exp(l_i)             (sum_to="one")
        w_t = T_valid · exp(l_t) / Σ_{i valid} exp(l_i)   (sum_to="length")

    the last two as a softmax over the valid steps in float32 (no overflow, and no underflow to
    0/0 when every exp(l_t) is tiny). Weights are cast back to the compute dtype, 0 at padded
    steps.
    """

    SUM_CHOICES: tuple = (None, SUM_TO_LENGTH)

    def __init__(self, sum_to=SUM_TO_LENGTH, **kwargs):
        super().__init__(**kwargs)
        if sum_to not in self.SUM_CHOICES:
            raise ValueError(
                f"{type(self).__name__}: `sum_to` must be one of {self.SUM_CHOICES}; "
                f"received {sum_to!r}."
            )
        self.sum_to = sum_to
        self.supports_masking = True

    def build(self, input_shape):
        check_scores_shape(self.name, "inputs", input_shape)

    def call(self, inputs, mask=None):
        mask = first_mask(mask)
        check_scores_shape(self.name, "inputs", inputs.shape)
        check_mask_shape(self.name, inputs.shape, None if mask is None else mask.shape)
        scores = ops.cast(inputs, "float32")
        valid = float_mask(mask, scores)
        log_weights = self.log_weights(scores, valid)
        if self.sum_to is None:
            weights = ops.exp(log_weights)
        else:
            weights = masked_softmax_over_time(log_weights, valid)
            if self.sum_to == SUM_TO_LENGTH:
                weights = weights * ops.sum(valid, axis=1, keepdims=True)
        return ops.cast(weights * valid, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        check_scores_shape(self.name, "inputs", input_shape)
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config["sum_to"] = self.sum_to
        return config
