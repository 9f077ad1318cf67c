import keras
import numpy as np
import pytest
from keras import ops
from layer_test_case import backend_gradient

from keras_wsal.layers import valid_snippets
from keras_wsal.layers.valid_snippets import on_valid_snippets

LENGTHS = (6, 3, 1, 0)  # a full video, a padded one, a one-snippet one, an empty slot


def batch(lengths=LENGTHS, time=6, dim=4, seed=0):
    """Features `[B, T, D]` with decoys (1e3) at the padded steps, and their mask."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(len(lengths), time, dim)).astype("float32")
    mask = np.arange(time)[None] < np.array(lengths)[:, None]
    features[~mask] = 1e3
    return features, mask


def network(kernel):
    """Two outputs per row, `relu(x W)` `[N, 5]` and `x W[:, :2]` `[N, 2]`, row by row."""
    return lambda rows: (ops.relu(ops.matmul(rows, kernel)), ops.matmul(rows, kernel[:, :2]))


def test_outputs_are_the_rows_outputs_at_valid_steps_and_zero_elsewhere():
    features, mask = batch()
    kernel = np.random.default_rng(1).normal(size=(4, 5)).astype("float32")
    hidden, scores = (
        ops.convert_to_numpy(o) for o in on_valid_snippets(network(kernel), features, mask)
    )
    assert hidden.shape == (4, 6, 5) and scores.shape == (4, 6, 2)
    expected = features.astype("float64") @ kernel
    np.testing.assert_allclose(hidden[mask], np.maximum(expected, 0)[mask], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(scores[mask], expected[..., :2][mask], rtol=1e-5, atol=1e-5)
    assert np.all(hidden[~mask] == 0) and np.all(scores[~mask] == 0)


@pytest.mark.parametrize("multiple", [1, 4, 7, 1000])
def test_rows_rounded_up_with_padded_ones_give_the_same_outputs(monkeypatch, multiple):
    # 10 valid steps of 24: TensorFlow computes ceil(10 / m) · m rows (at most 24), drops the extra.
    monkeypatch.setattr(valid_snippets, "ROWS_MULTIPLE", multiple)
    features, mask = batch()
    kernel = np.random.default_rng(6).normal(size=(4, 5)).astype("float32")
    hidden, _ = (
        ops.convert_to_numpy(o) for o in on_valid_snippets(network(kernel), features, mask)
    )
    np.testing.assert_allclose(
        hidden[mask], np.maximum(features @ kernel, 0)[mask], rtol=1e-5, atol=1e-5
    )
    assert np.all(hidden[~mask] == 0)


@pytest.mark.parametrize("all_valid", [None, "mask"])
def test_without_a_mask_or_with_every_step_valid_all_rows_are_computed(all_valid):
    features, mask = batch(lengths=(6, 6))
    kernel = np.random.default_rng(2).normal(size=(4, 5)).astype("float32")
    (hidden, _) = on_valid_snippets(network(kernel), features, mask if all_valid else None)
    np.testing.assert_allclose(
        ops.convert_to_numpy(hidden), np.maximum(features @ kernel, 0), rtol=1e-5, atol=1e-5
    )


def test_a_batch_with_no_valid_step_gives_zeros():
    features, mask = batch(lengths=(0, 0))
    kernel = np.ones((4, 5), "float32")
    hidden, scores = on_valid_snippets(network(kernel), features, mask)
    assert ops.convert_to_numpy(hidden).shape == (2, 6, 5)
    assert np.all(ops.convert_to_numpy(hidden) == 0) and np.all(ops.convert_to_numpy(scores) == 0)


def test_padded_steps_add_nothing_to_the_gradient():
    # d/dW Σ w ⊙ relu(x W) over the valid rows only, by hand: Σ_valid x_tᵀ (w_t ⊙ [x_t W > 0]).
    features, mask = batch()
    rng = np.random.default_rng(3)
    kernel = rng.normal(size=(4, 5)).astype("float32")
    weights = rng.normal(size=(4, 6, 5)).astype("float32")

    def loss(kernel):
        (hidden, _) = on_valid_snippets(network(kernel), features, mask)
        return ops.multiply(hidden, weights)

    (gradient,) = backend_gradient(loss, kernel)
    rows, upstream = features[mask].astype("float64"), weights[mask]
    expected = rows.T @ (upstream * (rows @ kernel > 0))
    np.testing.assert_allclose(gradient, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_sixteen_bit_rows_keep_their_dtype_and_values(dtype):
    features, mask = batch()
    kernel = np.random.default_rng(4).normal(size=(4, 5)).astype("float32")
    hidden, _ = on_valid_snippets(network(ops.cast(kernel, dtype)), ops.cast(features, dtype), mask)
    assert keras.backend.standardize_dtype(hidden.dtype) == dtype
    expected = np.maximum(features.astype("float64") @ kernel, 0)
    got = ops.convert_to_numpy(ops.cast(hidden, "float32"))
    np.testing.assert_allclose(got[mask], expected[mask], rtol=3e-2, atol=3e-2)
    assert np.all(got[~mask] == 0)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow's XLA")
def test_under_xla_the_values_are_the_same():
    import tensorflow as tf

    features, mask = batch()
    kernel = np.random.default_rng(5).normal(size=(4, 5)).astype("float32")
    compiled = tf.function(lambda x, m: on_valid_snippets(network(kernel), x, m), jit_compile=True)
    for eager, xla in zip(
        on_valid_snippets(network(kernel), features, mask), compiled(features, mask), strict=True
    ):
        np.testing.assert_allclose(xla.numpy(), eager.numpy(), rtol=1e-5, atol=1e-5)
