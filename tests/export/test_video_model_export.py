"""SavedModel export of a model on clips of raw frames (`UntrimmedNetVideo`): uint8 signatures."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from serving_helpers import ask_serving_client, saved_model_cli_listing

from keras_wsal.backbones import preprocess_input
from keras_wsal.errors import ExportError
from keras_wsal.export import (
    DETECTION_OUTPUTS,
    SNIPPET_OUTPUTS,
    describe_signatures,
    export_saved_model,
    padded_detections,
    predict_request,
)
from keras_wsal.inference import DetectionRule, untrimmednet_detections
from keras_wsal.inference.predict import model_snippet_outputs
from keras_wsal.models import UntrimmedNetVideo
from keras_wsal.training.run_folder import CLASSES_FILE, MODEL_FILE

BACKBONE, SIZE, SEGMENTS = "mobilenet_v3_small", 32, 2
CLASSES = ["jump", "run", "throw"]
MIN_DURATION = 1.5
MAX_DETECTIONS = 100


def video_model(stream, mode="soft", seed=0):
    """A tiny `UntrimmedNetVideo` whose outputs follow its input.

    Keras' MobileNet initialisation (Glorot) shrinks the activations layer after layer, to
    features of ~1e-11 that ignore the input; He-normal kernels keep them varying with it, and a
    large head turns them into distinct class scores and attention, so that the comparisons
    below (preprocessing, thresholds) are not vacuous.
    """
    model = UntrimmedNetVideo(
        len(CLASSES),
        stream=stream,
        backbone=BACKBONE,
        input_size=SIZE,
        num_segments=SEGMENTS,
        mode=mode,
        partial_bn=False,
    )
    rng = np.random.default_rng(seed)
    for layer in model.backbone.layers:
        for variable in layer.weights:
            if variable.path.endswith("kernel"):
                shape = tuple(variable.shape)
                depthwise = isinstance(layer, keras.layers.DepthwiseConv2D)
                fan_in = shape[0] * shape[1] if depthwise else int(np.prod(shape[:-1]))
                variable.assign(rng.normal(0.0, np.sqrt(2.0 / fan_in), shape).astype("float32"))
    for variable in model.head.weights:
        if variable.path.endswith("kernel"):
            variable.assign(rng.normal(0.0, 100.0, tuple(variable.shape)).astype("float32"))
    return model


def clip_batch(channels, seed=7):
    """Two videos of 6 and 4 clips (padded to 6): uint8 snippets, lengths, clip seconds.

    Clips last 0.5, 1 or 2 s (as shot-based proposals vary) with occasional gaps between them.
    """
    rng = np.random.default_rng(seed)
    length = np.array([6, 4], np.int32)
    snippets = rng.integers(0, 256, (2, 6, SEGMENTS, SIZE, SIZE, channels), dtype=np.uint8)
    durations = rng.choice([0.5, 1.0, 2.0], size=(2, 6))
    gaps = rng.choice([0.0, 0.0, 0.25], size=(2, 6))
    clip_end = np.cumsum(durations + gaps, axis=1)
    clip_start = clip_end - durations
    padding = np.arange(6)[None, :] >= length[:, None]
    snippets[padding] = 0
    clip_start[padding] = clip_end[padding] = 0.0
    return snippets, length, clip_start.astype(np.float32), clip_end.astype(np.float32)


def keras_outputs(model, snippets, length):
    """keras_wsal's own outputs for uint8 snippets: NumPy `preprocess_input`, then the model."""
    mask = np.arange(snippets.shape[1])[None, :] < length[:, None]
    inputs = {model.stream: preprocess_input(snippets, BACKBONE, model.stream), "mask": mask}
    outputs = model_snippet_outputs(model, inputs)
    return {name: np.asarray(outputs[name], np.float32) for name in SNIPPET_OUTPUTS}


def clip_detections(outputs, length, clip_start, clip_end):
    """The NumPy pipeline's UntrimmedNet detections, mapped from clip indices to clip seconds.

    At feature_fps 1 a segment [s, e) of the pipeline is clips s .. e - 1; it covers the start
    of clip s to the end of clip e - 1 and is kept when that lasts >= MIN_DURATION seconds.

    Returns:
        The `detect` outputs as NumPy arrays, and the number of segments dropped as too short.
    """
    batch = len(length)
    padded = {
        "start": np.zeros((batch, MAX_DETECTIONS), np.float32),
        "end": np.zeros((batch, MAX_DETECTIONS), np.float32),
        "score": np.zeros((batch, MAX_DETECTIONS), np.float32),
        "class": np.full((batch, MAX_DETECTIONS), -1, np.int32),
        "label": np.full((batch, MAX_DETECTIONS), "", "U16"),
        "count": np.zeros(batch, np.int32),
    }
    dropped = 0
    for b in range(batch):
        cut = slice(0, int(length[b]))
        found = untrimmednet_detections(
            outputs["snippet_scores"][b, cut],
            outputs["selection"][b, cut],
            1.0,
            CLASSES,
            video_scores=outputs["video_scores"][b],
        )
        kept = []
        for detection in found:
            first, stop = (int(t) for t in detection["segment"])
            start, end = float(clip_start[b, first]), float(clip_end[b, stop - 1])
            if end - start >= MIN_DURATION:
                kept.append((start, end, detection))
            else:
                dropped += 1
        padded["count"][b] = len(kept)
        for i, (start, end, detection) in enumerate(kept[:MAX_DETECTIONS]):
            padded["start"][b, i], padded["end"][b, i] = start, end
            padded["score"][b, i] = detection["score"]
            padded["class"][b, i] = CLASSES.index(detection["label"])
            padded["label"][b, i] = detection["label"]
    return {"video_scores": outputs["video_scores"], **padded}, dropped


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """An RGB model saved as a run folder (as `train_end_to_end` writes it), exported once."""
    root = tmp_path_factory.mktemp("video_export")
    model = video_model("rgb")
    run = root / "run"
    run.mkdir()
    model.save(run / MODEL_FILE)
    (run / CLASSES_FILE).write_text(json.dumps(CLASSES))
    version_dir = export_saved_model(
        run, root / "saved_models" / "rgb", rule="paper", min_duration=MIN_DURATION
    )
    return version_dir, model


@pytest.fixture(scope="module")
def loaded(exported):
    return tf.saved_model.load(str(exported[0]))


def test_saved_model_cli_lists_uint8_frames_and_clip_times(exported):
    version_dir, _ = exported
    listing, _ = saved_model_cli_listing(str(version_dir))
    frames = ("DT_UINT8", f"(-1, -1, {SEGMENTS}, {SIZE}, {SIZE}, 3)")
    assert listing["serving_default"] == {
        ("inputs", "frames"): frames,
        ("inputs", "length"): ("DT_INT32", "(-1)"),
        ("outputs", "video_scores"): ("DT_FLOAT", "(-1, 3)"),
        ("outputs", "snippet_scores"): ("DT_FLOAT", "(-1, -1, 3)"),
        ("outputs", "detection_scores"): ("DT_FLOAT", "(-1, -1, 3)"),
        ("outputs", "selection"): ("DT_FLOAT", "(-1, -1, 1)"),
    }
    detect = listing["detect"]
    assert {key: value for (kind, key), value in detect.items() if kind == "inputs"} == {
        "frames": frames,
        "length": ("DT_INT32", "(-1)"),
        "clip_start": ("DT_FLOAT", "(-1, -1)"),
        "clip_end": ("DT_FLOAT", "(-1, -1)"),
    }
    assert {key for kind, key in detect if kind == "outputs"} == set(DETECTION_OUTPUTS)
    assert detect[("outputs", "start")] == ("DT_FLOAT", f"(-1, {MAX_DETECTIONS})")
    assert listing["class_names"] == {("outputs", "class_names"): ("DT_STRING", "(3)")}
    assert "labels" in listing
    settings = json.loads((version_dir / "assets" / "keras_wsal_export.json").read_text())
    assert settings["model"] == "UntrimmedNetVideo" and settings["backbone"] == BACKBONE
    assert settings["snippets"] == {"frames": [SEGMENTS, SIZE, SIZE, 3]}
    assert settings["detection"]["feature_fps"] is None
    assert settings["detection"]["rule"]["post"]["min_duration"] == MIN_DURATION
    assert (version_dir.parent / "keras" / "1.keras").is_file()


def test_fresh_tensorflow_process_reproduces_keras_wsal_on_uint8_frames(exported, tmp_path):
    version_dir, model = exported
    frames, length, clip_start, clip_end = clip_batch(3)
    outputs = keras_outputs(model, frames, length)
    detections, dropped = clip_detections(outputs, length, clip_start, clip_end)
    # Not vacuous: segments are found, and some fall under the minimum duration in seconds.
    assert detections["count"].sum() > 0 and dropped > 0
    served = {"frames": frames, "length": length}
    detect = {**served, "clip_start": clip_start, "clip_end": clip_end}
    expected = {f"serving_default/input/{k}": v for k, v in served.items()}
    expected |= {f"serving_default/output/{k}": v for k, v in outputs.items()}
    expected |= {f"detect/input/{k}": v for k, v in detect.items()}
    expected |= {f"detect/output/{k}": v for k, v in detections.items()}
    expected["labels/input/class_index"] = np.array([1, -1], np.int32)
    expected["labels/output/label"] = np.array([CLASSES[1], ""])
    reversed_end = clip_end.copy()
    reversed_end[0, 2] = clip_start[0, 2]
    requests = [
        predict_request(served),
        predict_request(detect, "detect", columnar=True),
        predict_request({**served, "frames": frames[:, :, :, :, : SIZE - 1]}),
        predict_request({**detect, "clip_end": reversed_end}, "detect"),
    ]
    rows, columns, narrow, reversed_clip = ask_serving_client(
        version_dir, tmp_path, expected, requests
    )
    assert len(rows["predictions"]) == 2
    for b, prediction in enumerate(rows["predictions"]):
        assert np.shape(prediction["snippet_scores"]) == (6, 3)
        for name in SNIPPET_OUTPUTS:
            np.testing.assert_allclose(prediction[name], outputs[name][b], rtol=1e-5, atol=1e-6)
    assert columns["outputs"]["count"] == detections["count"].tolist()
    assert columns["outputs"]["label"] == detections["label"].tolist()
    np.testing.assert_array_equal(columns["outputs"]["start"], detections["start"])
    np.testing.assert_array_equal(columns["outputs"]["end"], detections["end"])
    assert (
        f"`frames` must be uint8 snippets [batch, clips, {SEGMENTS}, {SIZE}, {SIZE}, 3]"
        in (narrow["error"])
    )
    assert "`clip_end` must be > `clip_start` for every valid clip" in reversed_clip["error"]


def test_wrong_dtype_or_shape_is_refused_naming_the_input(loaded):
    frames, length, clip_start, clip_end = clip_batch(3)
    serve, detect = loaded.signatures["serving_default"], loaded.signatures["detect"]
    good = {"frames": tf.constant(frames), "length": tf.constant(length)}
    times = {"clip_start": tf.constant(clip_start), "clip_end": tf.constant(clip_end)}
    assert detect(**good, **times)["count"].shape == (2,)
    preprocessed = tf.constant(preprocess_input(frames, BACKBONE, "rgb"))
    with pytest.raises(tf.errors.InvalidArgumentError, match="expected to be a uint8 tensor"):
        serve(**{**good, "frames": preprocessed})
    with pytest.raises(TypeError, match="name='frames'"):
        loaded.serve({**good, "frames": preprocessed})
    with pytest.raises(tf.errors.InvalidArgumentError, match="`frames` must be uint8 snippets"):
        serve(**{**good, "frames": tf.constant(frames[:, :, :1])})
    with pytest.raises(
        tf.errors.InvalidArgumentError, match="`length` must be <= the clips dimension of `frames`"
    ):
        serve(**{**good, "length": tf.constant([7, 4])})
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"`clip_start` must be seconds"):
        detect(**good, **{**times, "clip_start": tf.constant(clip_start[:, :5])})
    nan_end = clip_end.copy()
    nan_end[1, 3] = np.nan
    with pytest.raises(tf.errors.InvalidArgumentError, match="`clip_end` must be > `clip_start`"):
        detect(**good, **{**times, "clip_end": tf.constant(nan_end)})
    with pytest.raises(TypeError, match="clip_start"):
        detect(**good, clip_end=times["clip_end"])


def test_flow_model_takes_uint8_flow_stacks_and_no_feature_rate(tmp_path):
    model = video_model("flow", mode="hard", seed=1)
    with pytest.raises(ExportError, match="feature_fps: a model on clips"):
        export_saved_model(model, tmp_path / "flow", classes=CLASSES, feature_fps=2.0)
    assert not (tmp_path / "flow").exists()
    version_dir = export_saved_model(model, tmp_path / "flow", classes=CLASSES, rule="paper")
    lines = describe_signatures(version_dir).splitlines()
    assert f"  input   flow             uint8    [-1, -1, {SEGMENTS}, {SIZE}, {SIZE}, 10]" in lines
    assert "  output  selection        float32  [-1, -1, 3]" in lines  # hard: one per class
    assert not any("frames" in line for line in lines)
    flow, length, clip_start, clip_end = clip_batch(10, seed=3)
    signatures = tf.saved_model.load(str(version_dir)).signatures
    served = signatures["serving_default"](flow=tf.constant(flow), length=tf.constant(length))
    expected = keras_outputs(model, flow, length)
    assert np.ptp(expected["snippet_scores"][0], axis=0).max() > 0.5  # scores follow the input
    for name in SNIPPET_OUTPUTS:
        np.testing.assert_allclose(served[name].numpy(), expected[name], rtol=1e-5, atol=1e-6)
    found = signatures["detect"](
        flow=tf.constant(flow),
        length=tf.constant(length),
        clip_start=tf.constant(clip_start),
        clip_end=tf.constant(clip_end),
    )
    # WSGN's rule (hard selection): segments of >= 1 s, inside each video's valid clips.
    for b in range(2):
        count = int(found["count"][b])
        start, end = found["start"][b, :count].numpy(), found["end"][b, :count].numpy()
        assert np.all(end - start >= 1.0)
        assert np.all(np.isin(start, clip_start[b, : length[b]]))
        assert np.all(np.isin(end, clip_end[b, : length[b]]))


def test_clip_times_give_segment_times_and_durations_by_hand():
    # Clips [0, 1), [1, 4), [4, 4.5), [4.5, 6), [6, 6.5) s; active (>= 0.5): clips 0-1 and 3-4.
    curve = np.array([[[0.9], [0.8], [0.1], [0.7], [0.95]]], np.float32)
    clip_start = np.array([[0.0, 1.0, 4.0, 4.5, 6.0]], np.float32)
    clip_end = np.array([[1.0, 4.0, 4.5, 6.0, 6.5]], np.float32)
    outputs = {"video_scores": np.ones((1, 1), np.float32), "detection_scores": curve}
    rule = DetectionRule.named("wsgn").replace(
        threshold_mode="absolute", class_threshold=None, max_detections=3
    )

    def segments(length, min_duration):
        found = padded_detections(
            outputs,
            np.array([length], np.int32),
            rule.replace(min_duration=min_duration),
            step_times=(clip_start, clip_end),
        )
        count = int(found["count"][0])
        return np.stack([found[k][0, :count].numpy() for k in ("start", "end", "score")], 1)

    # 0-4 s scores (0.9 + 0.8) / 2; 4.5-6.5 s (0.7 + 0.95) / 2; exactly 2 s is long enough.
    np.testing.assert_allclose(segments(5, 2.0), [[0.0, 4.0, 0.85], [4.5, 6.5, 0.825]], rtol=1e-6)
    np.testing.assert_allclose(segments(5, 2.5), [[0.0, 4.0, 0.85]], rtol=1e-6)
    # The last valid clip ends the video: clip 4 is padding, so the second run is clip 3 alone.
    np.testing.assert_allclose(segments(4, 0.0), [[0.0, 4.0, 0.85], [4.5, 6.0, 0.7]], rtol=1e-6)
    with pytest.raises(ValueError, match="exactly one of feature_fps"):
        padded_detections(
            outputs, np.array([5]), rule, feature_fps=1.0, step_times=(clip_start, clip_end)
        )
    with pytest.raises(ValueError, match="exactly one of feature_fps"):
        padded_detections(outputs, np.array([5]), rule)
