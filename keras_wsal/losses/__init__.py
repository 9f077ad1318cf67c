"""Losses: UntrimmedNet cross-entropy (eq. 5), WSGN binary cross-entropy, W-TALC's CASL."""

from keras_wsal.losses.casl import co_activity_similarity_loss
from keras_wsal.losses.video_losses import UntrimmedNetLoss, WSGNLoss

__all__ = ["UntrimmedNetLoss", "WSGNLoss", "co_activity_similarity_loss"]
