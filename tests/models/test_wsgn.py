import keras
import numpy as np
import pytest
from model_test_case import (
    assert_batch_step_is_the_mean_of_video_steps,
    padded_inputs,
    run_model_test,
)

from keras_wsal.models import WSGN, build_model
from keras_wsal.models.wsgn import parse_norms


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def mlp(hidden, out, x):
    k1, b1 = (keras.ops.convert_to_numpy(w) for w in hidden.weights)
    k2, b2 = (keras.ops.convert_to_numpy(w) for w in out.weights)
    return np.maximum(x.astype("float64") @ k1 + b1, 0) @ k2 + b2


def sum_to(weights, how):
    """One video's `[T, C]` weights as they are (None), summing to 1, or to T ("length")."""
    if how is None:
        return weights
    total = weights.sum(0) if how == "one" else weights.sum(0) / len(weights)
    return weights / total


def reference(model, x, norms, how=None):
    """WSGN eq. 2 with g the average of eq. 3 (ZLoc), eq. 5 (GLoc) and eq. 7 (SLoc), each
    rescaled as `how` says (default: SLoc's weights × T / their sum, and GLoc's unless SLoc is
    there), in NumPy."""
    default_gloc = None if "sloc" in norms else "length"
    how = {"zloc": None, "gloc": default_gloc, "sloc": "length", **(how or {})}
    head = model.heads["features"]
    p = softmax(mlp(head.cls_hidden, head.cls_out, x))
    if not norms:
        g = np.ones_like(p)
    else:
        s = mlp(*head.selection_layers, x)
        weights = []
        for name in norms:
            if name == "zloc":
                w = np.exp(-((s - s.mean(0)) ** 2) / (s.var(0) + 1e-6))
            elif name == "gloc":
                layer = next(n for n in head.norm_layers if n.name == "gloc")
                mu = keras.ops.convert_to_numpy(layer.mean)
                sigma = keras.ops.convert_to_numpy(layer.sigma)
                w = np.exp(-(((s - mu) / sigma) ** 2))
            else:
                w = np.exp(s - s.max(0))
            weights.append(sum_to(w, how[name]))
        g = np.mean(weights, axis=0)
    return (g * p).mean(axis=0), g, p


@pytest.mark.parametrize(
    "norms", [(), ("sloc",), ("zloc",), ("gloc",), ("zloc", "gloc"), ("zloc", "gloc", "sloc")]
)
@pytest.mark.parametrize("how", [None, {"zloc": "length", "gloc": None, "sloc": "one"}])
def test_video_prediction_matches_eq_2(norms, how):
    how = {n: v for n, v in (how or {}).items() if n in norms}
    model = WSGN(4, 6, norms=norms, hidden_dim=5, norm_sum_to=how)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 8, 6)).astype("float32")
    lengths = (8, 3, 1)
    mask = np.arange(8)[None] < np.array(lengths)[:, None]
    outputs = {
        k: keras.ops.convert_to_numpy(v)
        for k, v in model.snippet_outputs({"features": x, "mask": mask}).items()
    }
    for b, length in enumerate(lengths):
        video, g, p = reference(model, x[b, :length], norms, how)
        np.testing.assert_allclose(outputs["video_scores"][b], video, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(outputs["selection"][b, :length], g, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(
            outputs["detection_scores"][b, :length], g * p, rtol=1e-5, atol=1e-7
        )
        assert np.all(outputs["detection_scores"][b, length:] == 0)


def test_naive_baseline_has_no_selection_head():
    naive = build_model("naive", 4, 6)
    naive({"features": np.zeros((1, 2, 6), "float32")})
    assert naive.norms == () and naive.heads["features"].selection_layers == []
    assert len(naive.trainable_weights) == 4


def test_padded_batch_equals_videos_one_at_a_time():
    model = WSGN(3, {"rgb": 4, "flow": 4})
    rng = np.random.default_rng(2)
    inputs = {s: rng.normal(size=(3, 7, 4)).astype("float32") for s in ("rgb", "flow")}
    inputs["mask"] = np.arange(7)[None] < np.array([[7], [4], [1]])
    batched = {k: keras.ops.convert_to_numpy(v) for k, v in model.snippet_outputs(inputs).items()}
    for b, length in enumerate((7, 4, 1)):
        alone = {k: v[b : b + 1, :length] for k, v in inputs.items()}
        single = {k: keras.ops.convert_to_numpy(v) for k, v in model.snippet_outputs(alone).items()}
        for name, value in single.items():
            got = batched[name][b] if name == "video_scores" else batched[name][b, :length]
            np.testing.assert_allclose(got, value[0], rtol=1e-5, atol=1e-7, err_msg=name)


@pytest.mark.parametrize("norms", [(), ("zloc", "gloc", "sloc")])
def test_padded_steps_add_nothing_to_the_training_gradient(norms):
    def make_model():
        keras.utils.set_random_seed(4)
        return WSGN(3, {"rgb": 4, "flow": 4}, norms=norms, dropout=0.0)

    inputs, labels = padded_inputs({"rgb": 4, "flow": 4})
    assert_batch_step_is_the_mean_of_video_steps(make_model, inputs, labels)


def test_saves_and_loads_with_identical_outputs(tmp_path):
    model = WSGN(3, 4, norms="zloc,gloc", hidden_dim=6, dropout=0.3, weight_decay=1e-4)
    x = {"features": np.random.default_rng(3).normal(size=(2, 5, 4)).astype("float32")}
    expected = keras.ops.convert_to_numpy(model(x))
    model.save(tmp_path / "wsgn.keras")
    loaded = keras.saving.load_model(tmp_path / "wsgn.keras")
    assert loaded.norms == ("zloc", "gloc") and loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(x)), expected)


def test_norm_sum_to_defaults_saving_and_models_saved_before_it(tmp_path):
    assert WSGN(3, 4).norm_sum_to == {"zloc": None, "gloc": None, "sloc": "length"}
    assert WSGN(3, 4, norms="zloc,gloc").norm_sum_to == {"zloc": None, "gloc": "length"}
    model = WSGN(3, 4, norm_sum_to={"sloc": "one", "gloc": "length"})
    assert model.norm_sum_to == {"zloc": None, "gloc": "length", "sloc": "one"}
    assert [n.sum_to for n in model.heads["features"].norm_layers] == [None, "length", "one"]
    config = model.get_config()
    assert WSGN.from_config(config).norm_sum_to == model.norm_sum_to
    del config["norm_sum_to"]  # a model saved before the argument: GLoc was eq. 5 literally
    assert WSGN.from_config(config).norm_sum_to == {"zloc": None, "gloc": None, "sloc": "length"}
    naive = dict(build_model("naive", 3, 4).get_config())
    del naive["norm_sum_to"]
    assert WSGN.from_config(naive).norm_sum_to == {}


def test_norm_sum_to_is_checked():
    with pytest.raises(
        ValueError, match=r"`norm_sum_to\['zloc'\]` must be one of \(None, 'length'\)"
    ):
        WSGN(3, 4, norm_sum_to={"zloc": "one"})
    with pytest.raises(ValueError, match="`norm_sum_to` names norms the model does not use"):
        WSGN(3, 4, norms="zloc", norm_sum_to={"sloc": "one"})


def test_mixed_precision_outputs_are_float32_and_finite():
    keras.config.set_dtype_policy("mixed_float16")
    model = WSGN(3, 4)
    x = {"features": np.full((2, 5, 4), 300.0, "float32")}
    outputs = model.snippet_outputs(x)
    for name, value in outputs.items():
        assert keras.backend.standardize_dtype(value.dtype) == "float32", name
        assert np.all(np.isfinite(keras.ops.convert_to_numpy(value))), name


def test_norms_are_parsed_and_checked():
    assert parse_norms("sloc, zloc") == ("zloc", "sloc")
    assert parse_norms([]) == ()
    with pytest.raises(ValueError, match="`norms` must be distinct names"):
        WSGN(3, 4, norms="zloc,tloc")
    with pytest.raises(ValueError, match="`norms` must be distinct names"):
        WSGN(3, 4, norms=("zloc", "zloc"))
    with pytest.raises(ValueError, match="unknown model 'tsn'"):
        build_model("tsn", 3, 4)


@pytest.mark.parametrize("norms", [("zloc", "gloc", "sloc"), ()])
def test_run_model_test(tmp_path, norms):
    inputs, labels = padded_inputs({"features": 4})
    run_model_test(
        WSGN,
        {"num_classes": 3, "feature_dims": 4, "norms": norms, "hidden_dim": 6},
        inputs,
        labels,
        tmp_path,
    )
