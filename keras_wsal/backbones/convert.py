"""Load the public BN-Inception ImageNet weights, in their PyTorch `state_dict` layout.

The released weights (TSN's BN-Inception, as served by Cadene's `pretrainedmodels` and
TSN-pytorch) are a `state_dict` whose keys are the layer names of `bn_inception` plus the
parameter: `NAME.weight` / `NAME.bias` for a convolution (`[out, in, kh, kw]`, "OIHW") and
`NAME.weight` / `.bias` / `.running_mean` / `.running_var` for a batch normalisation.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import keras
import numpy as np

from keras_wsal.backbones.bn_inception import bn_inception
from keras_wsal.backbones.tsn import cross_modality_kernel
from keras_wsal.errors import DataError

FIRST_CONV = "conv1_7x7_s2"
# Classifier weights of the released models: not part of the backbone.
_CLASSIFIER_PREFIXES = ("last_linear.", "fc.", "new_fc.", "fc_action.")
# Wrappers that checkpoints put in front of the layer names (DataParallel, TSN-pytorch).
_KEY_PREFIXES = ("module.", "base_model.")


def load_state_dict(state_dict_or_path) -> dict[str, np.ndarray]:
    """A `state_dict` as `{key: float32 NumPy array}`.

    Accepts a mapping of arrays or tensors, a PyTorch file (`.pth`, `.pt`, `.tar`; read with
    `torch.load(weights_only=True)`, which needs torch) or an `.npz` of the same keys. A
    checkpoint holding `{"state_dict": ...}` is unwrapped, and the `module.` / `base_model.`
    prefixes of DataParallel and TSN-pytorch checkpoints are removed.
    """
    source = state_dict_or_path
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.is_file():
            raise DataError(f"weights file {path} does not exist")
        if path.suffix == ".npz":
            with np.load(path) as archive:
                source = {key: archive[key] for key in archive.files}
        else:
            try:
                import torch
            except ImportError as error:
                raise DataError(
                    f"reading the PyTorch weights file {path} needs torch; install it, or save "
                    "the state_dict as an .npz of the same keys"
                ) from error
            try:
                source = torch.load(path, map_location="cpu", weights_only=True)
            except Exception as error:
                raise DataError(f"cannot read PyTorch weights file {path}: {error}") from error
    if isinstance(source, Mapping) and isinstance(source.get("state_dict"), Mapping):
        source = source["state_dict"]
    if not isinstance(source, Mapping):
        raise DataError(f"expected a state_dict (a mapping of names to arrays), got {type(source)}")
    arrays = {}
    for key, value in source.items():
        name = str(key)
        while name.startswith(_KEY_PREFIXES):
            name = name.split(".", 1)[1]
        if hasattr(value, "detach"):
            value = value.detach().cpu().numpy()
        arrays[name] = np.asarray(value, dtype=np.float32)
    return arrays


def _torch_conv_to_keras(weight: np.ndarray) -> np.ndarray:
    """OIHW -> HWIO."""
    return np.transpose(weight, (2, 3, 1, 0))


def convert_bninception_state_dict(
    state_dict_or_path, model: keras.Model | None = None
) -> keras.Model:
    """Load BN-Inception weights in the PyTorch `state_dict` layout into a Keras model.

    Each `Conv2D` named `NAME` takes `NAME.weight` transposed from OIHW to HWIO and
    `NAME.bias`; each `BatchNormalization` named `NAME` takes gamma, beta, moving mean and
    moving variance from `NAME.weight`, `.bias`, `.running_mean`, `.running_var`.

    The first convolution:
    - a 3-channel `conv1_7x7_s2.weight` (the release's BGR input order) has its input channels
      reversed, so that the Keras model takes RGB frames;
    - loaded into a model whose first convolution has `C != 3` input channels (the temporal
      stream, `C = 10`), it gets TSN's cross-modality initialisation: the kernels averaged over
      the 3 channels and replicated `C` times (`cross_modality_kernel`);
    - a `C`-channel weight (a released temporal-stream model) loads as it is.

    Keys skipped: `num_batches_tracked` counters and the classifier (`last_linear.*`, `fc.*`,
    `new_fc.*`, `fc_action.*`). A value of shape `[1, *expected]` (TSN-pytorch's release stores
    the BN vectors as `[1, C]`) loads as `expected`.

    Args:
        state_dict_or_path: a `state_dict` (mapping of arrays or tensors) or a file (see
            `load_state_dict`).
        model: the model to load into (a model whose top-level layers are BN-Inception's,
            by name: `bn_inception(...)` or `make_backbone("bn_inception", ...)`); `None` builds
            `bn_inception` at 224x224 with the state_dict's number of input channels.

    Returns:
        The model, with the weights loaded.

    Raises:
        DataError: a key is missing, unexpected (a different architecture) or has the wrong
            shape; the message names the key and both shapes. The model is left unchanged.
    """
    state = load_state_dict(state_dict_or_path)
    state = {
        key: value
        for key, value in state.items()
        if not key.endswith("num_batches_tracked") and not key.startswith(_CLASSIFIER_PREFIXES)
    }
    first = state.get(f"{FIRST_CONV}.weight")
    if first is None or first.ndim != 4:
        raise DataError(f"state_dict has no 4-D {FIRST_CONV}.weight: not a BN-Inception state_dict")
    if model is None:
        model = bn_inception((224, 224, first.shape[1]))
    used = set()
    assignments = []

    def take(key: str, expected_shape: tuple) -> np.ndarray:
        if key not in state:
            raise DataError(f"state_dict has no {key!r} (expected shape {expected_shape})")
        value = state[key]
        if value.shape == (1, *expected_shape):
            # TSN-pytorch's release (bn_inception-52deb4733.pth) stores BN vectors as [1, C].
            value = value[0]
        if value.shape != tuple(expected_shape):
            raise DataError(
                f"state_dict {key!r} has shape {value.shape}, but the model's layer expects "
                f"{tuple(expected_shape)}: the weights are not BN-Inception's"
            )
        used.add(key)
        return value

    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kernel_shape = tuple(layer.kernel.shape)
            torch_shape = (kernel_shape[3], kernel_shape[2], kernel_shape[0], kernel_shape[1])
            in_channels = torch_shape[1]
            rgb_shape = (torch_shape[0], 3, *torch_shape[2:])
            if layer.name == FIRST_CONV and in_channels != 3 and first.shape == rgb_shape:
                rgb = _torch_conv_to_keras(take(f"{FIRST_CONV}.weight", rgb_shape))
                kernel = cross_modality_kernel(rgb, in_channels)
            else:
                kernel = _torch_conv_to_keras(take(f"{layer.name}.weight", torch_shape))
                if layer.name == FIRST_CONV and in_channels == 3:
                    kernel = kernel[:, :, ::-1, :]  # BGR -> RGB
            assignments.append((layer, [kernel, take(f"{layer.name}.bias", (kernel_shape[3],))]))
        elif isinstance(layer, keras.layers.BatchNormalization):
            channels = (layer.gamma.shape[0],)
            suffixes = ("weight", "bias", "running_mean", "running_var")
            assignments.append(
                (layer, [take(f"{layer.name}.{suffix}", channels) for suffix in suffixes])
            )
    unexpected = sorted(set(state) - used)
    if unexpected:
        raise DataError(
            f"state_dict has {len(unexpected)} keys that are not BN-Inception layers of the "
            f"model, e.g. {unexpected[:3]}"
        )
    if not used:
        raise DataError(f"model {model.name!r} has no BN-Inception layers to load into")
    # Every key was checked before any layer changes: a bad file leaves the model untouched.
    for layer, weights in assignments:
        layer.set_weights(weights)
    return model
