"""One shared check that every keras_wsal layer passes (after KerasHub's `run_layer_test`).

`run_layer_test` builds the layer, calls it eagerly and symbolically (with a `None` time
dimension), round-trips its config, saves a Functional model that uses it to `.keras` and loads it
back with no `custom_objects`, uses it in Sequential and subclassed models, and runs one compiled
`fit` step (XLA where the backend has it); it checks that the config holds exactly the constructor's
arguments, `built`, the weight counts and the output mask. `run_precision_test` runs it under the
mixed precision policies: float32 variables, outputs and gradients finite and close to float32's.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops
from model_test_case import constructor_arguments

# What `keras.layers.Layer.get_config` adds to a subclass's own arguments.
_BASE_CONFIG_KEYS = {"name", "trainable", "dtype"}


def backend_gradient(function, *arrays):
    """Gradients of `sum(function(*arrays))` with respect to each array, as NumPy arrays."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        variables = [tf.Variable(a) for a in arrays]
        with tf.GradientTape() as tape:
            total = tf.reduce_sum(tf.cast(function(*variables), tf.float32))
        return [g.numpy() for g in tape.gradient(total, variables)]
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        grads = jax.grad(
            lambda *a: jnp.sum(function(*a).astype("float32")), argnums=tuple(range(len(arrays)))
        )(*arrays)
        return [np.asarray(g) for g in grads]
    if backend == "torch":
        import torch

        tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
        function(*tensors).float().sum().backward()
        return [t.grad.numpy() for t in tensors]
    raise ValueError(f"unsupported Keras backend {backend!r}")


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _to_numpy(x):
    return [ops.convert_to_numpy(t) for t in _as_list(x)]


class _Wrapper(keras.Model):
    """A subclassed model holding the layer under test."""

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        self.inner = layer

    def call(self, inputs):
        *x, mask = inputs
        return self.inner(x if len(x) > 1 else x[0], mask=mask)


def _symbolic_inputs(arrays, mask):
    inputs = [keras.Input(shape=(None,) + a.shape[2:], dtype=a.dtype) for a in arrays]
    mask_input = keras.Input(shape=(None,), dtype="bool")
    return inputs, mask_input


def run_layer_test(
    layer_cls,
    init_kwargs: dict,
    input_data,
    mask: np.ndarray,
    expected_output_shape,
    tmp_path,
    expected_num_trainable_weights: int | None = None,
):
    """Run the generic layer checks; `input_data` is one array or a list of arrays."""
    arrays = _as_list(input_data)
    layer_input = arrays if isinstance(input_data, (list, tuple)) else arrays[0]

    # Config round trip: exactly the constructor arguments, reproduced by from_config.
    layer = layer_cls(**init_kwargs)
    config = layer.get_config()
    own = set(config) - _BASE_CONFIG_KEYS
    assert own == constructor_arguments(layer_cls), (
        f"{layer_cls.__name__}.get_config() holds {sorted(own)}; its constructor takes "
        f"{sorted(constructor_arguments(layer_cls))}"
    )
    assert layer_cls.from_config(config).get_config() == config

    # Eager call, with and without a mask; output shape as expected and computed.
    assert not layer.built
    eager = _to_numpy(layer(layer_input, mask=mask))
    assert layer.built
    if expected_num_trainable_weights is not None:
        assert len(layer.trainable_weights) == expected_num_trainable_weights
        assert len(layer.non_trainable_weights) == 0
    expected_shapes = (
        expected_output_shape
        if isinstance(expected_output_shape, list)
        else [expected_output_shape]
    )
    # The output mask: a per-step output keeps the time mask, a pooled one has none.
    output_mask = _as_list(layer.compute_mask(layer_input, mask))
    if len(expected_shapes[0]) == 3 and expected_shapes[0][1] == arrays[0].shape[1]:
        np.testing.assert_array_equal(ops.convert_to_numpy(output_mask[0]), mask)
    else:
        assert all(m is None for m in output_mask)
    assert [tuple(e.shape) for e in eager] == [tuple(s) for s in expected_shapes]
    assert all(np.all(np.isfinite(e)) for e in eager)
    computed = layer.compute_output_shape(
        [a.shape for a in arrays] if len(arrays) > 1 else arrays[0].shape
    )
    computed = list(computed) if isinstance(computed[0], tuple) else [computed]
    assert [tuple(c) for c in computed] == [tuple(s) for s in expected_shapes]

    # Symbolic call with a None time dimension inside a Functional model, saved and loaded back.
    inputs, mask_input = _symbolic_inputs(arrays, mask)
    fresh = layer_cls(**init_kwargs)
    outputs = fresh(inputs if len(inputs) > 1 else inputs[0], mask=mask_input)
    for output, shape in zip(_as_list(outputs), expected_shapes, strict=True):
        assert tuple(output.shape)[0] is None
        if len(shape) == 3:
            assert output.shape[1] is None and output.shape[2] == shape[2]
        elif len(shape) == 2 and shape[1] != arrays[0].shape[1]:
            assert output.shape[1] == shape[1]
    functional = keras.Model([*inputs, mask_input], outputs)
    reference = _to_numpy(functional([*arrays, mask]))
    path = str(tmp_path / f"{layer_cls.__name__}.keras")
    functional.save(path)
    loaded = keras.saving.load_model(path)
    for a, b in zip(reference, _to_numpy(loaded([*arrays, mask])), strict=True):
        np.testing.assert_array_equal(a, b)

    # Sequential (single-input layers) and subclassed models give the Functional model's outputs.
    if len(arrays) == 1:
        sequential = keras.Sequential([keras.Input(shape=(None,) + arrays[0].shape[2:]), fresh])
        np.testing.assert_allclose(
            _to_numpy(sequential(arrays[0]))[0],
            _to_numpy(functional([arrays[0], np.ones(arrays[0].shape[:2], bool)]))[0],
            rtol=1e-6,
            atol=1e-7,
        )
    subclassed = _Wrapper(fresh)
    for a, b in zip(reference, _to_numpy(subclassed([*arrays, mask])), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)

    # One compiled training step on the first output (XLA where the backend has it).
    first_output = _as_list(outputs)[0]
    trainer = keras.Model([*inputs, mask_input], keras.layers.Activation("linear")(first_output))
    trainer.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss="mse",
        jit_compile=keras.backend.backend() != "torch",
    )
    target = np.zeros_like(reference[0])
    before = [ops.convert_to_numpy(w).copy() for w in trainer.trainable_weights]
    history = trainer.fit([*arrays, mask], target, epochs=1, batch_size=len(mask), verbose=0)
    assert np.isfinite(history.history["loss"][0])
    after = [ops.convert_to_numpy(w) for w in trainer.trainable_weights]
    if before:
        assert any(not np.array_equal(b, a) for b, a in zip(before, after, strict=True)), (
            "no weight was updated"
        )
    return reference


def run_precision_test(layer_cls, init_kwargs: dict, input_data, mask: np.ndarray, atol: float):
    """Under mixed_float16 and mixed_bfloat16: output dtype, close to float32, finite gradients."""
    arrays = _as_list(input_data)
    layer_input = arrays if isinstance(input_data, (list, tuple)) else arrays[0]
    reference_layer = layer_cls(**init_kwargs)
    reference = _to_numpy(reference_layer(layer_input, mask=mask))
    for policy in ("mixed_float16", "mixed_bfloat16"):
        layer = layer_cls(**init_kwargs, dtype=policy)
        layer.build([a.shape for a in arrays] if len(arrays) > 1 else arrays[0].shape)
        layer.set_weights(reference_layer.get_weights())
        assert all(keras.backend.standardize_dtype(w.dtype) == "float32" for w in layer.weights), (
            f"{layer_cls.__name__} under {policy} has non-float32 variables"
        )
        outputs = _as_list(layer(layer_input, mask=mask))
        for output, expected in zip(outputs, reference, strict=True):
            assert keras.backend.standardize_dtype(output.dtype) == policy.split("_")[1]
            np.testing.assert_allclose(
                ops.convert_to_numpy(ops.cast(output, "float32")), expected, atol=atol, rtol=0.05
            )

        def first_output(*xs, _layer=layer):
            return _as_list(_layer(list(xs) if len(xs) > 1 else xs[0], mask=mask))[0]

        for gradient in backend_gradient(first_output, *arrays):
            assert np.all(np.isfinite(gradient)), f"non-finite gradient under {policy}"


def random_scores(batch: int, time: int, channels: int, masked: bool, seed: int = 0):
    """Random scores and a `[batch, time]` mask whose padded steps hold large decoy values.

    With `masked`, video b has a random valid length in [1, time] (the first video keeps all
    `time` steps); the padded steps are filled with values of ±1e3 so that any leak of a padded
    step into a result for the real steps shows up.
    """
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(batch, time, channels)).astype("float32")
    lengths = np.full(batch, time)
    if masked:
        lengths[1:] = rng.integers(1, time + 1, size=batch - 1)
    mask = np.arange(time)[None, :] < lengths[:, None]
    decoys = rng.choice([-1e3, 1e3], size=scores.shape).astype("float32")
    scores = np.where(mask[..., None], scores, decoys)
    return scores, mask


def numeric_gradient(function, x: np.ndarray, step: float = 1e-5) -> np.ndarray:
    """Central finite differences of the scalar `function(x)` in float64."""
    x = x.astype("float64")
    gradient = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] += step
        minus[index] -= step
        gradient[index] = (function(plus) - function(minus)) / (2 * step)
    return gradient


def numpy_sum_to_length(weights: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """`weights` `[B, T, C]` rescaled to sum to each video's number of valid steps per class."""
    out = np.zeros(weights.shape)
    for b in range(weights.shape[0]):
        valid = weights[b][mask[b]].astype("float64")
        if len(valid):
            out[b, mask[b]] = valid * len(valid) / valid.sum(axis=0)
    return out
