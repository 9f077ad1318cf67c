"""Streams trained apart, fused at test time: the fused outputs are the mean of the models'."""

import numpy as np
import pytest

from keras_wsal.models import WSGN, UntrimmedNet, fuse_streams


def _numpy(value):
    import keras

    return keras.ops.convert_to_numpy(value)


def _single(stream, dim, seed, **settings):
    import keras

    keras.utils.set_random_seed(seed)
    model = UntrimmedNet(4, {stream: dim}, mode=settings.pop("mode", "soft"), **settings)
    model.build({stream: (None, None, dim)})
    return model


def _inputs(rng, length=9):
    mask = np.ones((2, length), bool)
    mask[1, 6:] = False
    return {
        "rgb": rng.normal(size=(2, length, 6)).astype("float32"),
        "flow": rng.normal(size=(2, length, 5)).astype("float32"),
        "mask": mask,
    }


@pytest.mark.parametrize("mode", ["soft", "hard"])
def test_each_output_is_the_mean_of_the_streams_models(mode):
    rgb = _single("rgb", 6, 0, mode=mode, dropout=0.8)
    flow = _single("flow", 5, 1, mode=mode, dropout=0.7)
    fused = fuse_streams([rgb, flow])
    assert fused.streams == ("flow", "rgb") and fused.fusion == "late"
    inputs = _inputs(np.random.default_rng(0))
    outputs = {s: m.snippet_outputs(inputs) for s, m in (("rgb", rgb), ("flow", flow))}
    for name, value in fused.snippet_outputs(inputs).items():
        expected = (_numpy(outputs["rgb"][name]) + _numpy(outputs["flow"][name])) / 2
        np.testing.assert_allclose(_numpy(value), expected, rtol=1e-5, atol=1e-6)


def test_the_fused_model_round_trips_through_keras_files(tmp_path):
    import keras

    fused = fuse_streams([_single("rgb", 6, 0), _single("flow", 5, 1)])
    path = tmp_path / "fused.keras"
    fused.save(path)
    loaded = keras.saving.load_model(path)
    inputs = _inputs(np.random.default_rng(1))
    np.testing.assert_allclose(_numpy(loaded(inputs)), _numpy(fused(inputs)), rtol=1e-6)


def test_models_that_cannot_be_fused_are_named():
    rgb = _single("rgb", 6, 0)
    with pytest.raises(ValueError, match="two or more models"):
        fuse_streams([rgb])
    with pytest.raises(ValueError, match="its own stream"):
        fuse_streams([rgb, _single("rgb", 6, 1)])
    with pytest.raises(ValueError, match=r"differs from the 'rgb' model in \['k_ratio', 'mode'\]"):
        fuse_streams([rgb, _single("flow", 5, 1, mode="hard")])
    wsgn = WSGN(4, {"flow": 5})
    wsgn.build({"flow": (None, None, 5)})
    with pytest.raises(ValueError, match="models of different kinds"):
        fuse_streams([rgb, wsgn])
    two = UntrimmedNet(4, {"rgb": 6, "flow": 5})
    two.build({"rgb": (None, None, 6), "flow": (None, None, 5)})
    with pytest.raises(ValueError, match="trained on one stream"):
        fuse_streams([rgb, two])
