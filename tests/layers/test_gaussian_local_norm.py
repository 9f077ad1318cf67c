import keras
import numpy as np
import pytest
from layer_test_case import (
    backend_gradient,
    numeric_gradient,
    numpy_sum_to_length,
    random_scores,
    run_layer_test,
    run_precision_test,
)

from keras_wsal.layers import GaussianLocalNorm


def numpy_zloc(scores, mask, epsilon=1e-6):
    """WSGN eq. 3 with population statistics over each video's valid steps, in float64."""
    out = np.zeros(scores.shape)
    for b in range(scores.shape[0]):
        valid = scores[b][mask[b]].astype("float64")
        if len(valid) == 0:
            continue
        mu = valid.mean(axis=0)
        s = np.sqrt(valid.var(axis=0) + epsilon)
        out[b, mask[b]] = np.exp(-(((valid - mu) / s) ** 2))
    return out


@pytest.mark.parametrize("shape", [(1, 1, 1), (2, 5, 3), (3, 17, 4), (4, 64, 20)])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("epsilon", [1e-6, 0.5])
@pytest.mark.parametrize("sum_to", [None, "length"])
def test_matches_numpy_equation(shape, masked, epsilon, sum_to):
    scores, mask = random_scores(*shape, masked=masked, seed=sum(shape))
    layer = GaussianLocalNorm(epsilon=epsilon, sum_to=sum_to)
    output = keras.ops.convert_to_numpy(layer(scores, mask=mask))
    expected = numpy_zloc(scores, mask, epsilon)
    if sum_to == "length":
        expected = numpy_sum_to_length(expected, mask)
    np.testing.assert_allclose(output, expected, rtol=1e-5, atol=1e-5)


def test_default_is_eq_3_literally():
    assert GaussianLocalNorm().sum_to is None


def test_generic_layer_behaviour(tmp_path):
    scores, mask = random_scores(3, 9, 4, masked=True)
    run_layer_test(GaussianLocalNorm, {"epsilon": 1e-4}, scores, mask, (3, 9, 4), tmp_path, 0)


def test_mixed_precision():
    scores, mask = random_scores(3, 9, 4, masked=True)
    run_precision_test(GaussianLocalNorm, {}, scores, mask, atol=0.01)


@pytest.mark.parametrize("policy", ["float32", "mixed_float16", "mixed_bfloat16"])
def test_extreme_inputs_give_documented_values(policy):
    layer = GaussianLocalNorm(dtype=policy)
    cases = [
        # mean 0, variance 1e8: the ±1e4 steps are one deviation away → exp(-1).
        (
            np.array([[[1e4], [-1e4]]], "float32"),
            np.ones((1, 2), bool),
            [[[np.exp(-1)], [np.exp(-1)]]],
        ),
        (np.array([[[-3.0]]], "float32"), np.ones((1, 1), bool), [[[1.0]]]),
        (np.full((1, 4, 1), 2.0, "float32"), np.ones((1, 4), bool), [[[1.0]] * 4]),
        (np.ones((1, 4, 1), "float32"), np.zeros((1, 4), bool), [[[0.0]] * 4]),
    ]
    for scores, mask, expected in cases:
        output = keras.ops.convert_to_numpy(keras.ops.cast(layer(scores, mask=mask), "float32"))
        np.testing.assert_allclose(output, expected, atol=1e-2)
        (gradient,) = backend_gradient(lambda x, m=mask: layer(x, mask=m), scores)
        assert np.all(np.isfinite(gradient))


def test_gradient_matches_finite_differences():
    scores, mask = random_scores(2, 5, 2, masked=True, seed=5)
    weights = np.random.default_rng(3).normal(size=scores.shape).astype("float32")
    layer = GaussianLocalNorm(epsilon=1e-3)
    (gradient,) = backend_gradient(
        lambda x: keras.ops.multiply(layer(x, mask=mask), weights), scores
    )
    expected = numeric_gradient(lambda x: np.sum(numpy_zloc(x, mask, 1e-3) * weights), scores)
    np.testing.assert_allclose(gradient, expected, atol=2e-4)
    assert np.all(gradient[~mask] == 0)


def test_bad_arguments_and_inputs_are_rejected():
    with pytest.raises(ValueError, match="GaussianLocalNorm: `sum_to` must be one of"):
        GaussianLocalNorm(sum_to="one")
    with pytest.raises(ValueError, match="GaussianLocalNorm: `epsilon` must be > 0"):
        GaussianLocalNorm(epsilon=0.0)
    with pytest.raises(ValueError, match=r"zloc: `mask` must have shape \[batch, time\]"):
        GaussianLocalNorm(name="zloc")(np.zeros((2, 5, 3), "float32"), mask=np.ones((10,), bool))
