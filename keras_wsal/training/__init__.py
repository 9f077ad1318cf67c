"""Training: heads on feature datasets under `tf.distribute`, with mixed precision and resumable
checkpoints (`train`, its settings from a named recipe, `recipe_for`), and UntrimmedNet with its
backbone on raw videos (`train_end_to_end`)."""

from typing import TYPE_CHECKING

from keras_wsal.utils.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from keras_wsal.training.config import TrainConfig
    from keras_wsal.training.end_to_end import EndToEndConfig, EndToEndResult, train_end_to_end
    from keras_wsal.training.recipes import RECIPE_NAMES, Recipe, recipe_for
    from keras_wsal.training.run_folder import load_run_model, run_feature_fps
    from keras_wsal.training.strategy import make_strategy
    from keras_wsal.training.trainer import TrainResult, train

__all__ = [
    "RECIPE_NAMES",
    "Recipe",
    "recipe_for",
    "EndToEndConfig",
    "EndToEndResult",
    "TrainConfig",
    "TrainResult",
    "load_run_model",
    "make_strategy",
    "run_feature_fps",
    "train",
    "train_end_to_end",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__, __all__)
