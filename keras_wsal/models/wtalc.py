"""W-TALC (Paul et al., ECCV 2018) built from keras_wsal's parts: a baseline for WSGN's Table 3."""

from __future__ import annotations

import keras
from keras import ops

from keras_wsal.layers import SixteenBitDropout, TopKSelect
from keras_wsal.layers.valid_snippets import on_valid_snippets
from keras_wsal.models._base import SnippetModel
from keras_wsal.utils.arguments import is_int
from keras_wsal.utils.registration import keras_wsal_serializable


class _WTALCHead(keras.layers.Layer):
    """One hidden layer (ReLU, dropout), a linear classifier, top-k pooling over time."""

    def __init__(
        self, num_classes, hidden_dim, dropout, k_ratio, kernel_regularizer=None, **kwargs
    ):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(
            hidden_dim, activation="relu", kernel_regularizer=kernel_regularizer, name="hidden"
        )
        self.dropout = SixteenBitDropout(dropout)
        self.classifier = keras.layers.Dense(
            num_classes, kernel_regularizer=kernel_regularizer, name="classification"
        )
        self.pool = TopKSelect(k_ratio=k_ratio, name="top_k")

    def build(self, input_shape):
        self.hidden.build(input_shape)
        self.classifier.build(tuple(input_shape[:-1]) + (self.hidden.units,))
        self.built = True

    def call(self, features, snippet_mask=None, training=None):
        def snippet_network(rows):
            hidden = self.dropout(self.hidden(rows), training=training)
            return hidden, self.classifier(hidden)

        hidden, logits = on_valid_snippets(snippet_network, features, snippet_mask)
        pooled = ops.cast(self.pool(logits, mask=snippet_mask), "float32")
        logits32 = ops.cast(logits, "float32")
        return {
            "video_scores": ops.softmax(pooled, axis=-1),
            "snippet_scores": ops.softmax(logits32, axis=-1),
            "selection": self.pool.selection(logits, mask=snippet_mask),
            # The class activation sequence: W-TALC localises on the raw logits.
            "detection_scores": logits32,
            "logits": logits,
            "features": hidden,
        }


@keras_wsal_serializable
class WTALC(SnippetModel):
    """W-TALC's model on snippet features (Paul et al., ECCV 2018), from keras_wsal's parts.

    Per snippet, `X_t = dropout(relu(W_1 f_t + b_1))` (hidden size = feature size, dropout 0.7) and
    class logits `A_t = W_2 X_t + b_2` (the class activation sequence). Video prediction: per class
    the mean of the top-k logits over time, k = max(1, ⌊k_ratio · T⌋) with k_ratio = 1/8
    (`TopKSelect`; W-TALC rounds k up, ⌈T/8⌉, which differs by at most one snippet), then a
    softmax over classes. Loss: the multiple-instance cross-entropy with ℓ1-normalised labels
    (`keras_wsal.losses.UntrimmedNetLoss`, W-TALC's MILL) plus `casl_weight` (0.5) × CASL on
    (X, A) (`co_activity_similarity_loss`).

    Detection (`keras_wsal.inference.DetectionRule.wtalc`) thresholds the raw logits A_t: a class
    is localised when its mean top-⌊T/8⌋ logit is > 0, each class's curve at max − ½ (max − min),
    runs of at least 2 snippets, score = the run's maximum + 0.7 × the class's top-k logit.

    Args:
        num_classes: C.
        feature_dims: `D` for one stream called "features", or `{"rgb": D1, "flow": D2}`.
        hidden_dim: the hidden size (default: the head's input feature size).
        dropout: dropout rate on the hidden layer (0.7).
        k_ratio: the top-k fraction (1/8).
        fusion: "concat" (W-TALC concatenates RGB and flow) or "late".
        casl_weight, casl_margin, weight_decay: see `SnippetModel` (CASL 0.5, no weight decay
            in W-TALC's code).

    Outputs: `call` gives the video prediction `[B, C]` (sums to 1); `snippet_outputs` also
    `snippet_scores` (softmax over classes), `selection` (top-k indicator) and
    `detection_scores` (the raw logits A, `[B, T, C]`).
    """

    def __init__(
        self,
        num_classes: int,
        feature_dims,
        hidden_dim: int | None = None,
        dropout: float = 0.7,
        k_ratio: float = 0.125,
        fusion: str = "concat",
        casl_weight: float = 0.5,
        **kwargs,
    ):
        if hidden_dim is not None and (not is_int(hidden_dim, 1)):
            raise ValueError(
                f"WTALC: `hidden_dim` must be an int ≥ 1 or None; received {hidden_dim!r}."
            )
        TopKSelect(k_ratio=k_ratio)  # validates k_ratio before any layer is built
        self.hidden_dim = hidden_dim
        self.dropout = float(dropout)
        self.k_ratio = float(k_ratio)
        super().__init__(
            num_classes, feature_dims, fusion=fusion, casl_weight=casl_weight, **kwargs
        )

    def _make_head(self, name, input_dim):
        return _WTALCHead(
            self.num_classes,
            self.hidden_dim or input_dim,
            self.dropout,
            self.k_ratio,
            kernel_regularizer=self._kernel_regularizer(),
            name=name,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {"hidden_dim": self.hidden_dim, "dropout": self.dropout, "k_ratio": self.k_ratio}
        )
        return config
