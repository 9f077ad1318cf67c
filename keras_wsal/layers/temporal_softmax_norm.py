"""WSGN SLoc: a softmax over the time steps of a video, per class."""

from __future__ import annotations

from keras_wsal._serialization import keras_wsal_serializable
from keras_wsal.layers._temporal import TemporalNormalization, masked_softmax_over_time


@keras_wsal_serializable
class TemporalSoftmaxNorm(TemporalNormalization):
    """SLoc frame selection of WSGN: softmax over time for each class.

    WSGN (Fernando et al., WACV 2020), eq. 7: for selection scores x_t^q of class q,

        s_t^q = exp(x_t^q) / Σ_{i valid} exp(x_i^q)

    so that each class's weights sum to 1 over the valid steps of a video. The exponentials are
    taken in float32 after subtracting each class's maximum (no overflow for logits of ±1e4).

    Edges: a one-step video gets weight 1; equal scores get 1 / T_valid each; padded steps get 0
    and a video with no valid step gets 0 everywhere.

    Call arguments:
        inputs: selection scores `[batch, time, classes]`.
        mask: optional boolean `[batch, time]`, True at real (non-padded) steps.

    Input shape: `(batch, time, classes)`; `time` may be None.
    Output shape: `(batch, time, classes)`, the same mask.

    Example:

    >>> scores = keras.Input((None, 20))
    >>> weights = TemporalSoftmaxNorm()(scores)
    """

    def normalize(self, scores, valid):
        return masked_softmax_over_time(scores, valid)
