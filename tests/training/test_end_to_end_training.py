"""End-to-end UntrimmedNet: TSN sampling and cropping, the clip loader, the model, the trainer.

Tiny settings throughout: MobileNetV3-Small on 32x32 snippets, clips of a few frames of
synthetic videos, train steps run eagerly (tracing the backbone costs more than a few steps).
"""

import json

import keras
import numpy as np
import pytest

from keras_wsal.backbones import make_backbone, preprocess_input
from keras_wsal.errors import DataError, VideoError
from keras_wsal.losses import UntrimmedNetLoss
from keras_wsal.models import UntrimmedNetVideo
from keras_wsal.proposals import segment_frames
from keras_wsal.training.clip_loader import VideoClipLoader
from keras_wsal.training.end_to_end import _initialise_backbone, train_end_to_end
from keras_wsal.training.end_to_end_config import EndToEndConfig
from keras_wsal.training.proposal_sampling import video_proposals
from keras_wsal.training.tsn_sampling import multi_scale_crop
from keras_wsal.video import compute_flow, open_video, quantize_flow, write_synthetic_video

BACKBONE = "mobilenet_v3_small"
SIZE = 32


def test_multi_scale_crop_takes_tsn_corner_crops_and_scales():
    height, width, size = 256, 340, 224
    # A float image whose channels are the pixel's x and y: bilinear resizing of a ramp gives
    # the ramp back, so each output tells which crop it came from.
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.stack([xs, ys], axis=-1)[None]
    sides = [256, 224, 192, 168]  # int(256 s), s in (1, .875, .75, .66)
    allowed = {(sides[j], sides[i]) for i in range(4) for j in range(4) if abs(i - j) <= 1}
    rng = np.random.default_rng(1)
    seen_sizes, seen_positions = set(), set()
    for _ in range(150):
        out = multi_scale_crop(image, size, rng)[0]
        assert out.shape == (size, size, 2)
        # Output pixel i samples x = left + (i + 0.5) w / S - 0.5 (OpenCV's half-pixel centres).
        w = round((out[0, -1, 0] - out[0, 0, 0]) * size / (size - 1))
        h = round((out[-1, 0, 1] - out[0, 0, 1]) * size / (size - 1))
        left = round(out[0, 0, 0] - 0.5 * w / size + 0.5)
        top = round(out[0, 0, 1] - 0.5 * h / size + 0.5)
        assert (w, h) in allowed
        step_w, step_h = (width - w) // 4, (height - h) // 4
        offsets = [(i * step_w, j * step_h) for i, j in ((0, 0), (4, 0), (0, 4), (4, 4), (2, 2))]
        assert (left, top) in offsets
        seen_sizes.add((w, h))
        if step_w and step_h:  # the 5 positions are distinct
            seen_positions.add(offsets.index((left, top)))
    assert len(seen_sizes) == len(allowed) and len(seen_positions) == 5
    # Test time: the centre 224 x 224, no resizing.
    frames = np.random.default_rng(2).integers(0, 256, (2, 3, height, width, 10), dtype=np.uint8)
    centre = multi_scale_crop(frames, size)
    np.testing.assert_array_equal(centre, frames[:, :, 16:240, 58:282])
    assert multi_scale_crop(frames, 64, rng).shape == (2, 3, 64, 64, 10)


@pytest.fixture(scope="module")
def long_video(tmp_path_factory):
    return write_synthetic_video(
        tmp_path_factory.mktemp("video") / "long.avi", num_frames=100, size=(64, 48), cuts=(50,)
    )


def test_proposals_of_a_training_video(long_video):
    shots = video_proposals(long_video, "shot", clip_frames=30, uniform_clips=4)
    # The planted cut at frame 50 splits the video; clips of 30 frames, leftovers dropped as in
    # the paper, or kept when asked.
    assert shots.num_frames == 100 and shots.name == "long"
    np.testing.assert_array_equal(shots.proposals, [[0, 30], [50, 80]])
    kept = video_proposals(long_video, "shot", clip_frames=30, uniform_clips=4, keep_remainder=True)
    np.testing.assert_array_equal(kept.proposals, [[0, 30], [30, 50], [50, 80], [80, 100]])
    # A threshold above every change: one shot, so three whole clips.
    one_shot = video_proposals(
        long_video, "shot", clip_frames=30, uniform_clips=4, shot_threshold=1e9
    )
    np.testing.assert_array_equal(one_shot.proposals, [[0, 30], [30, 60], [60, 90]])
    uniform = video_proposals(long_video, "uniform", clip_frames=30, uniform_clips=4)
    np.testing.assert_array_equal(uniform.proposals, [[0, 25], [25, 50], [50, 75], [75, 100]])


def test_clip_loader_decodes_only_the_snippet_frames_and_their_flows(long_video):
    reference = [frame.image for frame in open_video(long_video).frames(size=40)]
    clips = np.array([[0, 12], [90, 100]])  # far apart: two decoding passes with a seek
    centres = segment_frames(clips, 2)  # [[3, 9], [92, 97]]
    rgb = VideoClipLoader(backbone=BACKBONE, num_segments=2, frame_size=40, input_size=SIZE)
    snippets = rgb(long_video, clips, 100)
    assert snippets.shape == (2, 2, SIZE, SIZE, 3) and snippets.dtype == np.float32
    # Frames 53 x 40 (shorter side 40): the test-time crop is the centre 32 x 32.
    expected = np.stack([reference[c][4:36, 10:42] for c in centres.ravel()]).reshape(
        2, 2, 32, 32, 3
    )
    np.testing.assert_array_equal(snippets, preprocess_input(expected, BACKBONE, "rgb"))

    flow = VideoClipLoader(
        stream="flow", backbone=BACKBONE, num_segments=2, frame_size=40, input_size=SIZE
    )
    stacks = flow(long_video, clips, 100)
    assert stacks.shape == (2, 2, SIZE, SIZE, 10)
    for n in range(2):
        for k in range(2):
            # Flows c - 2 .. c + 2, clamped to the last flow: 95, 96, 97, 98, 98 for c = 97.
            indices = np.clip(centres[n, k] - 2 + np.arange(5), 0, 98)
            stack = np.concatenate(
                [quantize_flow(compute_flow(reference[j], reference[j + 1])) for j in indices], -1
            )
            np.testing.assert_array_equal(
                stacks[n, k], preprocess_input(stack[4:36, 10:42], BACKBONE, "flow")
            )


def _tiny_model(**kwargs):
    options = {"backbone": BACKBONE, "input_size": SIZE, "num_segments": 2, "dropout": 0.0}
    return UntrimmedNetVideo(3, **{**options, **kwargs})


def _snippets(batch, clips, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(batch, clips, 2, SIZE, SIZE, channels)).astype(np.float32)


def _with_pretrained_statistics(model, snippets):
    """Set every BN layer's moving statistics to its batch statistics on `snippets`.

    A randomly initialised network's BN layers normalise with mean 0 and variance 1, so with
    partial BN (all but the first frozen) its activations vanish layer after layer; a
    pretrained network's statistics, which partial BN keeps, fit its activations.
    """
    batch_norms = [
        layer
        for layer in model.backbone.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    state = [(layer.trainable, layer.momentum) for layer in batch_norms]
    for layer in batch_norms:
        layer.trainable, layer.momentum = True, 0.0
    model.backbone(snippets.reshape(-1, *snippets.shape[-3:]), training=True)
    for layer, (trainable, momentum) in zip(batch_norms, state, strict=True):
        layer.trainable, layer.momentum = trainable, momentum
    return batch_norms


def test_model_outputs_and_keras_round_trip(tmp_path):
    model = _tiny_model(stream="flow", mode="hard", weight_decay=5e-4, dropout=None)
    assert model.dropout == 0.7 and model.k_ratio == 0.5  # the paper's defaults
    # TSN's cross-modality initialisation from an RGB weights file.
    rgb = make_backbone(BACKBONE, input_shape=(SIZE, SIZE, 3))
    rgb.save_weights(tmp_path / "rgb.weights.h5")
    _initialise_backbone(model, tmp_path / "rgb.weights.h5")
    kernel = np.asarray(rgb.get_layer("conv").kernel)
    np.testing.assert_allclose(
        np.asarray(model.backbone.get_layer("conv").kernel),
        np.repeat(kernel.mean(axis=2, keepdims=True), 10, axis=2),
        rtol=1e-6,
    )
    for name in ("conv_bn", "expanded_conv_depthwise", "conv_1"):
        for a, b in zip(
            rgb.get_layer(name).weights, model.backbone.get_layer(name).weights, strict=True
        ):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    inputs = {"flow": _snippets(2, 4, 10), "mask": np.array([[1, 1, 1, 0], [1, 1, 1, 1]], bool)}
    batch_norms = _with_pretrained_statistics(model, inputs["flow"])
    outputs = model.snippet_outputs(inputs)
    assert outputs["video_scores"].shape == (2, 3) and outputs["selection"].shape == (2, 4, 3)
    np.testing.assert_allclose(np.sum(outputs["video_scores"], -1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(outputs["snippet_scores"])[0, 3], 0.0)
    # Hard selection with k = floor(0.5 T): 1 of the first video's 3 clips, 2 of the second's 4.
    np.testing.assert_array_equal(np.asarray(outputs["selection"]).sum(axis=1), [[1] * 3, [2] * 3])
    # The clip features are the mean of the backbone's features over the segments.
    flat = inputs["flow"].reshape(-1, SIZE, SIZE, 10)
    per_snippet = np.asarray(model.backbone(flat, training=False)).reshape(2, 4, 2, -1)
    head = model.head.snippet_outputs({"flow": per_snippet.mean(axis=2), "mask": inputs["mask"]})
    np.testing.assert_allclose(outputs["video_scores"], head["video_scores"], rtol=1e-4, atol=1e-6)
    # Partial BN and weight decay on every trainable backbone kernel (+ the head's classifier).
    assert batch_norms[0].trainable and not any(layer.trainable for layer in batch_norms[1:])
    kernels = [v for v in model.trainable_weights if v.path.endswith("kernel")]
    assert len(model.losses) == len(kernels)

    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert isinstance(loaded, UntrimmedNetVideo) and loaded.get_config() == model.get_config()
    for name, value in loaded.snippet_outputs(inputs).items():
        np.testing.assert_array_equal(np.asarray(value), np.asarray(outputs[name]), err_msg=name)
    with pytest.raises(ValueError, match=r"inputs\['flow'\] must have shape"):
        model({"flow": _snippets(1, 2, 3)})
    with pytest.raises(ValueError, match="stream"):
        _tiny_model(stream="depth")


def test_loss_decreases_on_a_fixed_batch():
    # Every BN layer learns here: partial BN presumes pretrained statistics (see above), and a
    # handful of 1x1 feature maps gives too few samples to stand in for them during training.
    model = _tiny_model(stream="rgb", mode="soft", partial_bn=False)
    model.compile(
        optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
        loss=UntrimmedNetLoss(),
        run_eagerly=True,
    )
    inputs = {"rgb": _snippets(3, 3)}
    labels = np.eye(3, dtype=np.float32)
    losses = [float(model.train_on_batch(inputs, labels)) for _ in range(3)]
    assert all(np.isfinite(losses))
    assert np.all(np.diff(losses) < 0) and losses[-1] < 0.5 * losses[0], losses


def _frozen_bn_model(accumulation, snippets):
    model = _tiny_model(stream="rgb", mode="soft", weight_decay=5e-4)
    for layer in _with_pretrained_statistics(model, snippets):
        layer.trainable = False
    optimizer = keras.optimizers.SGD(0.05, momentum=0.9, gradient_accumulation_steps=accumulation)
    model.compile(optimizer=optimizer, loss=UntrimmedNetLoss(), run_eagerly=True)
    return model


def test_gradient_accumulation_equals_one_large_batch():
    keras.utils.set_random_seed(3)
    inputs = _snippets(2, 2, seed=1)
    accumulated = _frozen_bn_model(2, inputs)
    large = _frozen_bn_model(None, inputs)
    large.set_weights(accumulated.get_weights())
    labels = np.array([[1, 0, 0], [0, 1, 1]], np.float32)
    before = [np.asarray(v).copy() for v in accumulated.trainable_weights]
    accumulated.train_on_batch({"rgb": inputs[:1]}, labels[:1])
    for a, v in zip(before, accumulated.trainable_weights, strict=True):
        np.testing.assert_array_equal(a, np.asarray(v))  # accumulated, not applied yet
    accumulated.train_on_batch({"rgb": inputs[1:]}, labels[1:])
    large.train_on_batch({"rgb": inputs}, labels)
    assert int(accumulated.optimizer.iterations.numpy()) == 1
    moved = [
        not np.allclose(a, np.asarray(v))
        for a, v in zip(before, accumulated.trainable_weights, strict=True)
    ]
    assert all(moved)
    for a, b in zip(accumulated.trainable_weights, large.trainable_weights, strict=True):
        np.testing.assert_allclose(
            np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6, err_msg=a.path
        )


@pytest.fixture(scope="module")
def video_folder(tmp_path_factory):
    """4 good videos of two classes, a corrupt one, and one the annotations name but lack."""
    root = tmp_path_factory.mktemp("e2e")
    videos = root / "videos"
    videos.mkdir()
    database = {}
    for index in range(4):
        write_synthetic_video(
            videos / f"v{index}.avi", num_frames=24, size=(64, 48), cuts=(12,), seed=index
        )
        label = ("jump", "run")[index % 2]
        database[f"v{index}"] = {
            "subset": "validation",
            "duration": 2.4,
            "annotations": [{"segment": [0.2, 1.0], "label": label}],
        }
    (videos / "broken.avi").write_bytes(b"\x00" * 100)
    for name in ("broken", "missing"):
        database[name] = {"subset": "validation", "duration": 1.0, "annotations": []}
    database["other"] = {"subset": "test", "duration": 1.0, "annotations": []}
    annotations = root / "annotations.json"
    annotations.write_text(json.dumps({"database": database}))
    return videos, annotations


def _config(video_folder, out, subset="validation", **kwargs):
    videos, annotations = video_folder
    options = {
        "stream": "rgb",
        "backbone": BACKBONE,
        "proposals": "shot",
        "clip_frames": 6,
        "num_clips": 2,
        "num_segments": 2,
        "frame_size": 40,
        "input_size": SIZE,
        "batch_size": 2,
        "micro_batch_size": 1,
        "iterations": 1,
        "checkpoint_every": 1,
        "skip_bad": True,
        "run_eagerly": True,
        "workers": 1,
    }
    return EndToEndConfig(videos, annotations, subset, out, **{**options, **kwargs})


def test_train_end_to_end_writes_a_resumable_run(video_folder, tmp_path, caplog):
    config = _config(video_folder, tmp_path / "run")
    assert config.learning_rate == 0.001 and config.lr_step == 4000 and config.dropout == 0.8
    with caplog.at_level("WARNING", logger="keras_wsal.training.end_to_end"):
        result = train_end_to_end(config, verbose=0)
    assert "skipping video broken: cannot open video" in caplog.text
    assert "skipping video missing: not in" in caplog.text
    # One update of 2 videos, accumulated over 2 passes of 1 video.
    assert result.steps == 1 and int(result.model.optimizer._iterations.numpy()) == 2
    assert len(result.history["loss"]) == 1 and np.isfinite(result.history["loss"][0])
    run = result.run_dir
    assert json.loads((run / "classes.json").read_text()) == ["jump", "run"]
    assert json.loads((run / "config.json").read_text()) == json.loads(json.dumps(config.to_dict()))
    inputs = {"rgb": _snippets(1, 2)}
    loaded = keras.saving.load_model(run / "model.keras")
    np.testing.assert_array_equal(np.asarray(loaded(inputs)), np.asarray(result.model(inputs)))
    # The backbone weights are what `keras-wsal extract --weights` loads.
    backbone = make_backbone(
        BACKBONE, input_shape=(SIZE, SIZE, 3), weights=run / "backbone_rgb.weights.h5"
    )
    frames = inputs["rgb"][0, 0]
    np.testing.assert_array_equal(
        np.asarray(backbone(frames)), np.asarray(result.model.backbone(frames))
    )
    assert keras.saving.load_model(run / "head.keras").feature_dims == {"rgb": 576}

    resumed = train_end_to_end(_config(video_folder, tmp_path / "run", iterations=2), verbose=0)
    assert resumed.steps == 2 and len(resumed.history["loss"]) == 1  # one round more, not two
    assert [h["round"] for h in json.loads((run / "history.json").read_text())] == [1, 2]
    with pytest.raises(DataError, match="different configuration \\(num_clips differ"):
        train_end_to_end(_config(video_folder, tmp_path / "run", num_clips=3), verbose=0)


def test_bad_training_input_is_named(video_folder, tmp_path):
    videos, annotations = video_folder
    database = json.loads(annotations.read_text())["database"]

    (tmp_path / "0.json").write_text(
        json.dumps({"database": {"v0": {**database["v0"], "annotations": []}}})
    )

    def keep(*names):
        """The fixture's annotations of `names`, every video labelled (at least) "run"."""
        kept = {name: dict(database[name]) for name in names}
        for entry in kept.values():
            entry["annotations"] = entry["annotations"] or [{"segment": [0, 1], "label": "run"}]
        path = tmp_path / f"{'_'.join(names)}.json"
        path.write_text(json.dumps({"database": kept}))
        return videos, path

    with pytest.raises(
        DataError, match=r"1 video\(s\) of subset 'validation' .* not in .*: missing"
    ):
        train_end_to_end(_config(keep("v0", "v1", "missing"), tmp_path / "a", skip_bad=False))
    with pytest.raises(VideoError, match="broken.avi"):
        train_end_to_end(_config(keep("v0", "v1", "broken"), tmp_path / "b", skip_bad=False))
    with pytest.raises(
        DataError, match="every video of subset 'validation' is missing or unreadable"
    ):
        train_end_to_end(_config(keep("broken", "missing"), tmp_path / "c"))
    with pytest.raises(DataError, match="no labels, so no classes"):
        train_end_to_end(_config((videos, tmp_path / "0.json"), tmp_path / "d"))
    with pytest.raises(
        DataError,
        match="subset 'training' has no video \\(subsets in the file: 'test', 'validation'\\)",
    ):
        train_end_to_end(_config(video_folder, tmp_path / "d", subset="training"))
    assert not (tmp_path / "a").exists()  # nothing written before the videos are checked
    for field, value, expected in (
        ("micro_batch_size", 3, "a divisor of batch_size=2"),
        ("stream", "depth", "one of"),
        ("frame_size", 16, "≥ input_size=32"),
        ("num_clips", 0, "an int ≥ 1"),
    ):
        with pytest.raises(ValueError, match=f"`{field}` must be {expected}"):
            _config(video_folder, tmp_path / "e", **{field: value})
