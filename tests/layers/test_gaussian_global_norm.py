import math

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

from keras_wsal.layers import GaussianGlobalNorm


def numpy_gloc(scores, mask, mean, sigma, sum_to="length"):
    """WSGN eq. 5 with per-class mean and deviation, 0 at padded steps, in float64; rescaled to
    sum to each video's number of valid steps for "length"."""
    weights = np.exp(-(((scores.astype("float64") - mean) / sigma) ** 2)) * mask[..., None]
    return numpy_sum_to_length(weights, mask) if sum_to == "length" else weights


@pytest.mark.parametrize("shape", [(1, 1, 1), (2, 5, 3), (3, 17, 4), (4, 64, 20)])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("sum_to", [None, "length"])
def test_matches_numpy_equation_with_learned_parameters(shape, masked, sum_to):
    scores, mask = random_scores(*shape, masked=masked, seed=sum(shape))
    layer = GaussianGlobalNorm(sum_to=sum_to)
    layer.build(scores.shape)
    rng = np.random.default_rng(0)
    mean = rng.normal(size=shape[2]).astype("float32")
    sigma = rng.uniform(0.2, 3.0, size=shape[2]).astype("float32")
    raw = np.log(np.expm1(sigma.astype("float64") - layer.min_sigma)).astype("float32")
    layer.set_weights([mean, raw])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.sigma), sigma, rtol=1e-5)
    output = keras.ops.convert_to_numpy(layer(scores, mask=mask))
    expected = numpy_gloc(scores, mask, mean, sigma, sum_to)
    np.testing.assert_allclose(output, expected, rtol=1e-5, atol=1e-5)


def test_video_score_can_reach_one_only_when_rescaled():
    """ŷ = (1/T) Σ_t l_t p_t with p = 1 on the one selected step of four (x = μ there, far
    elsewhere): rescaled weights give ŷ = 1; eq. 5's weights, each at most 1, give 1/4."""
    scores = np.array([[[0.0], [50.0], [-50.0], [80.0]]], "float32")
    probabilities = np.array([1.0, 0.0, 0.0, 0.0])
    for sum_to, expected in (("length", 1.0), (None, 0.25)):
        weights = keras.ops.convert_to_numpy(GaussianGlobalNorm(sum_to=sum_to)(scores))
        assert float(np.mean(weights[0, :, 0] * probabilities)) == pytest.approx(expected)


def test_layers_saved_before_sum_to_existed_load_as_eq_5():
    config = GaussianGlobalNorm().get_config()
    del config["sum_to"]
    assert GaussianGlobalNorm.from_config(config).sum_to is None
    assert GaussianGlobalNorm.from_config(GaussianGlobalNorm().get_config()).sum_to == "length"


def test_initial_parameters_and_positivity():
    layer = GaussianGlobalNorm(initial_mean=0.5, initial_sigma=2.0)
    layer.build((None, None, 3))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.mean), [0.5] * 3)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.sigma), [2.0] * 3, rtol=1e-6)
    layer.set_weights([np.zeros(3, "float32"), np.full(3, -1e3, "float32")])
    assert np.all(keras.ops.convert_to_numpy(layer.sigma) >= layer.min_sigma)
    assert [w.name for w in layer.trainable_weights] == ["mean", "raw_sigma"]


def test_generic_layer_behaviour(tmp_path):
    scores, mask = random_scores(3, 9, 4, masked=True)
    run_layer_test(
        GaussianGlobalNorm,
        {"initial_mean": 0.1, "initial_sigma": 1.5, "min_sigma": 0.01},
        scores,
        mask,
        (3, 9, 4),
        tmp_path,
        expected_num_trainable_weights=2,
    )


def test_mixed_precision():
    scores, mask = random_scores(3, 9, 4, masked=True)
    run_precision_test(GaussianGlobalNorm, {}, scores, mask, atol=0.01)


@pytest.mark.parametrize("policy", ["float32", "mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("sum_to", [None, "length"])
def test_extreme_inputs_give_documented_values(policy, sum_to):
    layer = GaussianGlobalNorm(dtype=policy, sum_to=sum_to)
    rescaled = sum_to == "length"
    cases = [
        (
            np.array([[[1e4], [-1e4], [0.0]]], "float32"),
            np.ones((1, 3), bool),
            [[[0.0], [0.0], [3.0 if rescaled else 1.0]]],
        ),
        (
            np.array([[[1.0]]], "float32"),
            np.ones((1, 1), bool),
            [[[1.0 if rescaled else math.exp(-1)]]],
        ),
        # every step far from μ: eq. 5 gives 0 everywhere; rescaled, the nearest steps share T.
        (
            np.array([[[1e3], [1e3], [2e3]]], "float32"),
            np.ones((1, 3), bool),
            [[[1.5], [1.5], [0.0]]] if rescaled else [[[0.0], [0.0], [0.0]]],
        ),
        (np.ones((1, 4, 1), "float32"), np.zeros((1, 4), bool), [[[0.0]] * 4]),
    ]
    for scores, mask, expected in cases:
        output = keras.ops.convert_to_numpy(keras.ops.cast(layer(scores, mask=mask), "float32"))
        np.testing.assert_allclose(output, expected, atol=1e-2)
        gradients = backend_gradient(lambda x, m=mask: layer(x, mask=m), scores)
        assert np.all(np.isfinite(gradients[0]))


def test_gradient_matches_finite_differences():
    scores, mask = random_scores(2, 5, 2, masked=True, seed=6)
    weights = np.random.default_rng(4).normal(size=scores.shape).astype("float32")
    layer = GaussianGlobalNorm(initial_sigma=1.3)
    (gradient,) = backend_gradient(
        lambda x: keras.ops.multiply(layer(x, mask=mask), weights), scores
    )
    sigma = keras.ops.convert_to_numpy(layer.sigma).astype("float64")
    expected = numeric_gradient(lambda x: np.sum(numpy_gloc(x, mask, 0.0, sigma) * weights), scores)
    np.testing.assert_allclose(gradient, expected, atol=1e-4)
    assert np.all(gradient[~mask] == 0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"initial_sigma": 0.0}, "`initial_sigma` must be a float > 0"),
        ({"min_sigma": -1.0}, "`min_sigma` must be a float > 0"),
        ({"initial_sigma": 1e-4}, "`initial_sigma` must be larger than `min_sigma`"),
        ({"initial_mean": "zero"}, "`initial_mean` must be a float"),
        ({"sum_to": "one"}, "`sum_to` must be one of (None, 'length')"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match="GaussianGlobalNorm") as error:
        GaussianGlobalNorm(**kwargs)
    assert message in str(error.value)


def test_unknown_class_dimension_is_rejected():
    with pytest.raises(ValueError, match="class dimension of `inputs` must be known"):
        GaussianGlobalNorm(name="gloc").build((None, None, None))
