"""TSN pieces: segmental consensus, partial BN, the TSN classifier, cross-modality kernels."""

import keras
import numpy as np
import pytest
from layer_test_case import run_layer_test, run_precision_test

from keras_wsal.backbones import (
    STREAM_DROPOUT,
    SegmentalConsensus,
    cross_modality_kernel,
    set_partial_bn,
    tsn_model,
)


def _numpy_consensus(x, mask):
    weights = mask.astype(np.float64)[..., None]
    return (x * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)


def test_segmental_consensus_layer(tmp_path):
    x = np.random.default_rng(0).normal(size=(3, 4, 5)).astype(np.float32)
    mask = np.array([[1, 1, 1, 1], [1, 0, 1, 0], [0, 0, 0, 0]], bool)
    run_layer_test(SegmentalConsensus, {}, x, mask, (3, 5), tmp_path)
    layer = SegmentalConsensus()
    np.testing.assert_allclose(np.asarray(layer(x)), x.mean(axis=1), rtol=1e-6)
    masked = np.asarray(layer(x, mask=mask))
    np.testing.assert_allclose(masked, _numpy_consensus(x, mask), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(masked[2], 0.0)
    np.testing.assert_array_equal(np.asarray(layer(x[:, :1])), x[:, 0])
    run_precision_test(SegmentalConsensus, {}, x, mask, atol=1e-2)


def _tiny_backbone(channels=3):
    inputs = keras.Input((16, 16, channels))
    x = inputs
    for index, filters in enumerate((4, 6, 8)):
        x = keras.layers.Conv2D(filters, 3, padding="same", name=f"conv{index}")(x)
        x = keras.layers.BatchNormalization(name=f"bn{index}")(x)
        x = keras.layers.ReLU()(x)
    return keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x), name="tiny")


def test_partial_bn_freezes_every_bn_but_the_first_during_fit():
    model = set_partial_bn(_tiny_backbone())
    assert [model.get_layer(f"bn{i}").trainable for i in range(3)] == [True, False, False]

    def state(name):
        return [np.asarray(w).copy() for w in model.get_layer(name).weights]

    before = {name: state(name) for name in ("bn0", "bn1", "bn2", "conv1")}
    head = keras.Sequential([model, keras.layers.Dense(2)])
    head.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    x = np.random.default_rng(0).normal(3.0, 2.0, (8, 16, 16, 3)).astype(np.float32)
    head.fit(x, np.ones((8, 2), np.float32), epochs=1, batch_size=8, verbose=0)
    # bn0 learns and updates its statistics; bn1 and bn2 keep all four variables.
    assert all(not np.array_equal(a, b) for a, b in zip(before["bn0"], state("bn0"), strict=True))
    for name in ("bn1", "bn2"):
        for a, b in zip(before[name], state(name), strict=True):
            np.testing.assert_array_equal(a, b)
    assert not np.array_equal(before["conv1"][0], state("conv1")[0])
    with pytest.raises(ValueError, match="no BatchNormalization"):
        set_partial_bn(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]))


def test_tsn_model_averages_segment_scores(tmp_path):
    backbone = _tiny_backbone(channels=10)
    model = tsn_model(backbone, num_classes=5, num_segments=3, stream="flow")
    assert model.get_layer("dropout").rate == STREAM_DROPOUT["flow"] == 0.7
    assert STREAM_DROPOUT["rgb"] == 0.8
    assert not backbone.get_layer("bn1").trainable
    segments = np.random.default_rng(1).normal(size=(2, 3, 16, 16, 10)).astype(np.float32)
    logits = np.asarray(model(segments))
    assert logits.shape == (2, 5)
    dense = model.get_layer("classifier").layer
    per_segment = [np.asarray(dense(backbone(segments[:, k]))) for k in range(3)]
    np.testing.assert_allclose(logits, np.mean(per_segment, axis=0), rtol=1e-5, atol=1e-6)
    path = tmp_path / "tsn.keras"
    model.save(path)
    np.testing.assert_allclose(
        np.asarray(keras.saving.load_model(path)(segments)), logits, rtol=1e-6
    )
    with pytest.raises(ValueError, match="stream"):
        tsn_model(backbone, 5, stream="depth")


def test_cross_modality_kernel_by_hand():
    kernel = np.zeros((1, 1, 3, 2), np.float32)
    kernel[0, 0, :, 0] = [1.0, 2.0, 6.0]
    kernel[0, 0, :, 1] = [-3.0, 0.0, 0.0]
    replicated = cross_modality_kernel(kernel, 10)
    assert replicated.shape == (1, 1, 10, 2) and replicated.dtype == np.float32
    np.testing.assert_array_equal(replicated[0, 0, :, 0], np.full(10, 3.0))
    np.testing.assert_array_equal(replicated[0, 0, :, 1], np.full(10, -1.0))
    with pytest.raises(ValueError, match="HWIO"):
        cross_modality_kernel(np.zeros((3, 3)), 10)
