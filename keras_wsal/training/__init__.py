"""Training on feature datasets under `tf.distribute`, with mixed precision and resumable checkpoints."""

from keras_wsal.training.config import TrainConfig
from keras_wsal.training.strategy import make_strategy
from keras_wsal.training.trainer import TrainResult, load_run_model, train

__all__ = ["TrainConfig", "TrainResult", "load_run_model", "make_strategy", "train"]
