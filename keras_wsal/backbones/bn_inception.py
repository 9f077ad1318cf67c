"""BN-Inception (Ioffe & Szegedy 2015), the backbone of TSN and of both papers' features.

The Inception-v2 network with Batch Normalization after every convolution, as released with
TSN and ported to PyTorch (Cadene's `pretrainedmodels` `bninception`, TSN-pytorch's
`tf_model_zoo/bninception`). Layer names are those of that release (`conv1_7x7_s2`,
`conv1_7x7_s2_bn`, `inception_3a_1x1`, `inception_3a_double_3x3_2_bn`, ...), so its
`state_dict` maps onto this model name by name (`convert_bninception_state_dict`).

    conv1_7x7_s2      7x7/2, 64          -> 112x112x64     (224x224 input)
    pool1_3x3_s2      max 3x3/2          -> 56x56x64
    conv2_3x3_reduce  1x1, 64
    conv2_3x3         3x3, 192           -> 56x56x192
    pool2_3x3_s2      max 3x3/2          -> 28x28x192
    inception_3a, 3b                     -> 28x28x256, 28x28x320
    inception_3c      stride 2           -> 14x14x576
    inception_4a .. 4d                   -> 14x14x576, 576, 608, 608
    inception_4e      stride 2           -> 7x7x1056
    inception_5a, 5b                     -> 7x7x1024, 7x7x1024
    global_pool       average            -> 1024

Every convolution has a bias and is followed by BatchNormalization (epsilon 1e-5) and a ReLU.
A module has four branches concatenated in this order: `1x1`; `3x3_reduce` -> `3x3`;
`double_3x3_reduce` -> `double_3x3_1` -> `double_3x3_2`; `pool` (3x3 average pooling, max
pooling in 5b) -> `pool_proj`. The stride-2 modules 3c and 4e have no `1x1` branch, stride 2 in
`3x3` and `double_3x3_2`, and a 3x3/2 max pooling passed through with no projection.

Padding reproduces the reference exactly at any input size: convolutions pad `k // 2` on every
side (explicit `ZeroPadding2D` before the stride-2 ones, whose Keras `"same"` padding would be
asymmetric); 3x3/2 max pooling uses PyTorch's `ceil_mode=True` (one extra row and column on the
bottom and right; zeros, which equal `-inf` padding there because the inputs follow a ReLU);
the modules' 3x3 average pooling counts the zero padding (`count_include_pad=True`). The last
7x7 average pooling of the reference is a global average pooling here (the same at 224x224).

Input: an image `[H, W, C]` with the mean subtracted, values on the 0-255 scale. The converted
ImageNet weights take RGB frames minus `BN_INCEPTION_MEAN["rgb"]` (the converter reverses the
first layer's input channels from the release's BGR order); the temporal stream takes flow
stacks minus 128.
"""

from __future__ import annotations

import keras
from keras import layers

BN_EPSILON = 1e-5
BN_MOMENTUM = 0.9
FEATURE_DIM = 1024
BN_INCEPTION_MEAN = {"rgb": (128.0, 117.0, 104.0), "flow": 128.0}

# name: (1x1, 3x3_reduce, 3x3, double_3x3_reduce, double_3x3, pool, pool_proj, stride);
# stride-2 modules have no 1x1 branch and no pool projection (0).
BN_INCEPTION_MODULES = {
    "3a": (64, 64, 64, 64, 96, "avg", 32, 1),
    "3b": (64, 64, 96, 64, 96, "avg", 64, 1),
    "3c": (0, 128, 160, 64, 96, "max", 0, 2),
    "4a": (224, 64, 96, 96, 128, "avg", 128, 1),
    "4b": (192, 96, 128, 96, 128, "avg", 128, 1),
    "4c": (160, 128, 160, 128, 160, "avg", 128, 1),
    "4d": (96, 128, 192, 160, 192, "avg", 128, 1),
    "4e": (0, 128, 192, 192, 256, "max", 0, 2),
    "5a": (352, 192, 320, 160, 224, "avg", 128, 1),
    "5b": (352, 192, 320, 192, 224, "max", 128, 1),
}


def _conv_bn_relu(x, filters: int, kernel: int, stride: int, name: str, relu_name: str):
    padding = "same"
    if stride > 1 and kernel > 1:
        x = layers.ZeroPadding2D(kernel // 2, name=f"{name}_pad")(x)
        padding = "valid"
    x = layers.Conv2D(filters, kernel, strides=stride, padding=padding, name=name)(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return layers.ReLU(name=relu_name)(x)


def _max_pool_ceil(x, name: str):
    """3x3/2 max pooling with PyTorch's `ceil_mode=True` (inputs >= 0, after a ReLU)."""
    x = layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"{name}_pad")(x)
    return layers.MaxPooling2D(3, strides=2, padding="valid", name=name)(x)


def _inception_module(x, module: str):
    n1x1, n3x3_reduce, n3x3, ndouble_reduce, ndouble, pool, pool_proj, stride = (
        BN_INCEPTION_MODULES[module]
    )
    prefix = f"inception_{module}"

    def unit(y, filters, kernel, suffix, unit_stride=1):
        return _conv_bn_relu(
            y, filters, kernel, unit_stride, f"{prefix}_{suffix}", f"{prefix}_relu_{suffix}"
        )

    branches = []
    if n1x1:
        branches.append(unit(x, n1x1, 1, "1x1"))
    branch = unit(x, n3x3_reduce, 1, "3x3_reduce")
    branches.append(unit(branch, n3x3, 3, "3x3", stride))
    branch = unit(x, ndouble_reduce, 1, "double_3x3_reduce")
    branch = unit(branch, ndouble, 3, "double_3x3_1")
    branches.append(unit(branch, ndouble, 3, "double_3x3_2", stride))
    if stride > 1:
        branches.append(_max_pool_ceil(x, f"{prefix}_pool"))
    else:
        if pool == "avg":
            pooled = layers.ZeroPadding2D(1, name=f"{prefix}_pool_pad")(x)
            pooled = layers.AveragePooling2D(3, strides=1, name=f"{prefix}_pool")(pooled)
        else:
            pooled = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{prefix}_pool")(x)
        branches.append(unit(pooled, pool_proj, 1, "pool_proj"))
    return layers.Concatenate(axis=-1, name=f"{prefix}_output")(branches)


def bn_inception_features(inputs):
    """Apply BN-Inception to a Keras tensor `[B, H, W, C]`; returns the pooled `[B, 1024]`."""
    x = _conv_bn_relu(inputs, 64, 7, 2, "conv1_7x7_s2", "conv1_relu_7x7")
    x = _max_pool_ceil(x, "pool1_3x3_s2")
    x = _conv_bn_relu(x, 64, 1, 1, "conv2_3x3_reduce", "conv2_relu_3x3_reduce")
    x = _conv_bn_relu(x, 192, 3, 1, "conv2_3x3", "conv2_relu_3x3")
    x = _max_pool_ceil(x, "pool2_3x3_s2")
    for module in BN_INCEPTION_MODULES:
        x = _inception_module(x, module)
    return layers.GlobalAveragePooling2D(name="global_pool")(x)


def bn_inception(
    input_shape: tuple[int | None, int | None, int] = (224, 224, 3),
    *,
    name: str = "bn_inception",
) -> keras.Model:
    """BN-Inception as a Keras Functional model `[B, H, W, C] -> [B, 1024]` (no classifier).

    Args:
        input_shape: `(H, W, C)`; `C = 3` for the spatial stream (an RGB frame), `C = 10` for
            the temporal stream (a stack of 5 flows); `H` and `W` may be `None`. Inputs of at
            least 32x32 pixels keep every feature map non-empty.
        name: the model's name.

    Returns:
        A model with randomly initialised weights; load weights with
        `convert_bninception_state_dict` or `make_backbone(..., weights=PATH)`.
    """
    inputs = keras.Input(input_shape, name="image")
    return keras.Model(inputs, bn_inception_features(inputs), name=name)
