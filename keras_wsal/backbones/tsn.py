"""Temporal Segment Network pieces (Wang et al., ECCV 2016), as UntrimmedNet trains its streams.

- Cross-modality initialisation: the temporal stream (a stack of 5 flows, 10 channels) starts
  from the ImageNet RGB network; its first convolution's kernels are the RGB kernels averaged
  over the 3 input channels and replicated over the 10 flow channels.
- Segmental consensus: a video's score is the average of its segments' scores.
- Partial BN: every BatchNormalization layer but the first is frozen (statistics and affine
  parameters); the first one adapts to the new input distribution (flow, or RGB video frames).
- Dropout before the classifier: 0.8 for the spatial stream, 0.7 for the temporal stream
  (UntrimmedNet §5.1).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from keras_wsal.backbones.catalog import STREAM_DROPOUT
from keras_wsal.utils.registration import keras_wsal_serializable


def cross_modality_kernel(kernel: np.ndarray, channels: int) -> np.ndarray:
    """TSN cross-modality initialisation of a first-layer kernel.

    `W'[h, w, c, o] = (1 / C_in) Σ_k W[h, w, k, o]` for every `c < channels`.

    Args:
        kernel: the RGB network's first-layer kernel, HWIO `[kh, kw, C_in, C_out]`.
        channels: input channels of the new stream (10 for 5 stacked flows).

    Returns:
        float32 `[kh, kw, channels, C_out]`.
    """
    kernel = np.asarray(kernel)
    if kernel.ndim != 4:
        raise ValueError(f"kernel must be HWIO [kh, kw, C_in, C_out], got shape {kernel.shape}")
    # In float64 the sum of a few float32 values is exact, so the result does not depend on the
    # channel order (RGB or BGR): one rounding, to float32, at the end.
    mean = kernel.astype(np.float64).mean(axis=2, keepdims=True).astype(np.float32)
    return np.repeat(mean, channels, axis=2)


def cross_modality_init(rgb_model: keras.Model, target: keras.Model) -> keras.Model:
    """Copy an RGB network's weights into a network on another stream, layer by layer.

    The two models must have the same layers (by name) except for the number of input channels
    of the first convolution (the first `Conv2D` in `target.layers`), whose kernel gets
    `cross_modality_kernel`; every other weight is copied as it is.

    Returns:
        `target`, with the weights loaded.
    """
    first_conv = next((layer for layer in target.layers if isinstance(layer, layers.Conv2D)), None)
    if first_conv is None:
        raise ValueError(f"model {target.name!r} has no Conv2D layer")
    source_layers = {layer.name: layer for layer in rgb_model.layers}
    assignments = []
    for layer in target.layers:
        if not layer.weights:
            continue
        source = source_layers.get(layer.name)
        if source is None:
            raise ValueError(
                f"layer {layer.name!r} of {target.name!r} is not in {rgb_model.name!r}"
            )
        weights = source.get_weights()
        if layer is first_conv:
            weights[0] = cross_modality_kernel(weights[0], first_conv.kernel.shape[2])
        for value, variable in zip(weights, layer.weights, strict=True):
            if tuple(value.shape) != tuple(variable.shape):
                raise ValueError(
                    f"layer {layer.name!r}: {rgb_model.name!r} has shape {value.shape}, "
                    f"{target.name!r} expects {tuple(variable.shape)}"
                )
        assignments.append((layer, weights))
    for layer, weights in assignments:
        layer.set_weights(weights)
    return target


def _walk_layers(layer):
    """The layers inside `layer` in order, depth first, through nested models and wrappers."""
    inner = list(getattr(layer, "layers", []))
    if isinstance(layer, layers.Wrapper):
        inner = [layer.layer]
    for sub in inner:
        yield sub
        yield from _walk_layers(sub)


def set_partial_bn(model: keras.Model) -> keras.Model:
    """TSN's partial BN: freeze every BatchNormalization layer except the first.

    A Keras `BatchNormalization` with `trainable = False` runs in inference mode, also inside
    `fit` (it normalises with its moving statistics and does not update them), and its gamma
    and beta receive no gradient: exactly TSN's partial BN, which puts those layers in eval
    mode and stops their affine parameters' gradients. The first BN layer (in the model's layer
    order, nested models included) stays trainable. Call it before `compile`.

    Returns:
        `model`, changed in place.
    """
    batch_norms = [
        layer for layer in _walk_layers(model) if isinstance(layer, layers.BatchNormalization)
    ]
    if not batch_norms:
        raise ValueError(f"model {model.name!r} has no BatchNormalization layer")
    for layer in batch_norms[1:]:
        layer.trainable = False
    return model


@keras_wsal_serializable
class SegmentalConsensus(layers.Layer):
    """TSN's segmental consensus: the average over a video's segments.

    Formula (TSN, Eq. 1 with the average as the aggregation `G`):
    `G(F(T_1), ..., F(T_K)) = (1/K) Σ_k F(T_k)`; with a mask, the average over the segments
    whose mask is True, `Σ_k m_k F(T_k) / max(Σ_k m_k, 1)`.

    Example:
    >>> scores = keras.Input((3, 20))                    # 3 segments, 20 classes
    >>> video_scores = SegmentalConsensus()(scores)      # [B, 20]

    Call arguments:
        inputs: `[B, K, ...]`, the scores (or features) of `K` segments.
        mask: optional bool `[B, K]`, True for real segments; a video with every segment
            masked gets 0.

    Input shape: `[B, K, ...]`.
    Output shape: `[B, ...]`. A single segment passes through unchanged. The mean is computed
    in float32 under mixed precision and cast back.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        values = ops.cast(inputs, "float32")
        if mask is None:
            consensus = ops.mean(values, axis=1)
        else:
            weights = ops.cast(mask, "float32")
            for _ in range(len(values.shape) - 2):
                weights = ops.expand_dims(weights, -1)
            total = ops.sum(values * weights, axis=1)
            consensus = total / ops.maximum(ops.sum(weights, axis=1), 1.0)
        return ops.cast(consensus, self.compute_dtype)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *input_shape[2:])


def tsn_model(
    backbone: keras.Model,
    num_classes: int,
    *,
    num_segments: int = 3,
    stream: str = "rgb",
    dropout: float | None = None,
    partial_bn: bool = True,
    name: str | None = None,
) -> keras.Model:
    """A TSN classifier around a backbone: `[B, K, H, W, C] -> [B, num_classes]` logits.

    Each of the `K` segments' snippets goes through the shared `backbone` (`[B, H, W, C] ->
    [B, D]`), then dropout (default 0.8 for `"rgb"`, 0.7 for `"flow"`) and a linear classifier;
    `SegmentalConsensus` averages the `K` segments' class scores. The output is logits (apply
    a softmax cross-entropy with `from_logits=True`).

    Args:
        backbone: an image model `[B, H, W, C] -> [B, D]`, e.g. `make_backbone(...)`.
        num_classes: number of action classes.
        num_segments: `K` (TSN and UntrimmedNet: 3).
        stream: `"rgb"` or `"flow"`; chooses the default dropout.
        dropout: dropout rate before the classifier; `None` uses `STREAM_DROPOUT[stream]`.
        partial_bn: apply `set_partial_bn` to the backbone.
        name: the model's name (default `tsn_{stream}`).
    """
    if stream not in STREAM_DROPOUT:
        raise ValueError(f"stream must be one of {sorted(STREAM_DROPOUT)}, got {stream!r}")
    if num_classes < 1 or num_segments < 1:
        raise ValueError(
            f"num_classes and num_segments must be >= 1, got {num_classes} and {num_segments}"
        )
    rate = STREAM_DROPOUT[stream] if dropout is None else dropout
    if partial_bn:
        set_partial_bn(backbone)
    inputs = keras.Input((num_segments, *backbone.input_shape[1:]), name="segments")
    features = layers.TimeDistributed(backbone, name="backbone")(inputs)
    features = layers.Dropout(rate, name="dropout")(features)
    scores = layers.TimeDistributed(layers.Dense(num_classes), name="classifier")(features)
    outputs = SegmentalConsensus(name="consensus")(scores)
    return keras.Model(inputs, outputs, name=name or f"tsn_{stream}")
