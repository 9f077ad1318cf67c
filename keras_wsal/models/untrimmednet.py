"""UntrimmedNet (Wang et al., CVPR 2017) on snippet features: classification + selection."""

from __future__ import annotations

import keras
from keras import ops

from keras_wsal.layers import AttentionSelect, SixteenBitDropout, TopKSelect
from keras_wsal.models._base import SnippetModel
from keras_wsal.utils.registration import keras_wsal_serializable

MODES = ("hard", "soft")


class _UntrimmedNetHead(keras.layers.Layer):
    """Classification module (eq. 1) and hard (eq. 3) or soft (eq. 2, 4) selection module."""

    def __init__(self, num_classes, mode, k, k_ratio, dropout, kernel_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        self.mode = mode
        self.dropout = SixteenBitDropout(dropout)
        self.classifier = keras.layers.Dense(
            num_classes, kernel_regularizer=kernel_regularizer, name="classification"
        )
        if mode == "hard":
            self.selector = TopKSelect(k=k, k_ratio=k_ratio, name="hard_selection")
        else:
            self.selector = AttentionSelect(
                return_attention=True, kernel_regularizer=kernel_regularizer, name="soft_selection"
            )

    def build(self, input_shape):
        self.classifier.build(input_shape)
        if self.mode == "soft":
            self.selector.build([input_shape, tuple(input_shape[:-1]) + (self.classifier.units,)])
        self.built = True

    def call(self, features, snippet_mask=None, training=None):
        mask = snippet_mask
        phi = self.dropout(features, training=training)
        scores = self.classifier(phi)
        probabilities = ops.softmax(ops.cast(scores, "float32"), axis=-1)
        if self.mode == "hard":
            video = ops.softmax(ops.cast(self.selector(scores, mask=mask), "float32"), axis=-1)
            selection = self.selector.selection(scores, mask=mask)
        else:
            video, attention = self.selector([phi, probabilities], mask=mask)
            selection = ops.cast(attention, "float32")[..., None]
        return {
            "video_scores": video,
            "snippet_scores": probabilities,
            "selection": selection,
            "detection_scores": probabilities,
            "logits": scores,
            "features": phi,
        }


@keras_wsal_serializable
class UntrimmedNet(SnippetModel):
    """UntrimmedNet on snippet features: a linear classifier and a hard or soft selection module.

    Classification module (eq. 1): x^c(c_t) = W_c φ(c_t), softmax over classes x̄^c.
    Selection and video prediction:

    - `mode="hard"` (eq. 3): per class the mean of the top-k raw scores x^c over time
      (`TopKSelect`), then a softmax over classes;
    - `mode="soft"` (eq. 2, 4): attention x̄^s = softmax_t(w_sᵀ φ) over snippets and the
      weighted sum Σ_t x̄^s(c_t) x̄^c(c_t) (`AttentionSelect`).

    Train with `keras_wsal.losses.UntrimmedNetLoss` (cross-entropy with ℓ1-normalised labels,
    eq. 5). Dropout is applied to the features φ (the paper uses 0.8 spatial / 0.7 temporal on
    its backbone; 0.5 is the default on pre-extracted features).

    Args:
        num_classes: number of action classes C.
        feature_dims: `D` for one stream called "features", or `{"rgb": D1, "flow": D2}`.
        mode: "hard" or "soft".
        k, k_ratio: for `mode="hard"`, `TopKSelect`'s arguments (default `k_ratio=1/8`).
        dropout: dropout rate on the snippet features.
        fusion: "late" (a head per stream, outputs averaged, as the paper) or "concat".
        casl_weight, casl_margin, weight_decay: see `SnippetModel`.

    Inputs: `{"features" | "rgb", "flow": [B, T, D], "mask": bool [B, T]}`.
    Output of `call`: the video prediction x̄^p `[B, C]` (float32, sums to 1).
    `snippet_outputs(inputs)` also gives `snippet_scores` x̄^c, `selection` (soft: attention
    `[B, T, 1]`; hard: top-k indicator `[B, T, C]`) and `detection_scores` (x̄^c; UntrimmedNet's
    detection removes background with the attention, then thresholds x̄^c).

    Example:

    >>> model = UntrimmedNet(num_classes=20, feature_dims={"rgb": 1024, "flow": 1024}, mode="soft")
    >>> model.compile(optimizer="adam", loss=keras_wsal.losses.UntrimmedNetLoss())
    """

    def __init__(
        self,
        num_classes: int,
        feature_dims,
        mode: str = "soft",
        k: int | None = None,
        k_ratio: float | None = None,
        dropout: float = 0.5,
        fusion: str = "late",
        **kwargs,
    ):
        if mode not in MODES:
            raise ValueError(f"UntrimmedNet: `mode` must be one of {MODES}; received {mode!r}.")
        if mode == "hard" and k is None and k_ratio is None:
            k_ratio = 0.125
        self.mode = mode
        self.k = k
        self.k_ratio = k_ratio
        self.dropout = float(dropout)
        if mode == "hard":
            TopKSelect(k=k, k_ratio=k_ratio)  # validates k / k_ratio before any layer is built
        super().__init__(num_classes, feature_dims, fusion=fusion, **kwargs)

    def _make_head(self, name, input_dim):
        return _UntrimmedNetHead(
            self.num_classes,
            self.mode,
            self.k,
            self.k_ratio,
            self.dropout,
            kernel_regularizer=self._kernel_regularizer(),
            name=name,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {"mode": self.mode, "k": self.k, "k_ratio": self.k_ratio, "dropout": self.dropout}
        )
        return config
