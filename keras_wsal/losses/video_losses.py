"""Video-level losses of the two papers."""

from __future__ import annotations

import keras
from keras import ops

from keras_wsal.utils.registration import keras_wsal_serializable

_EPSILON = 1e-7


@keras_wsal_serializable
class UntrimmedNetLoss(keras.losses.Loss):
    """Cross-entropy with ℓ1-normalised multi-label targets (UntrimmedNet, eq. 5).

        ȳ = y / ‖y‖₁,    ℓ = -Σ_k ȳ_k log x̄^p_k(V)

    for one video, averaged over the batch. `y_pred` are video probabilities (softmax over
    classes, as UntrimmedNet's video prediction). A video with no positive label has ȳ = 0 and
    contributes 0. Probabilities are clipped to [1e-7, 1] before the logarithm.

    Args:
        name, reduction: as for `keras.losses.Loss`.
    """

    def __init__(self, name: str = "untrimmednet_loss", reduction="sum_over_batch_size", **kwargs):
        super().__init__(name=name, reduction=reduction, **kwargs)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "float32")
        y_pred = ops.clip(ops.cast(y_pred, "float32"), _EPSILON, 1.0)
        total = ops.sum(y_true, axis=-1, keepdims=True)
        normalized = ops.where(total > 0, y_true / ops.where(total > 0, total, 1.0), 0.0)
        return -ops.sum(normalized * ops.log(y_pred), axis=-1)


@keras_wsal_serializable
class WSGNLoss(keras.losses.Loss):
    """Binary cross-entropy between video labels and video predictions (WSGN, §3.2–3.3).

        ℓ = -(1 / C) Σ_q [y_q log ŷ_q + (1 - y_q) log(1 - ŷ_q)]

    for one video, averaged over the batch; ŷ is clipped to [1e-7, 1 - 1e-7].
    """

    def __init__(self, name: str = "wsgn_loss", reduction="sum_over_batch_size", **kwargs):
        super().__init__(name=name, reduction=reduction, **kwargs)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "float32")
        y_pred = ops.clip(ops.cast(y_pred, "float32"), _EPSILON, 1.0 - _EPSILON)
        terms = y_true * ops.log(y_pred) + (1.0 - y_true) * ops.log(1.0 - y_pred)
        return -ops.mean(terms, axis=-1)
