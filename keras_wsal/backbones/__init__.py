"""Image backbones of the two streams: BN-Inception (TSN) and `keras.applications` networks."""

from typing import TYPE_CHECKING

from keras_wsal.utils.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from keras_wsal.backbones.bn_inception import (
        BN_INCEPTION_MEAN,
        BN_INCEPTION_MODULES,
        FEATURE_DIM,
        bn_inception,
        bn_inception_features,
    )
    from keras_wsal.backbones.catalog import (
        APPLICATIONS,
        BACKBONES,
        STREAM_CHANNELS,
        STREAM_DROPOUT,
    )
    from keras_wsal.backbones.convert import convert_bninception_state_dict, load_state_dict
    from keras_wsal.backbones.factory import (
        load_backbone_weights,
        make_backbone,
        preprocess_input,
        preprocess_input_ops,
    )
    from keras_wsal.backbones.tsn import (
        SegmentalConsensus,
        cross_modality_init,
        cross_modality_kernel,
        set_partial_bn,
        tsn_model,
    )

__all__ = [
    "APPLICATIONS",
    "BACKBONES",
    "BN_INCEPTION_MEAN",
    "BN_INCEPTION_MODULES",
    "FEATURE_DIM",
    "STREAM_CHANNELS",
    "STREAM_DROPOUT",
    "SegmentalConsensus",
    "bn_inception",
    "bn_inception_features",
    "convert_bninception_state_dict",
    "cross_modality_init",
    "cross_modality_kernel",
    "load_backbone_weights",
    "load_state_dict",
    "make_backbone",
    "preprocess_input",
    "preprocess_input_ops",
    "set_partial_bn",
    "tsn_model",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__, __all__)
