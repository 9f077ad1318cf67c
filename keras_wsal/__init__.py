"""keras_wsal: weakly supervised action recognition and detection in untrimmed videos.

Reusable Keras 3 layers for the selection mechanisms of UntrimmedNet (Wang et al., CVPR 2017) and
WSGN (Fernando et al., WACV 2020), the models built from them, and the tools around them: feature
datasets, distributed mixed-precision training, detection, evaluation, video feature extraction
and SavedModel export.

`keras_wsal.layers` is imported eagerly (it needs only Keras); every other subpackage is imported
on first use, so `import keras_wsal` stays light under every Keras backend.
"""

import importlib

from keras_wsal import layers
from keras_wsal.layers import (
    AttentionSelect,
    GaussianGlobalNorm,
    GaussianLocalNorm,
    TemporalSoftmaxNorm,
    TopKSelect,
)
from keras_wsal.version import __version__

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
    "losses",
    "models",
    "plotting",
    "proposals",
    "training",
    "utils",
    "video",
)

__all__ = [
    "AttentionSelect",
    "GaussianGlobalNorm",
    "GaussianLocalNorm",
    "TemporalSoftmaxNorm",
    "TopKSelect",
    "__version__",
    "layers",
    *_SUBPACKAGES,
]


def __getattr__(name):
    if name in _SUBPACKAGES:
        module = importlib.import_module(f"keras_wsal.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'keras_wsal' has no attribute {name!r}")
