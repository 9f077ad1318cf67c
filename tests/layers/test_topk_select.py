import math

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

from keras_wsal.layers import TopKSelect


def numpy_topk(scores, mask, k=None, k_ratio=None):
    """UntrimmedNet eq. 3 (before softmax), one video and one class at a time."""
    batch, _, classes = scores.shape
    out = np.zeros((batch, classes))
    for b in range(batch):
        valid = scores[b][mask[b]].astype("float64")
        if len(valid) == 0:
            continue
        kb = min(k, len(valid)) if k is not None else max(1, math.floor(k_ratio * len(valid)))
        for c in range(classes):
            out[b, c] = np.sort(valid[:, c])[::-1][:kb].mean()
    return out


SHAPES = [(1, 1, 1), (2, 5, 3), (3, 17, 4), (4, 64, 20)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize(
    "kwargs", [{"k": 1}, {"k": 3}, {"k_ratio": 0.125}, {"k_ratio": 0.5}, {"k_ratio": 1.0}]
)
def test_matches_numpy_equation(shape, masked, kwargs):
    scores, mask = random_scores(*shape, masked=masked, seed=sum(shape))
    output = keras.ops.convert_to_numpy(TopKSelect(**kwargs)(scores, mask=mask))
    np.testing.assert_allclose(output, numpy_topk(scores, mask, **kwargs), rtol=1e-5, atol=1e-6)


def test_k_is_computed_per_video_from_its_valid_length():
    # Video 0: 8 valid steps → k = floor(0.5·8) = 4; video 1: 3 valid → k = 1; video 2: 1 → k = 1.
    scores = np.tile(np.arange(8, dtype="float32")[None, :, None], (3, 1, 1))
    mask = np.arange(8)[None, :] < np.array([8, 3, 1])[:, None]
    output = keras.ops.convert_to_numpy(TopKSelect(k_ratio=0.5)(scores, mask=mask))
    np.testing.assert_allclose(output[:, 0], [(7 + 6 + 5 + 4) / 4, 2.0, 0.0])


def test_floor_of_exact_products_is_exact():
    # floor(0.1 · 30) must be 3 even though 0.1 · 30 is 3.0000000000000004 / 2.9999998 in floats.
    scores = np.arange(30, dtype="float32")[None, :, None]
    output = keras.ops.convert_to_numpy(TopKSelect(k_ratio=0.1)(scores))
    np.testing.assert_allclose(output, [[(29 + 28 + 27) / 3]])


def test_fixed_k_is_clipped_to_the_valid_length_and_empty_video_gives_zero():
    scores = np.array(
        [[[1.0], [5.0], [9.0]], [[2.0], [4.0], [100.0]], [[3.0], [3.0], [3.0]]], "float32"
    )
    mask = np.array([[True, True, True], [True, True, False], [False, False, False]])
    output = keras.ops.convert_to_numpy(TopKSelect(k=5)(scores, mask=mask))
    np.testing.assert_allclose(output[:, 0], [5.0, 3.0, 0.0])


def test_generic_layer_behaviour(tmp_path):
    scores, mask = random_scores(3, 9, 4, masked=True)
    run_layer_test(TopKSelect, {"k_ratio": 0.25}, scores, mask, (3, 4), tmp_path, 0)
    run_layer_test(TopKSelect, {"k": 2}, scores, mask, (3, 4), tmp_path, 0)


def test_mixed_precision():
    scores, mask = random_scores(3, 9, 4, masked=True)
    scores = np.where(mask[..., None], scores, 0.0).astype("float32")
    run_precision_test(TopKSelect, {"k": 2}, scores, mask, atol=0.02)


@pytest.mark.parametrize("policy", ["float32", "mixed_float16", "mixed_bfloat16"])
def test_extreme_inputs_give_finite_values_and_gradients(policy):
    layer = TopKSelect(k_ratio=0.5, dtype=policy)
    cases = {
        "logits ±1e4": (
            np.array([[[1e4, -1e4], [-1e4, 1e4], [0.0, 0.0]]], "float32"),
            np.ones((1, 3), bool),
        ),
        "one step": (np.array([[[0.3, -2.0]]], "float32"), np.ones((1, 1), bool)),
        "equal scores": (np.full((1, 4, 2), 0.7, "float32"), np.ones((1, 4), bool)),
        "fully masked": (np.ones((1, 4, 2), "float32"), np.zeros((1, 4), bool)),
    }
    expected = {
        "logits ±1e4": [[1e4, 1e4]],
        "one step": [[0.3, -2.0]],
        "equal scores": [[0.7, 0.7]],
        "fully masked": [[0.0, 0.0]],
    }
    for name, (scores, mask) in cases.items():
        output = keras.ops.convert_to_numpy(keras.ops.cast(layer(scores, mask=mask), "float32"))
        np.testing.assert_allclose(output, expected[name], rtol=1e-2, err_msg=name)
        (gradient,) = backend_gradient(lambda x, m=mask: layer(x, mask=m), scores)
        assert np.all(np.isfinite(gradient)), name


def test_gradient_matches_finite_differences():
    scores, mask = random_scores(2, 6, 3, masked=True, seed=3)
    weights = np.random.default_rng(1).normal(size=(2, 3))
    layer = TopKSelect(k_ratio=0.5)
    (gradient,) = backend_gradient(
        lambda x: keras.ops.multiply(layer(x, mask=mask), weights.astype("float32")), scores
    )
    expected = numeric_gradient(
        lambda x: np.sum(numpy_topk(x, mask, k_ratio=0.5) * weights), scores
    )
    np.testing.assert_allclose(gradient, expected, atol=1e-4)
    assert np.all(gradient[~mask] == 0), "a padded step received gradient"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "exactly one of `k`"),
        ({"k": 2, "k_ratio": 0.5}, "exactly one of `k`"),
        ({"k": 0}, "`k` must be an int ≥ 1"),
        ({"k": 2.5}, "`k` must be an int ≥ 1"),
        ({"k_ratio": 0.0}, "`k_ratio` must be in (0, 1]"),
        ({"k_ratio": 1.5}, "`k_ratio` must be in (0, 1]"),
    ],
)
def test_bad_arguments_name_the_layer_and_argument(kwargs, message):
    with pytest.raises(ValueError, match="TopKSelect") as error:
        TopKSelect(**kwargs)
    assert message in str(error.value)


def test_wrong_rank_and_wrong_mask_shape_are_rejected():
    layer = TopKSelect(k=1, name="topk")
    with pytest.raises(
        ValueError, match=r"topk: `inputs` must have shape \[batch, time, channels\]"
    ):
        layer(np.zeros((2, 5), "float32"))
    with pytest.raises(ValueError, match=r"topk: `mask` must have shape \[batch, time\]"):
        layer(np.zeros((2, 5, 3), "float32"), mask=np.ones((2, 5, 3), bool))
    with pytest.raises(ValueError, match="does not match the time dimension"):
        layer(np.zeros((2, 5, 3), "float32"), mask=np.ones((2, 4), bool))
    with pytest.raises(ValueError, match="does not match the batch dimension"):
        layer(np.zeros((2, 5, 3), "float32"), mask=np.ones((3, 5), bool))
