"""WSGN SLoc: a softmax over the time steps of a video, per class."""

from __future__ import annotations

from keras import ops

from keras_wsal.layers.masked_ops import masked_softmax_over_time
from keras_wsal.layers.temporal_normalization import TemporalNormalization
from keras_wsal.utils.registration import keras_wsal_serializable

SUMS = ("length", "one")


@keras_wsal_serializable
class TemporalSoftmaxNorm(TemporalNormalization):
    """SLoc frame selection of WSGN: softmax over time for each class.

    WSGN (Fernando et al., WACV 2020), eq. 7: for selection scores x_t^q of class q,

        s_t^q = exp(x_t^q) / Σ_{i valid} exp(x_i^q)                      (sum_to="one")

    so that each class's weights sum to 1 over the valid steps of a video. Used in eq. 2, ŷ =
    (1/T) Σ_t s_t ⊙ p_t, those weights bound ŷ by 1/T (and the complete model's average of
    three norms by 2/3 + 1/(3T)): binary cross-entropy can never fit a positive label, and in
    our measurements SLoc alone then localises nothing. The paper's SLoc rows are better than
    its Naive baseline, so the default scales the weights to average 1 over the valid steps,
    like the Gaussians' (whose weights are at most 1):

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

    def __init__(self, sum_to: str = "length", **kwargs):
        super().__init__(**kwargs)
        if sum_to not in SUMS:
            raise ValueError(
                f"TemporalSoftmaxNorm: `sum_to` must be one of {SUMS}; received {sum_to!r}."
            )
        self.sum_to = sum_to

    def normalize(self, scores, valid):
        weights = masked_softmax_over_time(scores, valid)
        if self.sum_to == "one":
            return weights
        return weights * ops.sum(valid, axis=1, keepdims=True)

    def get_config(self):
        config = super().get_config()
        config["sum_to"] = self.sum_to
        return config
