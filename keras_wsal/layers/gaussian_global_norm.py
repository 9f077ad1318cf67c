"""WSGN GLoc: a Gaussian of each score under a learned, dataset-wide distribution per class."""

from __future__ import annotations

import math

import keras
from keras import ops

from keras_wsal.layers.masked_ops import check_scores_shape
from keras_wsal.layers.temporal_normalization import SUM_TO_LENGTH, TemporalNormalization
from keras_wsal.utils.registration import keras_wsal_serializable


def _positive_float(layer_name: str, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{layer_name}: `{name}` must be a float > 0; received {name}={value!r}.")
    return float(value)


@keras_wsal_serializable
class GaussianGlobalNorm(TemporalNormalization):
    """GLoc frame selection of WSGN: a global Gaussian with a learned mean and deviation per class.

    WSGN (Fernando et al., WACV 2020), eq. 5: for selection scores x_t^q of class q,

        l_t^q = exp(-((x_t^q - μ_l^q) / s_l^q)²)

    where μ_l and s_l are `[classes]` vectors learned with the rest of the network, so they
    summarise the score distribution of each class over the whole training set. The deviation is
    kept positive by its parametrisation s_l = softplus(ρ) + min_sigma, with ρ the trainable
    weight `raw_sigma`. Computed in float32.

    The default rescales each class's weights to sum to T_valid over the valid steps of a video,

        l_t^q = T_valid · softmax_t(-((x_t^q - μ_l^q) / s_l^q)²)        (sum_to="length")

    as SLoc's default does: with eq. 5's weights, all at most 1, the video score of eq. 2,
    ŷ = (1/T) Σ_t l_t p_t, reaches 1 only if every step is selected, so binary cross-entropy on a
    positive label pushes GLoc to select the whole video; rescaled, ŷ is a weighted mean of the
    p_t that a few selected steps can bring to 1. On the benchmark this took GLoc from level with
    the Naive baseline to above it (README, "Results"). `sum_to=None` is eq. 5 literally.

    Edges: a one-step video gets weight 1 with "length" (exp(-((x - μ)/s)²) with None); equal
    scores get 1 each with "length"; padded steps get 0.

    Args:
        initial_mean: initial value of every μ_l^q.
        initial_sigma: initial value of every s_l^q (> min_sigma).
        min_sigma: lower bound of s_l (> 0).
        sum_to: "length" (default) or None (eq. 5 literally).

    Call arguments:
        inputs: selection scores `[batch, time, classes]`; `classes` must be known.
        mask: optional boolean `[batch, time]`, True at real (non-padded) steps.

    Input shape: `(batch, time, classes)`; `time` may be None.
    Output shape: `(batch, time, classes)`, the same mask.

    Example:

    >>> scores = keras.Input((None, 20))
    >>> weights = GaussianGlobalNorm()(scores)
    """

    def __init__(
        self,
        initial_mean: float = 0.0,
        initial_sigma: float = 1.0,
        min_sigma: float = 1e-3,
        sum_to: str | None = SUM_TO_LENGTH,
        **kwargs,
    ):
        super().__init__(sum_to=sum_to, **kwargs)
        if isinstance(initial_mean, bool) or not isinstance(initial_mean, (int, float)):
            raise ValueError(
                f"GaussianGlobalNorm: `initial_mean` must be a float; received {initial_mean!r}."
            )
        self.initial_mean = float(initial_mean)
        self.initial_sigma = _positive_float("GaussianGlobalNorm", "initial_sigma", initial_sigma)
        self.min_sigma = _positive_float("GaussianGlobalNorm", "min_sigma", min_sigma)
        if self.initial_sigma <= self.min_sigma:
            raise ValueError(
                "GaussianGlobalNorm: `initial_sigma` must be larger than `min_sigma`; received "
                f"initial_sigma={initial_sigma!r}, min_sigma={min_sigma!r}."
            )

    def build(self, input_shape):
        check_scores_shape(self.name, "inputs", input_shape)
        if input_shape[-1] is None:
            raise ValueError(f"{self.name}: the class dimension of `inputs` must be known.")
        num_classes = int(input_shape[-1])
        # softplus⁻¹(initial_sigma - min_sigma), so that s_l starts at initial_sigma.
        raw = math.log(math.expm1(self.initial_sigma - self.min_sigma))
        self.mean = self.add_weight(
            name="mean",
            shape=(num_classes,),
            initializer=keras.initializers.Constant(self.initial_mean),
        )
        self.raw_sigma = self.add_weight(
            name="raw_sigma",
            shape=(num_classes,),
            initializer=keras.initializers.Constant(raw),
        )

    @property
    def sigma(self):
        """The positive deviations s_l, float32 `[classes]`."""
        return ops.softplus(ops.cast(self.raw_sigma, "float32")) + self.min_sigma

    def log_weights(self, scores, valid):
        standardized = (scores - ops.cast(self.mean, "float32")) / self.sigma
        return -ops.square(standardized)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "initial_mean": self.initial_mean,
                "initial_sigma": self.initial_sigma,
                "min_sigma": self.min_sigma,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        # Layers saved before `sum_to` existed computed eq. 5 literally.
        return cls(**{"sum_to": None, **config})
