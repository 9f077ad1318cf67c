"""keras_wsal: weakly supervised action recognition and detection in untrimmed videos.

Reusable Keras 3 layers for the selection mechanisms of UntrimmedNet (Wang et al., CVPR 2017) and
WSGN (Fernando et al., WACV 2020), the models built from them, and the tools around them: feature
datasets, distributed mixed-precision training, detection, evaluation, video feature extraction
and SavedModel export.

`import keras_wsal` imports Keras and registers every serializable class of the package (layers,
models, losses, backbones), so `keras.saving.load_model("model.keras")` needs no `custom_objects`;
the other subpackages are imported on first use. The `keras-wsal` command line imports only what
each command needs, so that `keras-wsal --help` and argument errors never load a Keras backend.
"""

import importlib
import os
import sys

from keras_wsal.version import __version__

# The subpackages whose import registers classes for Keras saving (`keras_wsal>Name`).
_SERIALIZABLE_SUBPACKAGES = ("layers", "models", "losses", "backbones")

_SUBPACKAGES = (
    "backbones",
    "cli",
    "datasets",
    "evaluation",
    "experiments",
    "export",
    "extraction",
    "formats",
    "inference",
    "layers",
    "losses",
    "models",
    "plotting",
    "proposals",
    "training",
    "utils",
    "video",
)

_LAYERS = (
    "AttentionSelect",
    "GaussianGlobalNorm",
    "GaussianLocalNorm",
    "TemporalSoftmaxNorm",
    "TopKSelect",
)

__all__ = [*_LAYERS, "__version__", "register_serializable_classes", *_SUBPACKAGES]


def _started_by_command_line() -> bool:
    """True while the `keras-wsal` script (or `python -m keras_wsal.cli`) imports the package."""
    program = os.path.basename(sys.argv[0]) if sys.argv else ""
    return program in ("keras-wsal", "keras-wsal.exe", "-m")


def __getattr__(name):
    if name in _SUBPACKAGES:
        value = importlib.import_module(f"keras_wsal.{name}")
    elif name in _LAYERS:
        value = getattr(importlib.import_module("keras_wsal.layers"), name)
    else:
        raise AttributeError(f"module 'keras_wsal' has no attribute {name!r}")
    globals()[name] = value
    return value


def register_serializable_classes() -> None:
    """Import every public name of the subpackages that define serializable classes, so that
    `keras.saving.load_model` finds them (`keras_wsal>Name`). `import keras_wsal` does it, except
    when the `keras-wsal` command line imports the package: its commands call this before they
    load a model."""
    for package in _SERIALIZABLE_SUBPACKAGES:
        module = __getattr__(package)
        for name in module.__all__:
            getattr(module, name)
    for name in _LAYERS:
        __getattr__(name)


if not _started_by_command_line():
    register_serializable_classes()
