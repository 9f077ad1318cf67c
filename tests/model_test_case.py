"""One shared check that every keras_wsal model passes (after KerasHub's `run_model_test`).

`run_model_test` checks that the config holds exactly the constructor's arguments and rebuilds
the model, that a `.keras` file loads in a fresh process that imports only `keras` and
`keras_wsal.models` and gives the same outputs, that one compiled `fit` step with the model's
own loss changes its weights and gives a finite loss, and that under `mixed_float16` and
`mixed_bfloat16` its variables stay float32 while its outputs are float32 and close to float32's.
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
from keras import ops

from keras_wsal.models import loss_for_model

# What `keras.Model.get_config` adds to a subclass's own arguments.
_BASE_CONFIG_KEYS = {"name", "trainable", "dtype"}

_FRESH_PROCESS = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import keras
    import keras_wsal  # registers every serializable class: models, layers, losses
    inputs = dict(np.load(sys.argv[2]))
    model = keras.saving.load_model(sys.argv[1])
    np.save(sys.argv[3], keras.ops.convert_to_numpy(model(inputs)))
    """
)


def padded_inputs(streams: dict, classes: int = 3, seed: int = 5):
    """Three videos of 9, 4 and 1 valid snippets (decoys at padded steps), one class each."""
    rng = np.random.default_rng(seed)
    inputs = {s: rng.normal(size=(3, 9, d)).astype("float32") for s, d in streams.items()}
    inputs["mask"] = np.arange(9)[None, :] < np.array([9, 4, 1])[:, None]
    for stream in streams:
        inputs[stream][~inputs["mask"]] = 1e3
    return inputs, np.eye(classes, dtype="float32")[[0, 1, 2]]


def constructor_arguments(model_cls) -> set[str]:
    """The named arguments of `model_cls.__init__`, and of each keras_wsal base class that its
    `**kwargs` reach (self, `*args` and `**kwargs` left out)."""
    names: set[str] = set()
    for cls in model_cls.__mro__:
        if not cls.__module__.startswith("keras_wsal") or "__init__" not in vars(cls):
            continue
        parameters = inspect.signature(cls.__init__).parameters.values()
        names |= {
            p.name
            for p in parameters
            if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        }
        if not any(p.kind == p.VAR_KEYWORD for p in parameters):
            break
    return names


def outputs_in_fresh_process(model_path, inputs_path):
    """`model(inputs)` of the `.keras` file, loaded in a new Python process that imports only
    `keras` and `keras_wsal` (the global dtype policy float32), on the inputs of an `.npz`."""
    result = Path(model_path).with_suffix(".outputs.npy")
    done = subprocess.run(
        [sys.executable, "-c", _FRESH_PROCESS, str(model_path), str(inputs_path), str(result)],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return np.load(result)


def run_model_test(model_cls, init_kwargs: dict, inputs: dict, labels: np.ndarray, tmp_path):
    """Run the generic model checks; `inputs` is the model's input dict (with "mask")."""
    model = model_cls(**init_kwargs)
    outputs = ops.convert_to_numpy(model(inputs))
    assert model.built
    assert outputs.shape == labels.shape and np.all(np.isfinite(outputs))

    # Config: exactly the constructor's arguments, and from_config rebuilds the same model.
    config = model.get_config()
    own = set(config) - _BASE_CONFIG_KEYS
    assert own == constructor_arguments(model_cls), (
        f"{model_cls.__name__}.get_config() holds {sorted(own)}; its constructor takes "
        f"{sorted(constructor_arguments(model_cls))}"
    )
    rebuilt = model_cls.from_config(config)
    rebuilt(inputs)
    assert rebuilt.get_config() == config
    assert len(rebuilt.weights) == len(model.weights)
    assert [tuple(w.shape) for w in rebuilt.weights] == [tuple(w.shape) for w in model.weights]

    # .keras round trip (compiled with the model's loss, as `keras-wsal train` saves it) in a
    # fresh process that imports only keras and keras_wsal.
    path = tmp_path / f"{model_cls.__name__}.keras"
    model.compile(optimizer="adam", loss=loss_for_model(model))
    model.save(path)
    arrays = tmp_path / "inputs.npz"
    np.savez(arrays, **{name: np.asarray(value) for name, value in inputs.items()})
    np.testing.assert_allclose(
        outputs_in_fresh_process(path, arrays), outputs, rtol=1e-5, atol=1e-6
    )

    # One compiled fit step with the model's own loss.
    trained = model_cls(**init_kwargs)
    trained.compile(optimizer=keras.optimizers.Adam(1e-2), loss=loss_for_model(trained))
    trained(inputs)
    before = [ops.convert_to_numpy(w).copy() for w in trained.trainable_weights]
    history = trained.fit(inputs, labels, batch_size=len(labels), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    after = [ops.convert_to_numpy(w) for w in trained.trainable_weights]
    assert any(not np.array_equal(b, a) for b, a in zip(before, after, strict=True))

    # Mixed precision: float32 variables, float32 outputs close to the float32 model's.
    for policy in ("mixed_float16", "mixed_bfloat16"):
        mixed = model_cls(**init_kwargs, dtype=policy)
        mixed(inputs)
        mixed.set_weights(model.get_weights())
        assert all(keras.backend.standardize_dtype(w.dtype) == "float32" for w in mixed.weights), (
            f"{model_cls.__name__} under {policy} has non-float32 variables"
        )
        mixed_outputs = mixed(inputs)
        assert keras.backend.standardize_dtype(mixed_outputs.dtype) == "float32"
        np.testing.assert_allclose(ops.convert_to_numpy(mixed_outputs), outputs, atol=0.05)
        # Made under the float32 global policy, as a model loaded by `keras-wsal detect` is:
        # every layer still computes in the model's policy.
        assert {layer.dtype_policy.name for layer in mixed._flatten_layers()} == {policy}

    # Loaded in a fresh process (global policy float32), a bfloat16 model gives the outputs it
    # gave before saving, computed in bfloat16 as before.
    path = tmp_path / f"{model_cls.__name__}_bfloat16.keras"
    mixed.save(path)
    np.testing.assert_allclose(
        outputs_in_fresh_process(path, arrays), ops.convert_to_numpy(mixed_outputs), atol=1e-6
    )


def assert_batch_step_is_the_mean_of_video_steps(make_model, inputs: dict, labels: np.ndarray):
    """One plain SGD step (learning rate 1) on a padded batch moves every weight by the mean of
    the moves one step on each video alone makes: padded steps add nothing to the gradient.

    `make_model()` returns a new model with the same initial weights each time, without dropout
    or any loss term that couples the videos of a batch (the loss averages over videos)."""

    def step(x, y):
        model = make_model()
        model.compile(optimizer=keras.optimizers.SGD(1.0), loss=loss_for_model(model))
        model(x)
        before = [ops.convert_to_numpy(w) for w in model.trainable_weights]
        model.train_on_batch(x, y)
        return [
            ops.convert_to_numpy(w) - b
            for w, b in zip(model.trainable_weights, before, strict=True)
        ]

    lengths = np.asarray(inputs["mask"]).sum(axis=1)
    batched = step(inputs, labels)
    alone = [
        step({k: np.asarray(v)[b : b + 1, :n] for k, v in inputs.items()}, labels[b : b + 1])
        for b, n in enumerate(lengths)
    ]
    for index, move in enumerate(batched):
        mean = np.mean([moves[index] for moves in alone], axis=0)
        np.testing.assert_allclose(move, mean, rtol=1e-4, atol=1e-6, err_msg=f"weight {index}")
