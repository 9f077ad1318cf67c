"""make_backbone (keras.applications), preprocess_input(_ops), load_backbone_weights."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_wsal.backbones import (
    APPLICATIONS,
    BACKBONES,
    STREAM_CHANNELS,
    load_backbone_weights,
    make_backbone,
    preprocess_input,
    preprocess_input_ops,
)
from keras_wsal.errors import DataError


@pytest.fixture(scope="module")
def small_rgb():
    return make_backbone("mobilenet_v3_small", input_shape=(96, 96, 3))


def test_application_backbone_builds_for_both_streams(small_rgb):
    features = np.asarray(small_rgb(np.zeros((2, 96, 96, 3), np.float32)))
    assert small_rgb.name == "mobilenet_v3_small_rgb"
    assert features.shape == (2, small_rgb.output_shape[-1]) and np.all(np.isfinite(features))
    flow = make_backbone("mobilenet_v3_small", stream="flow", input_shape=(96, 96, 10))
    assert flow.input_shape == (None, 96, 96, 10)
    assert flow.output_shape == small_rgb.output_shape


def test_preprocess_input_by_hand():
    pixel = np.array([[[[128, 117, 104]]]], np.uint8)
    np.testing.assert_array_equal(preprocess_input(pixel, "bn_inception", "rgb"), 0.0)
    stack = np.full((1, 2, 2, 10), 130, np.uint8)
    np.testing.assert_array_equal(preprocess_input(stack, "bn_inception", "flow"), 2.0)
    np.testing.assert_allclose(
        preprocess_input(np.array([[[[0, 255, 0]]]]), "mobilenet_v3_small"), [[[[-1, 1, -1]]]]
    )
    # ResNet50 ("caffe"): BGR order minus the ImageNet mean (B 103.939, G 116.779, R 123.68).
    rgb = np.array([[[[10, 20, 30]]]], np.uint8)
    np.testing.assert_allclose(
        preprocess_input(rgb, "resnet50"),
        [[[[30 - 103.939, 20 - 116.779, 10 - 123.68]]]],
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        preprocess_input(stack, "resnet50", "flow"), 130 / 127.5 - 1, rtol=1e-5
    )
    with pytest.raises(ValueError, match=r"flow inputs \[..., H, W, 10\]"):
        preprocess_input(np.zeros((1, 4, 4, 3)), "bn_inception", "flow")


@pytest.mark.parametrize("stream", ["rgb", "flow"])
@pytest.mark.parametrize("name", BACKBONES)
def test_graph_preprocessing_equals_numpy_on_uint8(name, stream):
    channels = STREAM_CHANNELS[stream]
    shape = (2, 3, 5, 7, channels)  # [batch, clips, H, W, C], every uint8 value present
    values = np.resize(np.arange(256, dtype=np.uint8), int(np.prod(shape)))
    images = np.random.default_rng(0).permutation(values).reshape(shape)
    expected = preprocess_input(images, name, stream)
    eager = keras.ops.convert_to_numpy(preprocess_input_ops(images, name, stream))
    graph = tf.function(
        lambda x: preprocess_input_ops(x, name, stream),
        input_signature=[tf.TensorSpec([None, None, None, None, channels], tf.uint8)],
    )
    assert expected.dtype == eager.dtype == np.float32
    np.testing.assert_array_equal(eager, expected)
    np.testing.assert_array_equal(graph(tf.constant(images)).numpy(), expected)


@pytest.mark.parametrize("name", sorted(APPLICATIONS))
def test_rgb_preprocessing_is_the_keras_applications_one(name):
    images = np.random.default_rng(1).integers(0, 256, (2, 4, 4, 3), dtype=np.uint8)
    expected = keras.applications.imagenet_utils.preprocess_input(
        images.astype(np.float32), mode=APPLICATIONS[name][1]
    )
    np.testing.assert_allclose(preprocess_input(images, name), expected, rtol=1e-6, atol=1e-6)


def test_graph_preprocessing_refuses_the_wrong_channels():
    with pytest.raises(ValueError, match=r"flow inputs \[..., H, W, 10\]"):
        preprocess_input_ops(np.zeros((1, 4, 4, 3), np.uint8), "bn_inception", "flow")
    with pytest.raises(ValueError, match="backbone must be one of"):
        preprocess_input_ops(np.zeros((1, 4, 4, 3), np.uint8), "vgg_m")


def test_bad_names_and_shapes():
    with pytest.raises(ValueError, match="backbone must be one of"):
        make_backbone("vgg_m")
    with pytest.raises(ValueError, match="stream"):
        make_backbone("bn_inception", stream="audio")
    with pytest.raises(ValueError, match="needs 10"):
        make_backbone("bn_inception", stream="flow", input_shape=(224, 224, 3))


def test_weights_files_round_trip_and_mismatch(small_rgb, tmp_path):
    images = np.random.default_rng(0).uniform(-1, 1, (1, 96, 96, 3)).astype(np.float32)
    expected = np.asarray(small_rgb(images))
    saved = tmp_path / "small.keras"
    small_rgb.save(saved)
    target = make_backbone("mobilenet_v3_small", input_shape=(96, 96, 3))
    load_backbone_weights(target, saved)
    np.testing.assert_array_equal(np.asarray(target(images)), expected)

    flow = make_backbone("mobilenet_v3_small", stream="flow", input_shape=(96, 96, 10))
    weights_h5 = tmp_path / "small.weights.h5"
    small_rgb.save_weights(weights_h5)
    first_conv = next(layer for layer in flow.layers if isinstance(layer, keras.layers.Conv2D))
    for path in (weights_h5, saved):
        message = rf"does not fit layer '{first_conv.name}'.*\(3, 3, 3, 16\).*\(3, 3, 10, 16\)"
        with pytest.raises(DataError, match=message):
            load_backbone_weights(flow, path)
    with pytest.raises(DataError, match="does not exist"):
        load_backbone_weights(flow, tmp_path / "absent.weights.h5")
    unknown = tmp_path / "weights.bin"
    unknown.write_bytes(b"0")
    with pytest.raises(DataError, match="unknown kind"):
        load_backbone_weights(flow, unknown)
    with pytest.raises(DataError, match="no 4-D conv1_7x7_s2.weight"):
        np.savez(tmp_path / "other.npz", **{"conv.weight": np.zeros((16, 3, 3, 3))})
        load_backbone_weights(small_rgb, tmp_path / "other.npz")
