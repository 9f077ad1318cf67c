"""The base of WSGN's frame-selection layers (ZLoc, GLoc, SLoc)."""

from __future__ import annotations

import keras
from keras import ops

from keras_wsal.layers.masked_ops import (
    check_mask_shape,
    check_scores_shape,
    first_mask,
    float_mask,
)


class TemporalNormalization(keras.layers.Layer):
    """Base of the WSGN frame-selection layers: `[batch, time, classes]` scores in, weights out.

    Checks the input and mask shapes, casts the scores to float32, builds the `[batch, time, 1]`
    validity mask, and casts the weights back to the compute dtype with 0 at padded steps.
    Subclasses define `normalize(scores, valid)` (both float32) and may override `build`.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def build(self, input_shape):
        check_scores_shape(self.name, "inputs", input_shape)

    def call(self, inputs, mask=None):
        mask = first_mask(mask)
        check_scores_shape(self.name, "inputs", inputs.shape)
        check_mask_shape(self.name, inputs.shape, None if mask is None else mask.shape)
        scores = ops.cast(inputs, "float32")
        valid = float_mask(mask, scores)
        return ops.cast(self.normalize(scores, valid) * valid, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        check_scores_shape(self.name, "inputs", input_shape)
        return tuple(input_shape)
