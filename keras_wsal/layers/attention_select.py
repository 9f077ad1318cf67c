"""UntrimmedNet soft selection: a linear attention over clips and the attention-weighted sum."""

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
from keras_wsal.utils.registration import keras_wsal_serializable


@keras_wsal_serializable
class AttentionSelect(keras.layers.Layer):
    """Soft selection of UntrimmedNet: attention over clips and the weighted sum of predictions.

    UntrimmedNet (Wang et al., CVPR 2017), eq. 2 and eq. 4. Each clip (snippet) c_t gets a
    selection score from its feature by a linear map owned by this layer,
    x^s(c_t) = w_sᵀ φ(c_t), turned into attention weights by a softmax over the valid clips of
    the video (eq. 2),

        x̄^s(c_t) = exp(x^s(c_t)) / Σ_{n valid} exp(x^s(c_n)),

    and the video prediction is the attention-weighted sum of the clips' class probabilities
    (eq. 4), a convex combination of probability vectors:

        x̄^p(V) = Σ_t x̄^s(c_t) · x̄^c(c_t).

    The attention is computed in float32. w_s has no bias: a shared bias cancels in eq. 2.

    Edges: a one-step video has attention 1 and returns its clip's probabilities; equal
    selection scores give the plain mean over valid clips; padded clips get attention 0; a video
    with no valid clip returns 0 (attention and prediction).

    Args:
        return_attention: if True, `call` returns `(video_prediction, attention)`.
        kernel_initializer, kernel_regularizer: for w_s, shape `[feature_dim, 1]`.

    Call arguments:
        inputs: a list `[features, class_probabilities]`: features φ `[batch, time, D]` and
            class probabilities x̄^c (eq. 1, softmax over classes) `[batch, time, classes]`.
        mask: optional boolean `[batch, time]`, True at real (non-padded) clips.

    Output shape: video prediction `(batch, classes)`; with `return_attention=True` also the
    attention weights `(batch, time)`, which sum to 1 over each video's valid clips.

    Example:

    >>> features = keras.Input((None, 1024))
    >>> probabilities = keras.layers.Dense(20, activation="softmax")(features)
    >>> video = AttentionSelect()([features, probabilities])
    >>> model = keras.Model(features, video)
    """

    def __init__(
        self,
        return_attention: bool = False,
        kernel_initializer="glorot_uniform",
        kernel_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.return_attention = bool(return_attention)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.supports_masking = True

    def _split(self, shapes):
        if not isinstance(shapes, (list, tuple)) or len(shapes) != 2:
            raise ValueError(
                f"{self.name}: `inputs` must be a list [features [batch, time, D], "
                f"class_probabilities [batch, time, classes]]; received {shapes!r}."
            )
        features_shape, probabilities_shape = shapes
        check_scores_shape(self.name, "inputs[0] (features)", features_shape)
        check_scores_shape(self.name, "inputs[1] (class_probabilities)", probabilities_shape)
        for axis, name in ((0, "batch"), (1, "time")):
            a, b = features_shape[axis], probabilities_shape[axis]
            if a is not None and b is not None and int(a) != int(b):
                raise ValueError(
                    f"{self.name}: features {tuple(features_shape)} and class_probabilities "
                    f"{tuple(probabilities_shape)} must agree in the {name} dimension."
                )
        return features_shape, probabilities_shape

    def build(self, input_shape):
        features_shape, _ = self._split(input_shape)
        if features_shape[-1] is None:
            raise ValueError(f"{self.name}: the feature dimension of inputs[0] must be known.")
        self.kernel = self.add_weight(
            name="kernel",
            shape=(int(features_shape[-1]), 1),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )

    def attention(self, features, mask=None):
        """Attention weights x̄^s `[batch, time]` in float32 (eq. 2)."""
        selection_scores = ops.matmul(
            ops.cast(features, "float32"), ops.cast(self.kernel, "float32")
        )
        return masked_softmax_over_time(selection_scores, float_mask(mask, selection_scores))[
            ..., 0
        ]

    def call(self, inputs, mask=None):
        features, probabilities = inputs
        mask = first_mask(mask)
        self._split([features.shape, probabilities.shape])
        check_mask_shape(self.name, features.shape, None if mask is None else mask.shape)
        attention = self.attention(features, mask)
        video = ops.einsum("bt,btc->bc", attention, ops.cast(probabilities, "float32"))
        video = ops.cast(video, self.compute_dtype)
        if self.return_attention:
            return video, ops.cast(attention, self.compute_dtype)
        return video

    def compute_mask(self, inputs, mask=None):
        return (None, None) if self.return_attention else None

    def compute_output_shape(self, input_shape):
        features_shape, probabilities_shape = self._split(input_shape)
        video = (features_shape[0], probabilities_shape[-1])
        if self.return_attention:
            return video, (features_shape[0], features_shape[1])
        return video

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "return_attention": self.return_attention,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            }
        )
        return config
