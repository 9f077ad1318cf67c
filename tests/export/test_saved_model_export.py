"""SavedModel export: TF Serving's layout, the signatures, a TensorFlow-only client, bad input."""

import json
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf
from serving_helpers import ask_serving_client, saved_model_cli_listing

from keras_wsal.datasets import make_synthetic_dataset
from keras_wsal.errors import ExportError
from keras_wsal.export import (
    DETECTION_OUTPUTS,
    SNIPPET_OUTPUTS,
    describe_signatures,
    existing_versions,
    export_rule,
    export_saved_model,
    next_version,
    predict_request,
    version_number,
)
from keras_wsal.inference import VideoOutputs
from keras_wsal.inference.predict import model_snippet_outputs
from keras_wsal.models import build_model
from keras_wsal.training import TrainConfig, load_run_model, train

# The default rule's cap of segments per video, the `detect` signature's N.
MAX_DETECTIONS = 200


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("export_run")
    make_synthetic_dataset(
        root / "data",
        num_classes=3,
        subsets={"validation": 8, "test": 4},
        feature_dim=8,
        min_length=20,
        max_length=40,
    )
    config = TrainConfig(
        data=str(root / "data"),
        subset="validation",
        model="wsgn",
        out=str(root / "run"),
        epochs=1,
        batch_size=4,
    )
    train(config, verbose=0)
    return root / "run"


@pytest.fixture(scope="module")
def exported(run_dir):
    """The trained run exported once: (version directory, the model, its classes)."""
    version_dir = export_saved_model(run_dir, run_dir.parent / "saved_models" / "wsgn")
    model, classes = load_run_model(run_dir)
    return version_dir, model, classes


@pytest.fixture(scope="module")
def loaded(exported):
    return tf.saved_model.load(str(exported[0]))


@pytest.fixture(scope="module")
def videos(run_dir):
    """Three test videos of the dataset, padded: features [3, T, 8] and their lengths."""
    from keras_wsal.datasets import FeatureDataset

    dataset = FeatureDataset(run_dir.parent / "data")
    arrays = [dataset.load_features(video)["features"] for video in dataset.videos("test")[:3]]
    length = np.array([len(a) for a in arrays], np.int32)
    features = np.zeros((3, length.max(), 8), np.float32)
    for row, array in enumerate(arrays):
        features[row, : len(array)] = array
    return features, length, dataset.feature_fps


def small_model():
    model = build_model("untrimmednet-soft", 3, {"rgb": 4, "flow": 5})
    model({"rgb": np.zeros((1, 2, 4), np.float32), "flow": np.zeros((1, 2, 5), np.float32)})
    return model


def keras_outputs(model, features, length):
    """keras_wsal's own outputs (as `keras-wsal detect` computes them) of padded inputs
    (`features`: a dict of streams), as float32."""
    mask = np.arange(length.max())[None, :] < length[:, None]
    outputs = model_snippet_outputs(model, {**features, "mask": mask})
    return {name: np.asarray(outputs[name], np.float32) for name in SNIPPET_OUTPUTS}


def numpy_detections(outputs, length, feature_fps, classes, rule):
    """`rule.detect` (NumPy) on each video, as the `detect` tensors (N = the rule's cap)."""
    batch, size = len(length), rule.post.max_detections
    padded = {
        "start": np.zeros((batch, size), np.float32),
        "end": np.zeros((batch, size), np.float32),
        "score": np.zeros((batch, size), np.float32),
        "class": np.full((batch, size), -1, np.int32),
        "label": np.full((batch, size), "", "U32"),
        "count": np.zeros(batch, np.int32),
    }
    for b in range(batch):
        cut = slice(0, int(length[b]))
        video = VideoOutputs(
            f"v{b}",
            outputs["video_scores"][b],
            outputs["snippet_scores"][b, cut],
            outputs["selection"][b, cut],
            outputs["detection_scores"][b, cut],
        )
        detections = rule.detect(video, feature_fps, classes)
        padded["count"][b] = len(detections)
        for i, d in enumerate(detections):
            padded["start"][b, i], padded["end"][b, i] = d["segment"]
            padded["score"][b, i] = d["score"]
            padded["class"][b, i] = classes.index(d["label"])
            padded["label"][b, i] = d["label"]
    return {"video_scores": outputs["video_scores"], **padded}


# -- the layout TF Serving polls ------------------------------------------------------------------


def test_version_numbers_follow_tf_serving(tmp_path):
    assert [
        version_number(n)
        for n in ["1", "007", " 3", "+4", "tmp-1", ".tmp-export-9", "1.keras", "keras"]
    ] == [1, 7, 3, 4, None, None, None, None]
    for name in ["1", "12", ".tmp-export-x", "keras/3.keras", "notes"]:
        (tmp_path / name).mkdir(parents=True) if not name.endswith(".keras") else None
    (tmp_path / "keras").mkdir(exist_ok=True)
    (tmp_path / "keras" / "15.keras").write_bytes(b"")
    (tmp_path / "20").write_text("a file is not a version directory")
    assert existing_versions(tmp_path) == [1, 12, 15]
    assert next_version(tmp_path) == 16
    assert next_version(tmp_path / "missing") == 1


def test_versions_next_explicit_refused_and_staging_never_a_version(tmp_path, monkeypatch):
    model, base = small_model(), tmp_path / "saved_models" / "un"
    seen_during_save = []
    real_save = tf.saved_model.save

    def watching_save(*args, **kwargs):
        seen_during_save.append(sorted(p.name for p in base.iterdir()))
        real_save(*args, **kwargs)

    monkeypatch.setattr(tf.saved_model, "save", watching_save)
    first = export_saved_model(model, base, classes=["a", "b", "c"], feature_fps=2.0)
    staged = seen_during_save[0]
    assert (
        len(staged) == 1
        and staged[0].startswith(".tmp-export-")
        and version_number(staged[0]) is None
    )
    explicit = export_saved_model(
        model, base, version=5, classes=["a", "b", "c"], feature_fps=2.0, rule="paper"
    )
    assert (first, explicit) == (base / "1", base / "5")
    assert sorted(p.name for p in base.iterdir()) == ["1", "5", "keras"]
    assert sorted(p.name for p in (base / "keras").iterdir()) == ["1.keras", "5.keras"]
    assert (base / "5" / "saved_model.pb").is_file() and (base / "5" / "variables").is_dir()
    assert (base / "5" / "assets" / "classes.txt").read_text() == "a\nb\nc\n"
    assert next_version(base) == 6
    before = (base / "5" / "saved_model.pb").read_bytes()
    with pytest.raises(ExportError, match="version 5 already exists"):
        export_saved_model(model, base, version=5, classes=["a", "b", "c"], feature_fps=2.0)
    assert (base / "5" / "saved_model.pb").read_bytes() == before
    assert sorted(p.name for p in base.iterdir()) == ["1", "5", "keras"]
    rng = np.random.default_rng(3)
    probe = {"rgb": rng.normal(size=(2, 9, 4)) * 4, "flow": rng.normal(size=(2, 9, 5)) * 4}
    probe = {stream: value.astype(np.float32) for stream, value in probe.items()}
    reloaded = keras.saving.load_model(base / "keras" / "5.keras")
    np.testing.assert_allclose(
        reloaded.predict(probe, verbose=0), model.predict(probe, verbose=0), rtol=1e-6
    )
    # Two streams and UntrimmedNet's rule (attention >= 1e-4, class score >= 0.5) end to end.
    length = np.array([9, 6], np.int32)
    served = tf.saved_model.load(str(explicit)).signatures["detect"](**probe, length=length)
    expected = numpy_detections(
        keras_outputs(model, probe, length),
        length,
        2.0,
        ["a", "b", "c"],
        export_rule(model, "paper"),
    )
    assert expected["count"].sum() > 0
    assert served["count"].numpy().tolist() == expected["count"].tolist()
    assert [[v.decode() for v in row] for row in served["label"].numpy()] == expected[
        "label"
    ].tolist()
    np.testing.assert_allclose(served["score"].numpy(), expected["score"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(served["start"].numpy(), expected["start"], rtol=1e-6)


def test_a_failure_mid_export_leaves_no_version_and_no_staging(tmp_path, monkeypatch):
    base = tmp_path / "un"
    (base / "1").mkdir(parents=True)
    (base / "1" / "saved_model.pb").write_bytes(b"an earlier version")
    real_save = tf.saved_model.save

    def failing_save(*args, **kwargs):
        real_save(*args, **kwargs)
        raise RuntimeError("disk full")

    monkeypatch.setattr(tf.saved_model, "save", failing_save)
    with pytest.raises(RuntimeError, match="disk full"):
        export_saved_model(small_model(), base, classes=["a", "b", "c"], feature_fps=2.0)
    assert sorted(p.name for p in base.iterdir()) == ["1"]
    assert (base / "1" / "saved_model.pb").read_bytes() == b"an earlier version"


# -- the signatures -------------------------------------------------------------------------------

EXPECTED_LISTING = {
    "serving_default": {
        ("inputs", "features"): ("DT_FLOAT", "(-1, -1, 8)"),
        ("inputs", "length"): ("DT_INT32", "(-1)"),
        ("outputs", "video_scores"): ("DT_FLOAT", "(-1, 3)"),
        ("outputs", "snippet_scores"): ("DT_FLOAT", "(-1, -1, 3)"),
        ("outputs", "detection_scores"): ("DT_FLOAT", "(-1, -1, 3)"),
        ("outputs", "selection"): ("DT_FLOAT", "(-1, -1, 3)"),
    },
    "detect": {
        ("inputs", "features"): ("DT_FLOAT", "(-1, -1, 8)"),
        ("inputs", "length"): ("DT_INT32", "(-1)"),
        ("outputs", "video_scores"): ("DT_FLOAT", "(-1, 3)"),
        ("outputs", "start"): ("DT_FLOAT", "(-1, 200)"),
        ("outputs", "end"): ("DT_FLOAT", "(-1, 200)"),
        ("outputs", "score"): ("DT_FLOAT", "(-1, 200)"),
        ("outputs", "class"): ("DT_INT32", "(-1, 200)"),
        ("outputs", "label"): ("DT_STRING", "(-1, 200)"),
        ("outputs", "count"): ("DT_INT32", "(-1)"),
    },
    "class_names": {("outputs", "class_names"): ("DT_STRING", "(3)")},
    "labels": {
        ("inputs", "class_index"): ("DT_INT32", "(-1)"),
        ("outputs", "label"): ("DT_STRING", "(-1)"),
    },
}


def test_saved_model_cli_lists_the_signatures_dtypes_and_shapes(exported):
    listing, text = saved_model_cli_listing(str(exported[0]))
    assert listing.pop("__saved_model_init_op")
    assert listing == EXPECTED_LISTING
    assert "Method name is: tensorflow/serving/predict" in text
    described = describe_signatures(exported[0])
    assert "  input   features         float32  [-1, -1, 8]" in described.splitlines()
    assert "  output  label            string   [-1, 200]" in described.splitlines()


def test_fresh_tensorflow_process_reproduces_keras_wsal_and_answers_rest(
    exported, videos, tmp_path
):
    version_dir, model, classes = exported
    features, length, fps = videos
    outputs = keras_outputs(model, {"features": features}, length)
    detections = numpy_detections(outputs, length, fps, classes, export_rule(model))
    assert detections["count"].sum() > 0  # the detect comparison is not vacuous
    inputs = {"features": features, "length": length}
    expected = {f"serving_default/input/{k}": v for k, v in inputs.items()}
    expected |= {f"serving_default/output/{k}": v for k, v in outputs.items()}
    expected |= {f"detect/input/{k}": v for k, v in inputs.items()}
    expected |= {f"detect/output/{k}": v for k, v in detections.items()}
    expected["class_names/output/class_names"] = np.array(classes)
    expected["labels/input/class_index"] = np.array([2, 0, -1], np.int32)
    expected["labels/output/label"] = np.array([classes[2], classes[0], ""])
    one = {"features": features[:1, : length[0]], "length": length[:1]}
    requests = [
        predict_request(inputs),
        predict_request(inputs, "detect", columnar=True),
        predict_request(one, "detect"),
        predict_request({"class_index": np.array([2, 0, -1])}, "labels"),
        predict_request({"features": features[:, :, :7], "length": length}),
        predict_request({"features": features, "length": length + features.shape[1]}, "detect"),
    ]
    rows, columns, single, labels, wrong_size, too_long = ask_serving_client(
        version_dir, tmp_path, expected, requests
    )

    assert len(rows["predictions"]) == 3
    for b, prediction in enumerate(rows["predictions"]):
        assert set(prediction) == set(SNIPPET_OUTPUTS)
        assert np.shape(prediction["snippet_scores"]) == (features.shape[1], 3)
        for name in SNIPPET_OUTPUTS:
            np.testing.assert_allclose(prediction[name], outputs[name][b], rtol=1e-5, atol=1e-6)
    assert set(columns["outputs"]) == set(DETECTION_OUTPUTS)
    assert np.shape(columns["outputs"]["start"]) == (3, MAX_DETECTIONS)
    assert columns["outputs"]["label"] == detections["label"].tolist()
    assert columns["outputs"]["count"] == detections["count"].tolist()
    np.testing.assert_allclose(
        columns["outputs"]["score"], detections["score"], rtol=1e-5, atol=1e-6
    )
    (video,) = single["predictions"]
    assert video["count"] == detections["count"][0]
    assert video["label"][: video["count"]] == detections["label"][0, : video["count"]].tolist()
    assert labels == {"predictions": [classes[2], classes[0], ""]}
    assert "`features` must have 8 features per snippet" in wrong_size["error"]
    assert "`length` must be <= the time dimension" in too_long["error"]


def test_bad_requests_are_refused_naming_the_input(loaded, videos):
    features, length, _ = videos
    serve = loaded.signatures["serving_default"]
    good = {"features": tf.constant(features), "length": tf.constant(length)}
    with pytest.raises(tf.errors.InvalidArgumentError, match="`features` must have 8 features"):
        serve(**{**good, "features": tf.constant(features[:, :, :6])})
    for wrong_dtype in (tf.constant(features, tf.float64), tf.ones(features.shape, tf.int32)):
        with pytest.raises(tf.errors.InvalidArgumentError, match="expected to be a float tensor"):
            serve(**{**good, "features": wrong_dtype})
        with pytest.raises(TypeError, match="name='features'"):
            loaded.serve({**good, "features": wrong_dtype})
    with pytest.raises(tf.errors.InvalidArgumentError, match="`length` must be >= 1"):
        serve(**{**good, "length": tf.constant([0, 1, 1])})
    with pytest.raises(
        tf.errors.InvalidArgumentError, match="`length` must hold one value per video"
    ):
        serve(**{**good, "length": tf.constant(length[:2])})
    with pytest.raises(TypeError, match="length"):
        serve(features=good["features"])
    with pytest.raises(tf.errors.InvalidArgumentError, match="`class_index` must be < 3"):
        loaded.signatures["labels"](class_index=tf.constant([3]))


def test_class_names_travel_as_signature_and_asset(exported, loaded):
    version_dir, _, classes = exported
    names = loaded.signatures["class_names"]()["class_names"].numpy()
    assert [n.decode() for n in names] == classes
    assert (version_dir / "assets" / "classes.txt").read_text().splitlines() == classes
    settings = json.loads((version_dir / "assets" / "keras_wsal_export.json").read_text())
    assert (
        settings["detection"]["rule"] == export_rule(exported[1]).to_dict()
        and settings["detection"]["feature_fps"] == 25 / 16
    )


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_a_mixed_precision_model_exports_float32_signatures(tmp_path, policy):
    keras.config.set_dtype_policy(policy)
    model = build_model("wsgn", 3, 8)
    features = np.random.default_rng(0).normal(size=(2, 6, 8)).astype(np.float32)
    model({"features": features})
    keras.config.set_dtype_policy("float32")
    assert model.compute_dtype == policy.removeprefix("mixed_")
    version_dir = export_saved_model(
        model, tmp_path / "mixed", classes=["a", "b", "c"], feature_fps=1.0
    )
    served = tf.saved_model.load(str(version_dir)).signatures["serving_default"](
        features=tf.constant(features), length=tf.constant([6, 4])
    )
    expected = keras_outputs(model, {"features": features}, np.array([6, 4]))
    for name in SNIPPET_OUTPUTS:
        assert served[name].dtype == tf.float32
        np.testing.assert_allclose(served[name].numpy(), expected[name], rtol=1e-3, atol=1e-4)
    assert "float16" not in describe_signatures(version_dir)  # nor bfloat16


# -- bad input ------------------------------------------------------------------------------------


def test_runs_without_a_model_are_refused_naming_them(tmp_path):
    empty = tmp_path / "empty_run"
    empty.mkdir()
    with pytest.raises(ExportError, match=r"empty_run: no trained model \(model\.keras\)"):
        export_saved_model(empty, tmp_path / "out")
    (empty / "checkpoints").mkdir()
    with pytest.raises(ExportError, match="checkpoints/ but no final model"):
        export_saved_model(empty, tmp_path / "out")
    with pytest.raises(ExportError, match="missing_run: no such run folder"):
        export_saved_model(tmp_path / "missing_run", tmp_path / "out")
    (tmp_path / "broken.keras").write_bytes(b"not a zip")
    with pytest.raises(ExportError, match="broken.keras: not a loadable Keras model"):
        export_saved_model(tmp_path / "broken.keras", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_run_whose_dataset_is_gone_needs_feature_fps(run_dir, tmp_path):
    moved = tmp_path / "moved_run"
    moved.mkdir()
    for name in ("model.keras", "classes.json"):
        shutil.copy(run_dir / name, moved / name)
    config = json.loads((run_dir / "config.json").read_text())
    (moved / "config.json").write_text(json.dumps({**config, "data": str(tmp_path / "gone")}))
    with pytest.raises(
        ExportError, match="feature_fps: not given, and the run's dataset cannot be read"
    ):
        export_saved_model(moved, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "options, message",
    [
        ({"feature_fps": 2.0}, "classes: no class names"),
        ({"classes": ["a", "b"], "feature_fps": 2.0}, "the model predicts 3 classes; got 2"),
        ({"classes": ["a", "a", "b"], "feature_fps": 2.0}, "distinct"),
        ({"classes": ["a", "b\nc", "d"], "feature_fps": 2.0}, "one-line"),
        ({"classes": ["a", "b", "c"]}, "feature_fps: not given"),
        ({"classes": ["a", "b", "c"], "feature_fps": 2.0, "max_detections": 0}, "max_detections"),
        (
            {"classes": ["a", "b", "c"], "feature_fps": 2.0, "thresholds": (1.5,), "rule": "wsgn"},
            "thresholds must be in",
        ),
        ({"classes": ["a", "b", "c"], "feature_fps": 2.0, "rule": "fastest"}, "detection rule"),
        (
            {"classes": ["a", "b", "c"], "feature_fps": 2.0, "version": 0},
            "version must be an integer >= 1",
        ),
    ],
)
def test_bad_options_are_refused_before_anything_is_written(tmp_path, options, message):
    with pytest.raises(ExportError, match=message):
        export_saved_model(small_model(), tmp_path / "out", **options)
    assert not (tmp_path / "out").exists()


def test_a_model_that_is_not_keras_wsal_is_refused(tmp_path):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(
        ExportError, match="Sequential: export takes a keras_wsal model on snippet features"
    ):
        export_saved_model(model, tmp_path / "out", classes=["a", "b"], feature_fps=1.0)


# -- REST request bodies --------------------------------------------------------------------------


def test_predict_request_row_and_columnar_formats():
    features = np.arange(12, dtype=np.float32).reshape(2, 3, 2)
    inputs = {"features": features, "length": np.array([3, 2])}
    row = predict_request(inputs, "detect")
    assert row == {
        "signature_name": "detect",
        "instances": [
            {"features": [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]], "length": 3},
            {"features": [[6.0, 7.0], [8.0, 9.0], [10.0, 11.0]], "length": 2},
        ],
    }
    assert predict_request(inputs, columnar=True)["inputs"] == {
        "features": features.tolist(),
        "length": [3, 2],
    }
    assert predict_request({"class_index": np.array([1, 2])}, "labels")["instances"] == [1, 2]
    with pytest.raises(ValueError, match="same batch size"):
        predict_request({"features": features, "length": np.array([3])})
    with pytest.raises(ValueError, match="at least one input"):
        predict_request({})
