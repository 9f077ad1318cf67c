"""Losses: UntrimmedNet cross-entropy (eq. 5), WSGN binary cross-entropy, W-TALC's CASL."""

from keras_wsal.losses.casl import co_activity_similarity_loss
from keras_wsal.losses.video_losses import UntrimmedNetLoss, WSGNLoss

__all__ = ["UntrimmedNetLoss", "WSGNLoss", "co_activity_similarity_loss", "loss_for_model"]


def loss_for_model(model):
    """The loss a keras_wsal model is trained with: eq. 5 for UntrimmedNet (and W-TALC's
    multiple-instance loss, the same cross-entropy), BCE for WSGN."""
    from keras_wsal.models import WTALC, UntrimmedNet

    return UntrimmedNetLoss() if isinstance(model, (UntrimmedNet, WTALC)) else WSGNLoss()
