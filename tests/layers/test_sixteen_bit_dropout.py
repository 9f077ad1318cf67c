import keras
import numpy as np
import pytest
from keras import ops
from layer_test_case import backend_gradient

from keras_wsal.layers import SixteenBitDropout
from keras_wsal.layers.sixteen_bit_dropout import keep_threshold

# Under TensorFlow the layer draws its own 16-bit mask; elsewhere it is keras.layers.Dropout.
OWN_MASK = keras.backend.backend() == "tensorflow"


def keep_probability(rate):
    """q of the layer: the 16-bit mask's, or Keras' 1 - rate on the other backends."""
    return (65536 - keep_threshold(rate)) / 65536 if OWN_MASK else 1.0 - rate


def test_keep_threshold_by_hand():
    # 0.7 · 65536 = 45875.2 → 45875: P(keep) = 19661 / 65536 = 0.300003…
    assert keep_threshold(0.7) == 45875
    assert keep_threshold(0.5) == 32768
    assert keep_threshold(0.0) == 0
    assert keep_threshold(1 - 2**-18) == 65536


def test_config_round_trip_and_a_saved_model_loads_without_custom_objects(tmp_path):
    # (`run_layer_test` does not apply: Keras' dropout is built when made, having no weights.)
    layer = SixteenBitDropout(0.5, seed=3)
    config = layer.get_config()
    assert {"rate": 0.5, "noise_shape": None, "seed": 3}.items() <= config.items()
    assert SixteenBitDropout.from_config(config).get_config() == config
    inputs = keras.Input((None, 4))
    model = keras.Model(inputs, keras.layers.Dense(2)(SixteenBitDropout(0.5)(inputs)))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.layers[1], SixteenBitDropout)
    x = np.random.default_rng(0).standard_normal((2, 6, 4)).astype("float32")
    np.testing.assert_allclose(
        ops.convert_to_numpy(loaded(x)), ops.convert_to_numpy(model(x)), rtol=1e-6
    )
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(x, np.zeros((2, 6, 2), "float32"), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.7, 0.8])
def test_kept_values_are_scaled_by_one_over_q_and_the_rest_are_zero(rate):
    x = np.random.default_rng(1).uniform(1, 2, (4, 250, 512)).astype("float32")
    y = ops.convert_to_numpy(SixteenBitDropout(rate, seed=7)(x, training=True))
    kept = y != 0
    q = keep_probability(rate)
    np.testing.assert_allclose(y[kept], x[kept] * np.float32(1 / q), rtol=1e-6)
    # The kept share is Binomial(n, q): within 5 standard deviations.
    n = x.size
    assert abs(kept.sum() - n * q) < 5 * np.sqrt(n * q * (1 - q))
    # Unbiased: the mean of y is the mean of x (up to the same binomial spread).
    assert abs(y.mean() / x.mean() - 1) < 5 * np.sqrt((1 - q) / (q * n)) * 2


def test_the_two_halves_of_a_random_word_are_independent():
    # Neighbours along the last axis share one 32-bit draw: their masks must still be independent.
    x = np.ones((8, 500, 256), "float32")
    kept = ops.convert_to_numpy(SixteenBitDropout(0.5, seed=11)(x, training=True)) != 0
    even, odd = kept[..., 0::2].ravel(), kept[..., 1::2].ravel()
    pairs = even.size
    both = np.mean(even & odd)
    assert abs(both - 0.25) < 5 * np.sqrt(0.25 * 0.75 / pairs)
    # And along time (a row's masks do not repeat the previous row's).
    assert abs(np.mean(kept[:, 1:] == kept[:, :-1]) - 0.5) < 0.01


def test_gradient_is_the_mask_times_the_scale():
    x = np.random.default_rng(2).uniform(1, 2, (3, 40, 64)).astype("float32")
    layer = SixteenBitDropout(0.7, seed=5)
    state = layer.seed_generator.state
    start = ops.convert_to_numpy(state.value)
    y = ops.convert_to_numpy(layer(x, training=True))
    state.assign(start)  # the gradient's call draws the same mask
    (gradient,) = backend_gradient(lambda v: layer(v, training=True), x)
    np.testing.assert_allclose(gradient, (y != 0) / keep_probability(0.7), rtol=1e-6)


def test_same_seed_same_mask_and_each_call_draws_a_new_one():
    x = np.ones((2, 30, 16), "float32")
    first = ops.convert_to_numpy(SixteenBitDropout(0.5, seed=4)(x, training=True))
    again = ops.convert_to_numpy(SixteenBitDropout(0.5, seed=4)(x, training=True))
    np.testing.assert_array_equal(first, again)
    layer = SixteenBitDropout(0.5, seed=4)
    one, two = (ops.convert_to_numpy(layer(x, training=True)) for _ in range(2))
    assert not np.array_equal(one, two)


def test_inference_and_rate_zero_are_the_identity_and_rate_one_drops_everything():
    x = np.random.default_rng(3).standard_normal((2, 5, 8)).astype("float32")
    np.testing.assert_array_equal(ops.convert_to_numpy(SixteenBitDropout(0.7)(x)), x)
    np.testing.assert_array_equal(ops.convert_to_numpy(SixteenBitDropout(0.0)(x, training=True)), x)
    dropped = ops.convert_to_numpy(SixteenBitDropout(1 - 2**-18)(x, training=True))
    np.testing.assert_array_equal(dropped, np.zeros_like(x))


@pytest.mark.parametrize("shape", [(1, 1, 2), (1, 1, 1), (3, 7, 5), (2, 0, 4), (0, 3, 4)])
def test_edge_shapes_odd_last_axes_and_empty_inputs(shape):
    # A last axis of 1 or 5 is odd (Keras' dropout there); an empty input stays empty.
    x = np.full(shape, 2.0, "float32")
    y = ops.convert_to_numpy(SixteenBitDropout(0.5, seed=1)(x, training=True))
    assert y.shape == shape
    assert set(np.unique(y)) <= {0.0, np.float32(2.0 / keep_probability(0.5))}


def test_unknown_last_axis_in_a_symbolic_call():
    inputs = keras.Input((None, None))
    outputs = SixteenBitDropout(0.5)(inputs)
    assert tuple(outputs.shape) == (None, None, None)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_sixteen_bit_inputs_keep_their_dtype(dtype):
    x = np.full((2, 50, 32), 1.5, "float32")
    layer = SixteenBitDropout(0.7, seed=2, dtype=f"mixed_{dtype}")
    y = layer(x, training=True)
    assert keras.backend.standardize_dtype(y.dtype) == dtype
    values = np.unique(ops.convert_to_numpy(ops.cast(y, "float32")))
    # The scale 1 / q is rounded to the input's dtype, as keras.layers.Dropout does.
    scale = ops.convert_to_numpy(ops.cast(ops.cast(1 / keep_probability(0.7), dtype), "float32"))
    expected = ops.convert_to_numpy(ops.cast(ops.cast(1.5 * scale, dtype), "float32"))
    assert set(values) == {0.0, float(expected)}
