import keras
import numpy as np
import pytest
from layer_test_case import (
    backend_gradient,
    numeric_gradient,
    random_scores,
    run_layer_test,
    run_precision_test,
)

from keras_wsal.layers import TemporalSoftmaxNorm


def numpy_sloc(scores, mask, sum_to="one"):
    """WSGN eq. 7, one video and one class at a time, in float64; × T_valid for "length"."""
    out = np.zeros(scores.shape)
    for b in range(scores.shape[0]):
        valid = scores[b][mask[b]].astype("float64")
        for c in range(scores.shape[2]):
            e = np.exp(valid[:, c] - valid[:, c].max()) if len(valid) else valid[:, c]
            out[b, mask[b], c] = e / e.sum() if len(valid) else e
        if sum_to == "length":
            out[b] *= mask[b].sum()
    return out


@pytest.mark.parametrize("shape", [(1, 1, 1), (2, 5, 3), (3, 17, 4), (4, 64, 20)])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("sum_to", ["one", "length"])
def test_matches_numpy_equation(shape, masked, sum_to):
    scores, mask = random_scores(*shape, masked=masked, seed=sum(shape))
    output = keras.ops.convert_to_numpy(TemporalSoftmaxNorm(sum_to=sum_to)(scores, mask=mask))
    np.testing.assert_allclose(output, numpy_sloc(scores, mask, sum_to), rtol=1e-5, atol=1e-6)
    total = mask.sum(1)[:, None] if sum_to == "length" else mask.any(1)[:, None]
    np.testing.assert_allclose(output.sum(axis=1), np.ones(shape[::2]) * total, rtol=1e-5)


def test_video_score_can_reach_one():
    """ŷ = (1/T) Σ_t s_t p_t reaches 1 with sum_to="length"; eq. 7 literally caps it at 1/T."""
    scores = np.array([[[30.0], [0.0], [0.0], [0.0]]], "float32")
    probabilities = np.array([[[1.0], [0.0], [0.0], [0.0]]], "float32")
    for sum_to, expected in (("length", 1.0), ("one", 0.25)):
        weights = keras.ops.convert_to_numpy(TemporalSoftmaxNorm(sum_to=sum_to)(scores))
        assert (weights * probabilities).mean() == pytest.approx(expected, abs=1e-5)


def test_rejects_unknown_sum():
    with pytest.raises(ValueError, match="`sum_to` must be one of"):
        TemporalSoftmaxNorm(sum_to="two")


def test_generic_layer_behaviour(tmp_path):
    scores, mask = random_scores(3, 9, 4, masked=True)
    run_layer_test(TemporalSoftmaxNorm, {}, scores, mask, (3, 9, 4), tmp_path, 0)


def test_mixed_precision():
    scores, mask = random_scores(3, 9, 4, masked=True)
    run_precision_test(TemporalSoftmaxNorm, {}, scores, mask, atol=0.01)


@pytest.mark.parametrize("policy", ["float32", "mixed_float16", "mixed_bfloat16"])
def test_extreme_inputs_give_documented_values(policy):
    layer = TemporalSoftmaxNorm(sum_to="one", dtype=policy)
    cases = [
        (
            np.array([[[1e4], [-1e4], [1e4]]], "float32"),
            np.ones((1, 3), bool),
            [[[0.5], [0.0], [0.5]]],
        ),
        (np.array([[[-3.0]]], "float32"), np.ones((1, 1), bool), [[[1.0]]]),
        (np.full((1, 4, 1), 2.0, "float32"), np.ones((1, 4), bool), [[[0.25]] * 4]),
        (np.ones((1, 4, 1), "float32"), np.zeros((1, 4), bool), [[[0.0]] * 4]),
    ]
    for scores, mask, expected in cases:
        output = keras.ops.convert_to_numpy(keras.ops.cast(layer(scores, mask=mask), "float32"))
        np.testing.assert_allclose(output, expected, atol=1e-3)
        weights = np.arange(1, scores.size + 1, dtype="float32").reshape(scores.shape)
        (gradient,) = backend_gradient(
            lambda x, m=mask, w=weights: keras.ops.multiply(layer(x, mask=m), w), scores
        )
        assert np.all(np.isfinite(gradient))


def test_gradient_matches_finite_differences():
    scores, mask = random_scores(2, 5, 2, masked=True, seed=4)
    weights = np.random.default_rng(2).normal(size=scores.shape).astype("float32")
    layer = TemporalSoftmaxNorm()
    (gradient,) = backend_gradient(
        lambda x: keras.ops.multiply(layer(x, mask=mask), weights), scores
    )
    expected = numeric_gradient(lambda x: np.sum(numpy_sloc(x, mask, "length") * weights), scores)
    np.testing.assert_allclose(gradient, expected, atol=5e-4)
    assert np.all(gradient[~mask] == 0)


def test_bad_inputs_are_rejected():
    layer = TemporalSoftmaxNorm(name="sloc")
    with pytest.raises(
        ValueError, match=r"sloc: `inputs` must have shape \[batch, time, channels\]"
    ):
        layer(np.zeros((4,), "float32"))
    with pytest.raises(ValueError, match="does not match the time dimension"):
        layer(np.zeros((2, 5, 3), "float32"), mask=np.ones((2, 6), bool))
