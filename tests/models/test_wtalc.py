import keras
import numpy as np
import pytest
from model_test_case import (
    assert_batch_step_is_the_mean_of_video_steps,
    padded_inputs,
    run_model_test,
)

from keras_wsal.losses import UntrimmedNetLoss
from keras_wsal.models import WTALC, build_model, loss_for_model


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def numpy_wtalc(model, x):
    """W-TALC's forward in NumPy: relu hidden layer, logits, softmax of the top-⌊T/8⌋ (≥ 1) mean."""
    head = model.heads["features"]
    k1, b1 = (keras.ops.convert_to_numpy(w) for w in head.hidden.weights)
    k2, b2 = (keras.ops.convert_to_numpy(w) for w in head.classifier.weights)
    logits = np.maximum(x.astype("float64") @ k1 + b1, 0) @ k2 + b2
    k = max(1, int(np.floor(len(x) / 8)))
    pooled = np.sort(logits, axis=0)[-k:].mean(axis=0)
    return softmax(pooled), logits


def test_video_prediction_and_logits_match_numpy():
    model = WTALC(4, 6, hidden_dim=5)
    x = np.random.default_rng(0).normal(size=(3, 20, 6)).astype("float32")
    lengths = (20, 9, 1)
    mask = np.arange(20)[None] < np.array(lengths)[:, None]
    outputs = {
        k: keras.ops.convert_to_numpy(v)
        for k, v in model.snippet_outputs({"features": x, "mask": mask}).items()
    }
    for b, length in enumerate(lengths):
        video, logits = numpy_wtalc(model, x[b, :length])
        np.testing.assert_allclose(outputs["video_scores"][b], video, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(
            outputs["detection_scores"][b, :length], logits, rtol=1e-5, atol=1e-5
        )
        np.testing.assert_allclose(
            outputs["snippet_scores"][b, :length], softmax(logits), rtol=1e-5, atol=1e-6
        )
        assert np.all(outputs["detection_scores"][b, length:] == 0)


def test_defaults_are_wtalcs_and_the_loss_is_the_mil_cross_entropy():
    model = build_model("wtalc", 20, 2048)  # the class's defaults where none is given
    assert (model.dropout, model.k_ratio, model.casl_weight, model.fusion) == (
        0.7,
        0.125,
        0.5,
        "concat",
    )
    assert isinstance(loss_for_model(model), UntrimmedNetLoss)


def test_padded_steps_add_nothing_to_the_training_gradient():
    def make_model():
        keras.utils.set_random_seed(4)
        return WTALC(3, 6, dropout=0.0, casl_weight=0.0)

    inputs, labels = padded_inputs({"features": 6})
    assert_batch_step_is_the_mean_of_video_steps(make_model, inputs, labels)


def test_saves_and_loads(tmp_path):
    model = WTALC(3, {"rgb": 4, "flow": 5}, fusion="concat")
    inputs = {"rgb": np.ones((1, 7, 4), "float32"), "flow": np.ones((1, 7, 5), "float32")}
    before = keras.ops.convert_to_numpy(model(inputs))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded, WTALC) and loaded.get_config()["k_ratio"] == 0.125
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(inputs)), before, rtol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"hidden_dim": 0}, "hidden_dim"), ({"k_ratio": 2.0}, "k_ratio")]
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        WTALC(3, 4, **kwargs)


def test_run_model_test(tmp_path):
    inputs, labels = padded_inputs({"features": 4})
    run_model_test(WTALC, {"num_classes": 3, "feature_dims": 4}, inputs, labels, tmp_path)


def count_passes_outside_call(model) -> list:
    """Wraps `model` so that the returned list gets an item for every forward pass (`_head_outputs`)
    made outside `call` (a `compute_loss` making its own)."""
    in_call, extra = [], []
    snippet_outputs, head_outputs = model.snippet_outputs, model._head_outputs

    def call_pass(*args, **kwargs):
        in_call.append(1)
        try:
            return snippet_outputs(*args, **kwargs)
        finally:
            in_call.pop()

    def head_pass(*args, **kwargs):
        if not in_call:
            extra.append(1)
        return head_outputs(*args, **kwargs)

    model.snippet_outputs, model._head_outputs = call_pass, head_pass
    return extra


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_casl_reuses_the_forward_pass_of_the_step(policy):
    """W-TALC computes its MIL and CASL terms from one forward pass (one dropout draw): under a
    mixed policy too, where Keras hands `call` the features cast to bfloat16, and whether the
    features come as float32 or already as bfloat16 (as `train`'s pipeline gives them)."""
    rng = np.random.default_rng(0)
    features = rng.standard_normal((4, 12, 8)).astype(np.float32)
    mask = np.ones((4, 12), bool)
    mask[1, 7:] = False
    labels = np.eye(3, dtype=np.float32)[[0, 0, 1, 2]]  # one pair sharing class 0
    weights, passes = [], []  # passes: the forward passes made outside `call`
    for dtype in ("float32", "bfloat16" if policy != "float32" else "float32"):
        keras.utils.set_random_seed(0)
        model = WTALC(3, 8, casl_weight=0.5, casl_pairs=1, dtype=policy)
        model.build({"features": (None, None, 8)})
        model.compile(optimizer=keras.optimizers.SGD(1.0), loss=loss_for_model(model))
        extra = count_passes_outside_call(model)
        inputs = {"features": keras.ops.cast(features, dtype), "mask": mask}
        model.train_on_batch(inputs, labels)
        passes.append(len(extra))
        weights.append([keras.ops.convert_to_numpy(w) for w in model.weights])
    assert passes == [0, 0]
    for first, second in zip(*weights, strict=True):
        np.testing.assert_array_equal(first, second)
