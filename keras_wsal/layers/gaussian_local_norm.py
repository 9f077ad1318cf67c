"""WSGN ZLoc: a Gaussian of each score relative to its own video's score statistics."""

from __future__ import annotations

from keras import ops

from keras_wsal.layers.masked_ops import masked_moments_over_time
from keras_wsal.layers.temporal_normalization import TemporalNormalization
from keras_wsal.utils.registration import keras_wsal_serializable


@keras_wsal_serializable
class GaussianLocalNorm(TemporalNormalization):
    """ZLoc frame selection of WSGN: a local (per-video) Gaussian normalisation of scores.

    WSGN (Fernando et al., WACV 2020), eq. 3: for selection scores x_t^q of class q,

        z_t^q = exp(-((x_t^q - μ_z^q) / s_z^q)²)

    with μ_z^q the mean and s_z^q = sqrt(var_z^q + epsilon) the population standard deviation
    of class q's scores over the valid steps of the video. Scores far from the video's mean get
    weights near 0, scores near it weights near 1. No trainable weights; the statistics are part
    of the graph (gradients flow through them). Computed in float32.

    The default takes eq. 3 literally (`sum_to=None`). `sum_to="length"` rescales each class's
    weights to sum to T_valid, T_valid · softmax_t(-((x_t - μ_z) / s_z)²), as SLoc's and GLoc's
    defaults do; for ZLoc it measured worse (README, "Results"): ZLoc favours the steps near the
    video's mean, which are the majority, and an action covers a minority of its video's steps.

    Edges: a one-step video, or a class whose scores are all equal, has variance 0, so every
    valid step gets weight exp(0) = 1 (either way); padded steps get 0; a video with no valid step
    gets 0.

    Args:
        epsilon: float > 0 added to the variance (keeps s > 0 and its gradient finite).
        sum_to: None (eq. 3, default) or "length" (weights sum to T_valid over the valid steps).

    Call arguments:
        inputs: selection scores `[batch, time, classes]`.
        mask: optional boolean `[batch, time]`, True at real (non-padded) steps; the statistics
            use valid steps only.

    Input shape: `(batch, time, classes)`; `time` may be None.
    Output shape: `(batch, time, classes)`, the same mask.

    Example:

    >>> scores = keras.Input((None, 20))
    >>> weights = GaussianLocalNorm()(scores)
    """

    def __init__(self, epsilon: float = 1e-6, sum_to: str | None = None, **kwargs):
        super().__init__(sum_to=sum_to, **kwargs)
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not epsilon > 0:
            raise ValueError(
                f"GaussianLocalNorm: `epsilon` must be > 0; received epsilon={epsilon!r}."
            )
        self.epsilon = float(epsilon)

    def log_weights(self, scores, valid):
        mean, variance = masked_moments_over_time(scores, valid)
        return -ops.square(scores - mean) / (variance + self.epsilon)

    def get_config(self):
        config = super().get_config()
        config.update({"epsilon": self.epsilon})
        return config
