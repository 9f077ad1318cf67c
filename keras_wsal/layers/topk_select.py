"""UntrimmedNet hard selection: top-k pooling over time (multiple instance learning)."""

from __future__ import annotations

import keras
from keras import ops

from keras_wsal.layers.masked_ops import (
    check_mask_shape,
    check_scores_shape,
    first_mask,
    float_mask,
    safe_divide,
)
from keras_wsal.utils.arguments import is_int, is_real
from keras_wsal.utils.registration import keras_wsal_serializable


@keras_wsal_serializable
class TopKSelect(keras.layers.Layer):
    """Hard selection of UntrimmedNet: per class, the mean of the k largest scores over time.

    UntrimmedNet (Wang et al., CVPR 2017), eq. 3 before its softmax: with `S_i^k` the indices of
    the k clip proposals with the highest raw classification score for class i,

        x^p_i(V) = (1 / k) · Σ_{n ∈ S_i^k} x^c_i(c_n)

    (the paper writes the sum with the selection indicator x^s_i(c_n) = δ(n ∈ S_i^k); the
    1/k of "average among these selected instances" is made explicit here). Apply a softmax over
    classes afterwards for the paper's x̄^p, or a sigmoid for multi-label training.

    Exactly one of `k` and `k_ratio` is set. With `k_ratio` each video gets its own
    `k = max(1, floor(k_ratio · T_valid))` from its number of valid steps: W-TALC uses
    `k_ratio=1/8`, UntrimmedNet's `k = floor(N/2)` is `k_ratio=0.5`. A fixed `k` larger than a
    video's valid length is clipped to that length.

    Edges: a one-step video returns its only score; equal scores return that score (the gradient
    goes to k of them); a video with no valid step returns 0 for every class.

    Args:
        k: int ≥ 1, the number of steps averaged per class.
        k_ratio: float in (0, 1], the fraction of each video's valid steps averaged per class.

    Call arguments:
        inputs: scores `[batch, time, classes]` (raw classification scores, eq. 1's x^c).
        mask: optional boolean `[batch, time]`, True at real (non-padded) steps. Padded steps are
            never selected.

    Input shape: `(batch, time, classes)`; `time` may be None.
    Output shape: `(batch, classes)`.

    Example:

    >>> scores = keras.Input((None, 20))
    >>> video_scores = TopKSelect(k_ratio=0.125)(scores)
    >>> probabilities = keras.layers.Softmax()(video_scores)
    >>> model = keras.Model(scores, probabilities)
    """

    def __init__(self, k: int | None = None, k_ratio: float | None = None, **kwargs):
        super().__init__(**kwargs)
        if (k is None) == (k_ratio is None):
            raise ValueError(
                "TopKSelect: set exactly one of `k` (an int ≥ 1) and `k_ratio` (a float in "
                "(0, 1]); "
                f"received k={k!r}, k_ratio={k_ratio!r}."
            )
        if k is not None and not is_int(k, 1):
            raise ValueError(f"TopKSelect: `k` must be an int ≥ 1; received k={k!r}.")
        if k_ratio is not None and not is_real(k_ratio, 0.0, 1.0, low_open=True):
            raise ValueError(
                f"TopKSelect: `k_ratio` must be in (0, 1]; received k_ratio={k_ratio!r}."
            )
        self.k = k
        self.k_ratio = None if k_ratio is None else float(k_ratio)
        self.supports_masking = True

    def build(self, input_shape):
        check_scores_shape(self.name, "inputs", input_shape)

    def _k_per_video(self, valid):
        """k for each video, float32 `[batch, 1, 1]`, from its number of valid steps."""
        num_valid = ops.sum(valid, axis=1, keepdims=True)
        if self.k is not None:
            return ops.minimum(float(self.k), num_valid)
        # The relative nudge keeps floor(r · T) exact when float32 rounds an integer r · T just
        # below itself (e.g. 2.9999998 for 3); it is far below float32's own step for T < 1e6.
        k = ops.floor(self.k_ratio * num_valid * (1.0 + 1e-6))
        return ops.where(num_valid > 0, ops.maximum(k, 1.0), 0.0)

    def _ranked(self, inputs, mask):
        """Scores sorted over time, largest first, padded steps last: `[batch, classes, time]`."""
        mask = first_mask(mask)
        check_scores_shape(self.name, "inputs", inputs.shape)
        check_mask_shape(self.name, inputs.shape, None if mask is None else mask.shape)
        scores = ops.cast(inputs, "float32")
        valid = float_mask(mask, scores)
        ranked = ops.where(valid > 0, scores, -3e38)
        ranked = -ops.sort(-ops.transpose(ranked, (0, 2, 1)), axis=-1)
        ranks = ops.cast(ops.arange(ops.shape(ranked)[-1]), "float32")[None, None, :]
        k = ops.transpose(self._k_per_video(valid), (0, 2, 1))
        return scores, valid, ranked, ranks, k

    def call(self, inputs, mask=None):
        _, _, ranked, ranks, k = self._ranked(inputs, mask)
        selected = ops.where(ranks < k, ranked, 0.0)
        pooled = safe_divide(ops.sum(selected, axis=-1), k[:, :, 0])
        return ops.cast(pooled, self.compute_dtype)

    def selection(self, inputs, mask=None):
        """The hard selection indicator x^s_i(c_t) = δ(t ∈ S_i^k), float32 `[batch, time, classes]`.

        1 where step t is among the k highest scores of class i in its video (steps tied with
        the k-th score are all marked), 0 elsewhere and at padded steps.
        """
        scores, valid, ranked, ranks, k = self._ranked(inputs, mask)
        kth = ops.sum(ops.where(ranks == k - 1.0, ranked, 0.0), axis=-1)[:, None, :]
        return (
            ops.cast(ops.greater_equal(scores, kth), "float32")
            * valid
            * ops.cast(ops.transpose(k, (0, 2, 1)) > 0, "float32")
        )

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        check_scores_shape(self.name, "inputs", input_shape)
        return (input_shape[0], input_shape[2])

    def get_config(self):
        config = super().get_config()
        config.update({"k": self.k, "k_ratio": self.k_ratio})
        return config
