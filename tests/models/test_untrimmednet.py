import keras
import numpy as np
import pytest
from model_test_case import padded_inputs, run_model_test

from keras_wsal.models import UntrimmedNet


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def make_inputs(streams, batch=3, time=9, lengths=(9, 4, 1), seed=0):
    rng = np.random.default_rng(seed)
    inputs = {s: rng.normal(size=(batch, time, d)).astype("float32") for s, d in streams.items()}
    inputs["mask"] = np.arange(time)[None, :] < np.array(lengths)[:, None]
    return inputs


def dense(layer, x):
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in layer.weights)
    return x.astype("float64") @ kernel + bias


def test_soft_selection_matches_eq_1_2_4():
    model = UntrimmedNet(4, 6, mode="soft")
    inputs = make_inputs({"features": 6})
    outputs = {k: keras.ops.convert_to_numpy(v) for k, v in model.snippet_outputs(inputs).items()}
    head = model.heads["features"]
    w_s = keras.ops.convert_to_numpy(head.selector.kernel)[:, 0]
    for b, length in enumerate((9, 4, 1)):
        x = inputs["features"][b, :length]
        p = softmax(dense(head.classifier, x))  # eq. 1
        a = softmax(x.astype("float64") @ w_s, axis=0)  # eq. 2
        np.testing.assert_allclose(outputs["video_scores"][b], a @ p, rtol=1e-5)  # eq. 4
        np.testing.assert_allclose(outputs["selection"][b, :length, 0], a, rtol=1e-5)
        np.testing.assert_allclose(outputs["snippet_scores"][b, :length], p, rtol=1e-5)
        assert np.all(outputs["selection"][b, length:] == 0)
        assert np.all(outputs["snippet_scores"][b, length:] == 0)


def test_hard_selection_matches_eq_3_with_per_video_k():
    model = UntrimmedNet(4, 6, mode="hard", k_ratio=0.5)
    inputs = make_inputs({"features": 6})
    outputs = {k: keras.ops.convert_to_numpy(v) for k, v in model.snippet_outputs(inputs).items()}
    head = model.heads["features"]
    for b, length in enumerate((9, 4, 1)):
        scores = dense(head.classifier, inputs["features"][b, :length])
        k = max(1, int(0.5 * length))
        top = np.sort(scores, axis=0)[::-1][:k]
        np.testing.assert_allclose(outputs["video_scores"][b], softmax(top.mean(axis=0)), rtol=1e-5)
        indicator = scores >= np.sort(scores, axis=0)[::-1][k - 1]
        np.testing.assert_array_equal(outputs["selection"][b, :length], indicator.astype("float32"))
        np.testing.assert_array_equal(outputs["selection"][b, :length].sum(axis=0), np.full(4, k))


def test_two_stream_late_fusion_averages_the_heads_and_concat_uses_one_head():
    streams = {"rgb": 5, "flow": 3}
    inputs = make_inputs(streams)
    late = UntrimmedNet(4, streams, mode="soft", fusion="late")
    fused = keras.ops.convert_to_numpy(late(inputs))
    per_stream = []
    for stream in ("flow", "rgb"):
        single = UntrimmedNet(4, {stream: streams[stream]}, mode="soft")
        single.build({})
        single.heads[stream].set_weights(late.heads[stream].get_weights())
        per_stream.append(
            keras.ops.convert_to_numpy(single({stream: inputs[stream], "mask": inputs["mask"]}))
        )
    np.testing.assert_allclose(fused, np.mean(per_stream, axis=0), rtol=1e-5)
    concat = UntrimmedNet(4, streams, mode="soft", fusion="concat")
    concat(inputs)
    assert list(concat.heads) == ["flow+rgb"] and concat.heads[
        "flow+rgb"
    ].classifier.kernel.shape == (8, 4)


@pytest.mark.parametrize("mode", ["hard", "soft"])
def test_padded_batch_equals_videos_one_at_a_time(mode):
    model = UntrimmedNet(3, {"rgb": 4, "flow": 4}, mode=mode)
    inputs = make_inputs({"rgb": 4, "flow": 4}, lengths=(9, 5, 2))
    batched = {k: keras.ops.convert_to_numpy(v) for k, v in model.snippet_outputs(inputs).items()}
    for b, length in enumerate((9, 5, 2)):
        alone = {k: v[b : b + 1, :length] for k, v in inputs.items()}
        single = {k: keras.ops.convert_to_numpy(v) for k, v in model.snippet_outputs(alone).items()}
        np.testing.assert_allclose(
            batched["video_scores"][b], single["video_scores"][0], rtol=1e-5, atol=1e-7
        )
        for name in ("snippet_scores", "selection", "detection_scores"):
            np.testing.assert_allclose(
                batched[name][b, :length], single[name][0], rtol=1e-5, atol=1e-7
            )


@pytest.mark.parametrize("mode", ["hard", "soft"])
def test_saves_and_loads_with_identical_outputs(tmp_path, mode):
    model = UntrimmedNet(
        3,
        {"rgb": 4, "flow": 2},
        mode=mode,
        k=2 if mode == "hard" else None,
        weight_decay=5e-4,
        casl_weight=0.5,
    )
    inputs = make_inputs({"rgb": 4, "flow": 2})
    expected = keras.ops.convert_to_numpy(model(inputs))
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert isinstance(loaded, UntrimmedNet) and loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(inputs)), expected)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"mode": "medium"}, "`mode` must be one of"),
        ({"mode": "hard", "k": 0}, "`k` must be an int ≥ 1"),
        ({"fusion": "early"}, "`fusion` must be one of"),
        ({"num_classes": 0}, "`num_classes` must be an int ≥ 1"),
        ({"feature_dims": {"rgb": 0}}, "`feature_dims['rgb']` must be an int ≥ 1"),
        ({"feature_dims": "rgb"}, "`feature_dims` must be an int D"),
        ({"casl_weight": -1.0}, "`casl_weight` must be ≥ 0"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    arguments = {"num_classes": 3, "feature_dims": 4, **kwargs}
    with pytest.raises(ValueError) as error:
        UntrimmedNet(**arguments)
    assert message in str(error.value)


def test_bad_inputs_are_named():
    model = UntrimmedNet(3, {"rgb": 4, "flow": 2})
    with pytest.raises(ValueError, match=r"lack the stream\(s\) \['flow'\]"):
        model({"rgb": np.zeros((1, 3, 4), "float32")})
    with pytest.raises(ValueError, match=r"inputs\['rgb'\] must have shape \[batch, time, 4\]"):
        model({"rgb": np.zeros((1, 3, 5), "float32"), "flow": np.zeros((1, 3, 2), "float32")})
    with pytest.raises(ValueError, match="expects a dict of inputs"):
        model(np.zeros((1, 3, 4), "float32"))


@pytest.mark.parametrize("mode", ["soft", "hard"])
def test_run_model_test(tmp_path, mode):
    inputs, labels = padded_inputs({"rgb": 4, "flow": 5})
    init = {"num_classes": 3, "feature_dims": {"rgb": 4, "flow": 5}, "mode": mode}
    run_model_test(UntrimmedNet, init, inputs, labels, tmp_path)
