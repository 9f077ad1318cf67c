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

from keras_wsal.layers import AttentionSelect


def numpy_attention(features, probabilities, mask, kernel):
    """UntrimmedNet eq. 2 (softmax over valid clips of w_sᵀφ) and eq. 4, in float64."""
    batch, time, classes = probabilities.shape
    attention = np.zeros((batch, time))
    video = np.zeros((batch, classes))
    for b in range(batch):
        if not mask[b].any():
            continue
        logits = features[b][mask[b]].astype("float64") @ kernel.astype("float64")[:, 0]
        e = np.exp(logits - logits.max())
        attention[b, mask[b]] = e / e.sum()
        video[b] = attention[b] @ probabilities[b].astype("float64")
    return video, attention


def make_inputs(batch, time, dim, classes, masked, seed=0):
    features, mask = random_scores(batch, time, dim, masked, seed)
    features = np.where(mask[..., None], features, 50.0).astype("float32")
    logits = np.random.default_rng(seed + 1).normal(size=(batch, time, classes))
    probabilities = (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).astype("float32")
    return features, probabilities, mask


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 5, 4, 3), (3, 17, 8, 4), (4, 64, 32, 20)])
@pytest.mark.parametrize("masked", [False, True])
def test_matches_numpy_equation(shape, masked):
    features, probabilities, mask = make_inputs(*shape, masked=masked, seed=sum(shape))
    layer = AttentionSelect(return_attention=True)
    video, attention = layer([features, probabilities], mask=mask)
    kernel = keras.ops.convert_to_numpy(layer.kernel)
    expected_video, expected_attention = numpy_attention(features, probabilities, mask, kernel)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(attention), expected_attention, rtol=1e-5, atol=1e-7
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(video), expected_video, rtol=1e-5, atol=1e-7
    )
    # Eq. 4 is a convex combination of probability vectors: each video's prediction sums to 1.
    np.testing.assert_allclose(keras.ops.convert_to_numpy(video).sum(-1), 1.0, rtol=1e-5)


def test_without_return_attention_returns_only_the_video_prediction():
    features, probabilities, mask = make_inputs(2, 5, 4, 3, masked=True)
    layer = AttentionSelect()
    video = layer([features, probabilities], mask=mask)
    assert tuple(video.shape) == (2, 3)
    assert layer.kernel.shape == (4, 1) and len(layer.weights) == 1


def test_generic_layer_behaviour(tmp_path):
    features, probabilities, mask = make_inputs(3, 9, 6, 4, masked=True)
    run_layer_test(AttentionSelect, {}, [features, probabilities], mask, (3, 4), tmp_path, 1)
    run_layer_test(
        AttentionSelect,
        {"return_attention": True, "kernel_initializer": "he_normal", "kernel_regularizer": "l2"},
        [features, probabilities],
        mask,
        [(3, 4), (3, 9)],
        tmp_path,
        expected_num_trainable_weights=1,
    )


def test_mixed_precision():
    features, probabilities, mask = make_inputs(3, 9, 6, 4, masked=True)
    run_precision_test(
        AttentionSelect, {"return_attention": True}, [features, probabilities], mask, atol=0.01
    )


@pytest.mark.parametrize("policy", ["float32", "mixed_float16", "mixed_bfloat16"])
def test_extreme_inputs_give_documented_values(policy):
    layer = AttentionSelect(return_attention=True, kernel_initializer="ones", dtype=policy)
    p = np.array([[[0.2, 0.8], [0.6, 0.4], [0.5, 0.5]]], "float32")
    cases = [
        # Selection scores +1e4, -1e4, 0 → all attention on the first clip.
        (
            np.array([[[1e4], [-1e4], [0.0]]], "float32"),
            p,
            np.ones((1, 3), bool),
            [[0.2, 0.8]],
            [[1, 0, 0]],
        ),
        (np.array([[[3.0]]], "float32"), p[:, :1], np.ones((1, 1), bool), [[0.2, 0.8]], [[1.0]]),
        (
            np.full((1, 3, 1), 2.0, "float32"),
            p,
            np.ones((1, 3), bool),
            [[1.3 / 3, 1.7 / 3]],
            [[1 / 3] * 3],
        ),
        (np.ones((1, 3, 1), "float32"), p, np.zeros((1, 3), bool), [[0.0, 0.0]], [[0.0] * 3]),
    ]
    for features, probs, mask, expected_video, expected_attention in cases:
        video, attention = layer([features, probs], mask=mask)
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(keras.ops.cast(video, "float32")), expected_video, atol=1e-2
        )
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(keras.ops.cast(attention, "float32")),
            expected_attention,
            atol=1e-2,
        )
        weights = np.array([[1.0, -2.0]], "float32")
        gradients = backend_gradient(
            lambda f, q, m=mask, w=weights: keras.ops.multiply(layer([f, q], mask=m)[0], w),
            features,
            probs,
        )
        assert all(np.all(np.isfinite(g)) for g in gradients)


def test_gradient_matches_finite_differences():
    features, probabilities, mask = make_inputs(2, 5, 3, 2, masked=True, seed=7)
    features = np.where(mask[..., None], features, 0.0).astype("float32")
    weights = np.random.default_rng(5).normal(size=(2, 2)).astype("float32")
    layer = AttentionSelect()
    gradients = backend_gradient(
        lambda f, p: keras.ops.multiply(layer([f, p], mask=mask), weights), features, probabilities
    )
    kernel = keras.ops.convert_to_numpy(layer.kernel)
    expected_features = numeric_gradient(
        lambda f: np.sum(numpy_attention(f, probabilities, mask, kernel)[0] * weights), features
    )
    expected_probabilities = numeric_gradient(
        lambda p: np.sum(numpy_attention(features, p, mask, kernel)[0] * weights), probabilities
    )
    np.testing.assert_allclose(gradients[0], expected_features, atol=1e-4)
    np.testing.assert_allclose(gradients[1], expected_probabilities, atol=1e-4)


def test_bad_inputs_are_rejected():
    layer = AttentionSelect(name="attention")
    with pytest.raises(ValueError, match=r"attention: `inputs` must be a list \[features"):
        layer(np.zeros((2, 5, 3), "float32"))
    with pytest.raises(
        ValueError, match=r"attention: `inputs\[1\] \(class_probabilities\)` must have shape"
    ):
        layer([np.zeros((2, 5, 3), "float32"), np.zeros((2, 5), "float32")])
    with pytest.raises(ValueError, match="must agree in the time dimension"):
        layer([np.zeros((2, 5, 3), "float32"), np.zeros((2, 6, 4), "float32")])
    with pytest.raises(ValueError, match="does not match the time dimension"):
        AttentionSelect(name="a2")(
            [np.zeros((2, 5, 3), "float32"), np.zeros((2, 5, 4), "float32")],
            mask=np.ones((2, 4), bool),
        )
