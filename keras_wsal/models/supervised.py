"""WSGN's "Supervised" model: the same network trained with frame labels (an upper bound)."""

from __future__ import annotations

from keras import ops

from keras_wsal.layers.masked_ops import float_mask, safe_divide
from keras_wsal.models.wsgn import WSGN
from keras_wsal.utils.registration import keras_wsal_serializable

FRAME_LABELS = "frame_labels"
_EPSILON = 1e-7


def frame_supervision_loss(frame_labels, frame_scores, mask=None):
    """(1/T) Σ_t L(y_t, ŷ_t): binary cross-entropy per snippet, mean over classes and valid steps.

    Args:
        frame_labels: `[B, T, C]` 0/1, snippet t shows class c.
        frame_scores: `[B, T, C]` per-snippet predictions ŷ_t in [0, 1] (clipped to
            [1e-7, 1 - 1e-7]).
        mask: optional boolean `[B, T]`.

    Returns:
        A float32 scalar: the mean over the batch of each video's mean over its valid snippets.
    """
    labels = ops.cast(frame_labels, "float32")
    scores = ops.clip(ops.cast(frame_scores, "float32"), _EPSILON, 1.0 - _EPSILON)
    valid = float_mask(mask, scores)
    per_step = -ops.mean(labels * ops.log(scores) + (1.0 - labels) * ops.log(1.0 - scores), axis=-1)
    per_video = safe_divide(
        ops.sum(per_step * valid[..., 0], axis=1), ops.sum(valid[..., 0], axis=1)
    )
    return ops.mean(per_video)


@keras_wsal_serializable
class SupervisedWSGN(WSGN):
    """WSGN trained with frame labels: the paper's "Supervised" rows (Tables 1 and 2).

    The network is `WSGN`'s; the loss is

        L(y, ŷ) + (1/T) Σ_t L(y_t, ŷ_t)

    with L the binary cross-entropy, ŷ the video prediction (eq. 2) and ŷ_t = g_t ⊙ σ(h_cls)_t the
    per-snippet detection score. y_t are frame labels read from the annotated segments (snippet t
    is labelled c when its centre lies in a segment of class c): this is the only keras_wsal model
    that reads segments, and it exists as the ceiling a weakly supervised model is measured
    against (WSGN's "Gap" row). In training the inputs carry `"frame_labels"` `[B, T, C]` beside
    the features; at inference the model needs features only.
    """

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        loss = super().compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training
        )
        if isinstance(x, dict) and FRAME_LABELS in x:
            _, mask, outputs = self.training_forward(x, training)
            loss = loss + frame_supervision_loss(x[FRAME_LABELS], outputs["detection_scores"], mask)
        return loss
