"""Build a stream's image backbone by name, load its weights from local files, preprocess its input.

`make_backbone(name, stream=...)` returns a Keras model `[B, H, W, C] -> [B, D]`: BN-Inception
(`"bn_inception"`, D = 1024, the papers' backbone) or one of the `keras.applications` image
networks (global average pooled, no classifier, built with `weights=None`: nothing is ever
downloaded). The spatial stream (`stream="rgb"`) takes one RGB frame, C = 3; the temporal
stream (`stream="flow"`) takes a stack of 5 flows, C = 10.

Weights come from local files only: a `.keras` model or `.weights.h5` file saved from a model of
the same architecture, or, for BN-Inception, the released PyTorch `state_dict` (`.pth`, `.pt`,
`.tar`) or an `.npz` of its keys (`convert_bninception_state_dict`).

Input preprocessing, uint8-valued frames or flow stacks to the backbone's input, comes twice
with one definition of its constants (`_input_normalisation`): `preprocess_input` in NumPy (the
data pipelines) and `preprocess_input_ops` in `keras.ops` (inside a graph: a SavedModel that
takes decoded frames).
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path

import keras
import numpy as np
from keras import ops

from keras_wsal.backbones.bn_inception import BN_INCEPTION_MEAN, bn_inception
from keras_wsal.backbones.catalog import APPLICATIONS, BACKBONES, STREAM_CHANNELS
from keras_wsal.backbones.convert import convert_bninception_state_dict
from keras_wsal.errors import DataError

_STATE_DICT_SUFFIXES = (".pth", ".pt", ".tar", ".npz")


def _check_name_and_stream(name: str, stream: str) -> None:
    if name not in BACKBONES:
        raise ValueError(f"backbone must be one of {BACKBONES}, got {name!r}")
    if stream not in STREAM_CHANNELS:
        raise ValueError(f"stream must be one of {sorted(STREAM_CHANNELS)}, got {stream!r}")


def make_backbone(
    name: str = "bn_inception",
    *,
    stream: str = "rgb",
    input_shape: tuple[int | None, int | None, int] | None = None,
    weights: str | os.PathLike | None = None,
) -> keras.Model:
    """An image backbone `[B, H, W, C] -> [B, D]` for one stream.

    Args:
        name: one of `BACKBONES`: `"bn_inception"`, `"resnet50"`, `"resnet101"`,
            `"inception_v3"`, `"mobilenet_v2"`, `"mobilenet_v3_small"`, `"mobilenet_v3_large"`.
        stream: `"rgb"` (C = 3) or `"flow"` (C = 10, 5 stacked flows).
        input_shape: `(H, W, C)`, default `(224, 224, C)`; C must match the stream.
        weights: `None` (random initialisation) or a local file (see `load_backbone_weights`).

    Returns:
        The model, named `{name}_{stream}`. Feed it `preprocess_input(images, name, stream)`.
    """
    _check_name_and_stream(name, stream)
    channels = STREAM_CHANNELS[stream]
    input_shape = tuple(input_shape or (224, 224, channels))
    if input_shape[-1] != channels:
        raise ValueError(
            f"input_shape {input_shape} has {input_shape[-1]} channels; stream {stream!r} "
            f"needs {channels}"
        )
    model_name = f"{name}_{stream}"
    if name == "bn_inception":
        model = bn_inception(input_shape, name=model_name)
    else:
        constructor, _, extra = APPLICATIONS[name]
        model = getattr(keras.applications, constructor)(
            include_top=False,
            weights=None,
            input_shape=input_shape,
            pooling="avg",
            name=model_name,
            **extra,
        )
    if weights is not None:
        load_backbone_weights(model, weights)
    return model


@dataclasses.dataclass(frozen=True)
class _Normalisation:
    """`x' = ((x[..., ::-1] if bgr else x) - mean) · scale`, per channel, on the 0-255 scale.

    A product rather than a division by the standard deviation: TensorFlow's graph optimiser
    turns a division by a constant into a product by its reciprocal, which would make the graph
    version differ from NumPy's in the last bit.
    """

    mean: tuple[float, ...]
    scale: float = 1.0
    bgr: bool = False


# keras.applications.imagenet_utils' modes: "caffe" is BGR minus the ImageNet mean (in BGR
# order), "tf" scales to [-1, 1].
_IMAGENET_MODES = {
    "caffe": _Normalisation(mean=(103.939, 116.779, 123.68), bgr=True),
    "tf": _Normalisation(mean=(127.5,), scale=1.0 / 127.5),
}


def _input_normalisation(name: str, stream: str) -> _Normalisation:
    """The one definition of every backbone's input normalisation (see `preprocess_input`)."""
    _check_name_and_stream(name, stream)
    if name == "bn_inception":
        mean = BN_INCEPTION_MEAN[stream]
        return _Normalisation(mean=tuple(np.atleast_1d(mean).tolist()))
    if stream == "flow":
        return _IMAGENET_MODES["tf"]
    return _IMAGENET_MODES[APPLICATIONS[name][1]]


def _check_channels(shape, stream: str) -> None:
    channels = STREAM_CHANNELS[stream]
    if len(shape) < 3 or shape[-1] not in (None, channels):
        raise ValueError(
            f"expected {stream} inputs [..., H, W, {channels}], got shape {tuple(shape)}"
        )


def preprocess_input(images, name: str = "bn_inception", stream: str = "rgb") -> np.ndarray:
    """Map uint8-valued frames or flow stacks `[..., H, W, C]` to the backbone's input, float32.

    In float32, `x' = ((x[..., ::-1] if BGR else x) - mean) · scale` per channel:

    - BN-Inception, as TSN: RGB frames minus the per-channel mean (R 128, G 117, B 104) on the
      0-255 scale; quantised flow stacks minus 128.
    - `keras.applications` networks: RGB frames with the network's own ImageNet preprocessing
      (`"caffe"`: BGR minus the mean (B 103.939, G 116.779, R 123.68); `"tf"`: scaled to
      [-1, 1], `(x - 127.5) · (1 / 127.5)`); flow stacks scaled to [-1, 1] the same way,
      `(q - 127.5) · (1 / 127.5)`.

    `preprocess_input_ops` computes the same values in `keras.ops`.
    """
    norm = _input_normalisation(name, stream)
    images = np.asarray(images, dtype=np.float32)
    _check_channels(images.shape, stream)
    if norm.bgr:
        images = images[..., ::-1]
    return (images - np.asarray(norm.mean, np.float32)) * np.float32(norm.scale)


def preprocess_input_ops(images, name: str = "bn_inception", stream: str = "rgb"):
    """`preprocess_input` in `keras.ops`, for a graph: uint8 (or any numeric) `[..., H, W, C]`.

    The same float32 operations on the same constants, so it gives the values of
    `preprocess_input` exactly; usable inside a `tf.function` (a SavedModel signature that takes
    decoded frames or quantised flow stacks).

    Returns:
        float32 tensor of the shape of `images`.

    Raises:
        ValueError: an unknown backbone or stream, or a static last axis that is not the
            stream's channels (3 for `"rgb"`, 10 for `"flow"`).
    """
    norm = _input_normalisation(name, stream)
    images = ops.cast(images, "float32")
    _check_channels(images.shape, stream)
    if norm.bgr:
        images = ops.flip(images, axis=-1)
    return (images - np.asarray(norm.mean, np.float32)) * np.float32(norm.scale)


def load_backbone_weights(model: keras.Model, weights: str | os.PathLike) -> keras.Model:
    """Load a local weights file into `model`.

    - `.keras`: a saved model of the same architecture; weights are copied layer by layer,
      matched by layer name.
    - `.weights.h5`: `model.save_weights` output of the same architecture.
    - `.pth`, `.pt`, `.tar`, `.npz`: a BN-Inception `state_dict` (`convert_bninception_state_dict`).

    Raises:
        DataError: the file is missing, of an unknown kind, or its weights do not fit the
            model; the message names the layer (or key) and the shapes.
    """
    path = Path(weights)
    if not path.is_file():
        raise DataError(f"weights file {path} does not exist")
    if path.name.endswith(".weights.h5"):
        _check_weights_h5(model, path)
        try:
            with warnings.catch_warnings():
                # Keras warns about optional containers that plain layer stacks never save.
                warnings.filterwarnings("ignore", message="Skipping nested container")
                model.load_weights(path)
        except ValueError as error:
            first_line = str(error).strip().splitlines()[0]
            raise DataError(
                f"weights file {path} does not fit {model.name!r}: {first_line}"
            ) from error
        return model
    if path.suffix == ".keras":
        import keras_wsal

        keras_wsal.register_serializable_classes()  # a backbone file may hold keras_wsal layers
        try:
            saved = keras.saving.load_model(path, compile=False)
        except Exception as error:
            raise DataError(f"cannot load Keras model file {path}: {error}") from error
        _copy_weights_by_name(saved, model, path)
        return model
    if path.suffix in _STATE_DICT_SUFFIXES:
        return convert_bninception_state_dict(path, model)
    raise DataError(
        f"weights file {path}: unknown kind; expected .keras, .weights.h5 or a BN-Inception "
        f"state_dict ({', '.join(_STATE_DICT_SUFFIXES)})"
    )


def _describe_mismatch(layer_name: str, expected: list, got: list, path: Path) -> DataError:
    return DataError(
        f"weights file {path} does not fit layer {layer_name!r}: the file has shapes {got}, "
        f"the model expects {expected}"
    )


def _copy_weights_by_name(source: keras.Model, target: keras.Model, path: Path) -> None:
    saved = {layer.name: layer for layer in source.layers}
    assignments = []
    for layer in target.layers:
        if not layer.weights:
            continue
        if layer.name not in saved:
            raise DataError(f"weights file {path} has no layer {layer.name!r} of {target.name!r}")
        values = saved[layer.name].get_weights()
        expected = [tuple(v.shape) for v in layer.weights]
        got = [tuple(v.shape) for v in values]
        if expected != got:
            raise _describe_mismatch(layer.name, expected, got, path)
        assignments.append((layer, values))
    for layer, values in assignments:
        layer.set_weights(values)


def _check_weights_h5(model: keras.Model, path: Path) -> None:
    """Name the first mismatching layer before Keras loads the file (which matches by order)."""
    import h5py

    try:
        with h5py.File(path, "r") as file:
            saved = {}
            for group in file.get("layers", {}).values():
                variables = group.get("vars")
                if variables is not None and "name" in variables.attrs:
                    shapes = [tuple(variables[str(i)].shape) for i in range(len(variables))]
                    saved[str(variables.attrs["name"])] = shapes
    except OSError as error:
        raise DataError(f"cannot read weights file {path}: {error}") from error
    if not saved:
        return
    for layer in model.layers:
        expected = [tuple(v.shape) for v in layer.weights]
        if not expected:
            continue
        if layer.name not in saved:
            raise DataError(f"weights file {path} has no layer {layer.name!r} of {model.name!r}")
        if saved[layer.name] != expected:
            raise _describe_mismatch(layer.name, expected, saved[layer.name], path)
