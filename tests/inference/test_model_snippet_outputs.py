"""`model_snippet_outputs`: the model's outputs as `detect` and a SavedModel compute them."""

import gc
import weakref

import keras
import numpy as np
import pytest

from keras_wsal.inference import predict
from keras_wsal.inference.predict import model_snippet_outputs
from keras_wsal.models import WSGN


def padded_inputs(lengths, dim=6, seed=0):
    """`{"features": [B, T, D], "mask": [B, T]}`, T the longest length; padding holds 1e3 decoys."""
    rng = np.random.default_rng(seed)
    longest = max(lengths)
    mask = np.arange(longest)[None, :] < np.array(lengths)[:, None]
    features = rng.standard_normal((len(lengths), longest, dim)).astype(np.float32)
    features[~mask] = 1e3
    return {"features": features, "mask": mask}


def make_model(policy=None):
    keras.utils.set_random_seed(3)
    model = WSGN(4, {"features": 6}, dtype=policy)
    model.build({"features": (None, None, 6)})
    return model


@pytest.mark.parametrize("lengths", [[5, 9, 1], [1], [12, 12]])
def test_float32_outputs_are_the_eager_outputs(lengths):
    model = make_model()
    inputs = padded_inputs(lengths)
    outputs = model_snippet_outputs(model, inputs)
    eager = model.snippet_outputs(inputs, training=False)
    assert set(outputs) == set(eager)
    for name, value in outputs.items():
        assert isinstance(value, np.ndarray)
        np.testing.assert_allclose(value, keras.ops.convert_to_numpy(eager[name]), rtol=1e-5,
                                   atol=1e-6, err_msg=name)  # fmt: skip
    mask = inputs["mask"]
    assert np.all(outputs["snippet_scores"][~mask] == 0)  # padded steps stay 0


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="traces under TensorFlow")
def test_one_trace_serves_every_batch_size_and_length():
    model = make_model()
    for lengths in ([5, 9, 1], [1], [30, 2], [7] * 5):
        model_snippet_outputs(model, padded_inputs(lengths))
    (traced,) = predict._TRACED[model].values()
    assert traced.experimental_get_tracing_count() == 1


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="traces under TensorFlow")
def test_the_traced_function_does_not_keep_the_model_alive():
    model = make_model()
    model_snippet_outputs(model, padded_inputs([3]))
    assert model in predict._TRACED
    alive = weakref.ref(model)
    del model
    gc.collect()
    assert alive() is None


def test_a_bfloat16_model_computes_in_bfloat16_under_the_float32_global_policy():
    assert keras.config.dtype_policy().name == "float32"
    mixed = make_model("mixed_bfloat16")
    full = make_model()
    full.set_weights(mixed.get_weights())  # the same float32 weights
    inputs = padded_inputs([40, 17], seed=1)
    mixed_outputs = model_snippet_outputs(mixed, inputs)
    full_outputs = model_snippet_outputs(full, inputs)
    for name, value in mixed_outputs.items():
        assert value.dtype == np.float32
        np.testing.assert_allclose(value, full_outputs[name], atol=0.05, err_msg=name)
    # bfloat16 rounding (8 bits of mantissa) shows; float32 would agree to ≈ 1e-7.
    assert np.abs(mixed_outputs["snippet_scores"] - full_outputs["snippet_scores"]).max() > 1e-4
