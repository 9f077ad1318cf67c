"""WSGN SLoc: a softmax over the time steps of a video, per class."""

from __future__ import annotations

from keras_wsal.layers.temporal_normalization import (
    SUM_TO_LENGTH,
    SUM_TO_ONE,
    TemporalNormalization,
)
from keras_wsal.utils.registration import keras_wsal_serializable


@keras_wsal_serializable
class TemporalSoftmaxNorm(TemporalNormalization):
    """SLoc frame selection of WSGN: softmax over time for each class.

    WSGN (Fernando et al., WACV 2020), eq. 7: for selection scores x_t^q of class q,

        s_t^q = exp(x_t^q) / Σ_{i valid} exp(x_i^q)                      (sum_to="one")

    so that each class's weights sum to 1 over the valid steps of a video. Used in eq. 2, ŷ =
    (1/T) Σ_t s_t ⊙ p_t, those weights bound ŷ by 1/T (and the complete model's average of
    three norms by 2/3 + 1/(3T)): binary cross-entropy can never fit a positive label, and in
    our measurements SLoc alone then localises nothing. The paper's SLoc rows are better than
    its Naive baseline, so the default scales the weights to average 1 over the valid steps
    (as GLoc's default does; see `TemporalNormalization`):

        s_t^q = T_valid · exp(x_t^q) / Σ_{i valid} exp(x_i^q)          (sum_to="length", default)

    with which ŷ = Σ_t softmax_t(x) p_t can reach 1. The exponentials are taken in float32 after
    subtracting each class's maximum (no overflow for logits of ±1e4).

    Edges: a one-step video gets weight 1 (either way); equal scores get 1 each ("length") or
    1 / T_valid ("one"); padded steps get 0 and a video with no valid step gets 0 everywhere.

    Args:
        sum_to: "length" (weights sum to T_valid, default) or "one" (eq. 7 literally).

    Call arguments:
        inputs: selection scores `[batch, time, classes]`.
        mask: optional boolean `[batch, time]`, True at real (non-padded) steps.

    Input shape: `(batch, time, classes)`; `time` may be None.
    Output shape: `(batch, time, classes)`, the same mask.

    Example:

    >>> scores = keras.Input((None, 20))
    >>> weights = TemporalSoftmaxNorm()(scores)
    """

    SUM_CHOICES = (SUM_TO_ONE, SUM_TO_LENGTH)

    def __init__(self, sum_to: str = SUM_TO_LENGTH, **kwargs):
        super().__init__(sum_to=sum_to, **kwargs)

    def log_weights(self, scores, valid):
        return scores
