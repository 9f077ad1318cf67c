"""`TrainConfig` checks and defaults, its file, and what a user of `keras-wsal train` sees."""

import json
import logging
import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from training_helpers import FEATURE_DIM, NUM_VIDEOS, write_tiny_dataset

from keras_wsal.cli import main
from keras_wsal.errors import DataError
from keras_wsal.training import TrainConfig, load_run_model

BASE = {"data": "data", "subset": "train", "model": "wsgn", "out": "run"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("model", "resnet"),
        ("precision", "float64"),
        ("strategy", "tpu"),
        ("optimizer", "rmsprop"),
        ("fusion", "early"),
        ("epochs", 0),
        ("epochs", 1.5),
        ("batch_size", 0),
        ("batch_size", True),
        ("max_length", 0),
        ("checkpoint_every", 0),
        ("seed", -1),
        ("seed", "0"),
        ("casl", -1.0),
        ("casl", math.inf),
        ("weight_decay", math.nan),
        ("weight_decay", True),
        ("dropout", 1.0),
        ("dropout", "0.5"),
        ("learning_rate", 0.0),
        ("learning_rate", math.nan),
        ("learning_rate", "1e-3"),
        ("k_ratio", 0.0),
        ("k_ratio", 1.5),
        ("jit_compile", "yes"),
        ("skip_bad", "yes"),
        ("norms", "zloc,foo"),
        ("norms", ("zloc", "zloc")),
    ],
)
def test_a_bad_field_is_named_in_the_error(field, value):
    with pytest.raises(ValueError, match=f"`{field}` must be .*; received"):
        TrainConfig(**{**BASE, field: value})


def test_edge_values_are_accepted():
    config = TrainConfig(
        **BASE, dropout=0.0, k_ratio=1.0, max_length=None, checkpoint_every=None, seed=2**32 - 1
    )
    assert (config.dropout, config.k_ratio, config.max_length, config.seed) == (
        0.0,
        1.0,
        None,
        2**32 - 1,
    )
    assert TrainConfig(**{**BASE, "model": "naive"}, norms="").norms == ()


# (optimizer, learning rate, steps, epochs, dropout, CASL, held-out share): the papers' settings,
# and the defaults the quality benchmark chose (README, "Results").
PAPER = {
    "wsgn": ("adam", 1e-4, None, 80, 0.8, 0.0, 0.0),
    "naive": ("adam", 1e-4, None, 80, 0.8, 0.0, 0.0),
    "untrimmednet-hard": ("sgd", 1e-3, 10000, None, 0.8, 0.0, 0.0),
    "untrimmednet-soft": ("sgd", 1e-3, 10000, None, 0.8, 0.0, 0.0),
    "wtalc": ("adam", 1e-4, 6000, None, 0.7, 0.5, 0.0),
}
DEFAULT = {
    "wsgn": ("adam", 3e-4, 4000, None, 0.7, 0.0, 0.0),
    "naive": ("adam", 3e-4, 2000, None, 0.7, 0.0, 0.0),
    "supervised": ("adam", 3e-4, 2000, None, 0.7, 0.0, 0.0),
    "untrimmednet-soft": ("adam", 1e-3, 2000, None, 0.7, 0.5, 0.0),
    "wtalc": ("adam", 3e-4, 2000, None, 0.7, 0.5, 0.0),
}
FIELDS = ("optimizer", "learning_rate", "steps", "epochs", "dropout", "casl", "validation_fraction")


@pytest.mark.parametrize(
    ("recipe", "model", "expected"),
    [("paper", m, v) for m, v in PAPER.items()] + [("default", m, v) for m, v in DEFAULT.items()],
)
def test_recipes_per_model(recipe, model, expected):
    config = TrainConfig(**{**BASE, "model": model}, recipe=recipe)
    assert tuple(getattr(config, field) for field in FIELDS) == expected
    assert (config.weight_decay, config.max_length) == (5e-4, 750)
    assert config.norms == (("zloc", "gloc", "sloc") if model == "wsgn" else ())


def test_supervised_takes_no_frame_selection_unless_told():
    assert TrainConfig(**{**BASE, "model": "supervised"}).norms == ()
    assert TrainConfig(**{**BASE, "model": "supervised"}, norms="gloc").norms == ("gloc",)
    assert TrainConfig(**{**BASE, "model": "wsgn"}).norms == ("zloc", "gloc", "sloc")


def test_given_settings_override_the_recipe():
    config = TrainConfig(
        **BASE, optimizer="sgd", learning_rate=0.02, epochs=3, casl=0.0, dropout=0.1
    )
    assert (config.optimizer, config.learning_rate, config.epochs, config.steps) == (
        "sgd",
        0.02,
        3,
        None,
    )
    assert (config.casl, config.dropout, config.validation_fraction) == (0.0, 0.1, 0.0)
    assert TrainConfig(**BASE, casl=1.0).casl == 1.0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("recipe", "fastest", "`recipe` must be one of"),
        ("validation_fraction", 1.0, "`validation_fraction` must be"),
    ],
)
def test_bad_recipe_or_share_is_named(field, value, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**BASE, **{field: value})


def test_save_load_round_trip(tmp_path):
    config = TrainConfig(
        data=tmp_path / "data",
        subset="validation",
        model="wsgn",
        out=tmp_path / "run",
        epochs=3,
        max_length=None,
        precision="mixed_bfloat16",
        norms=["sloc", "zloc"],
        casl=0.5,
        seed=7,
        dropout=0.25,
        checkpoint_every=5,
        jit_compile=False,
        skip_bad=True,
    )
    assert config.norms == ("zloc", "sloc")  # canonical order
    path = config.save(tmp_path)
    saved = json.loads(path.read_text())
    assert saved["norms"] == ["zloc", "sloc"] and saved["data"] == str(tmp_path / "data")
    assert (
        saved["optimizer"] == "adam"
        and saved["learning_rate"] == 3e-4
        and saved["recipe"] == "default"
    )
    assert TrainConfig.load(tmp_path) == config
    assert TrainConfig.load(path) == config
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]  # no temporary file left


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no training config here"),
        ("{not json", "not valid JSON"),
        (
            json.dumps({**BASE, "learning_rates": 1}),
            r"unknown training config fields \['learning_rates'\]",
        ),
        (json.dumps({**BASE, "epochs": -2}), "`epochs` must be an int ≥ 1"),
        (json.dumps({"data": "data"}), "missing"),
    ],
)
def test_load_errors_name_the_file(tmp_path, content, message):
    if content is not None:
        (tmp_path / "config.json").write_text(content)
    with pytest.raises(DataError, match=message) as error:
        TrainConfig.load(tmp_path)
    assert str(tmp_path / "config.json") in str(error.value)


# -- keras-wsal train ------------------------------------------------------------------------------


@pytest.fixture
def data_root(tmp_path):
    root = tmp_path / "data"
    write_tiny_dataset(root)
    return root


def _train(data_root, out, *extra: str) -> int:
    return main(
        [
            "train",
            "--data",
            str(data_root),
            "--subset",
            "train",
            "--out",
            str(out),
            "--quiet",
            *extra,
        ]
    )


def _one_line_error(capsys) -> str:
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "Traceback" not in error, error
    assert error.startswith("keras-wsal train: error: ")
    return error


def test_missing_dataset_folder(tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(tmp_path / "nowhere", out, "--model", "wsgn") == 2
    assert f"dataset folder {tmp_path / 'nowhere'} does not exist" in _one_line_error(capsys)
    assert not out.exists()


def test_empty_subset_names_the_subsets_there_are(data_root, tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--data",
                str(data_root),
                "--subset",
                "test",
                "--model",
                "wsgn",
                "--out",
                str(out),
            ]
        )
        == 2
    )
    error = _one_line_error(capsys)
    assert "subset 'test' has no video (subsets in the file: 'train')" in error
    assert not out.exists()


def test_unknown_model_is_an_argument_error(data_root, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _train(data_root, tmp_path / "run", "--model", "resnet")
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "Traceback" not in error
    assert error.splitlines()[-1].startswith(
        "keras-wsal train: error: argument --model: invalid choice: 'resnet'"
    )


@pytest.mark.parametrize(
    ("flags", "field"),
    [
        (["--dropout", "1.5"], "dropout"),
        (["--k-ratio", "2"], "k_ratio"),
        (["--seed", "-1"], "seed"),
    ],
)
def test_bad_settings_are_one_line_errors(data_root, tmp_path, capsys, flags, field):
    assert _train(data_root, tmp_path / "run", "--model", "untrimmednet-hard", *flags) == 2
    assert f"`{field}`" in _one_line_error(capsys)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("precision", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_trains_and_saves_a_float32_model(data_root, tmp_path, precision):
    out = tmp_path / "run"
    assert (
        _train(
            data_root,
            out,
            "--model",
            "wsgn",
            "--precision",
            precision,
            "--epochs",
            "2",
            "--batch-size",
            "4",
        )
        == 0
    )
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored
    losses = [h["loss"] for h in json.loads((out / "history.json").read_text())]
    assert len(losses) == 2 and all(math.isfinite(loss) for loss in losses)
    # Loss scaling (a dynamic scale in the optimizer's state) under float16 only.
    keys = tf.train.load_checkpoint(
        tf.train.latest_checkpoint(str(out / "checkpoints"))
    ).get_variable_to_shape_map()
    assert any("dynamic_scale" in key for key in keys) == (precision == "mixed_float16")

    model, classes = load_run_model(out)
    assert classes == ["class_00", "class_01", "class_02"]
    assert model.dtype_policy.name == precision
    assert all(weight.dtype == "float32" for weight in model.weights)
    features = np.random.default_rng(0).normal(size=(2, 9, FEATURE_DIM)).astype(np.float32)
    mask = np.arange(9)[None, :] < np.array([[9], [5]])
    scores = model({"features": features, "mask": mask})
    assert scores.dtype == "float32" and scores.shape == (2, 3)
    assert np.isfinite(np.asarray(scores)).all()


def test_nan_features_stop_training_unless_skipped(data_root, tmp_path, capsys, caplog):
    video = "video_train_00003"
    path = data_root / "features" / f"{video}.npy"
    features = np.load(path)
    features[2, 5] = np.nan
    np.save(path, features)

    assert _train(data_root, tmp_path / "refused", "--model", "naive") == 2
    error = _one_line_error(capsys)
    assert f'video "{video}"' in error and "NaN" in error and "snippet 2" in error

    out = tmp_path / "run"
    # A batch of 7: the 7 good videos take one step per epoch where all 8 would take two.
    with caplog.at_level(logging.WARNING, logger="keras_wsal"):
        assert (
            _train(
                data_root,
                out,
                "--model",
                "naive",
                "--skip-bad",
                "--epochs",
                "2",
                "--batch-size",
                "7",
            )
            == 0
        )
    assert f'skipping video "{video}"' in caplog.text
    assert f"skipped 1 of {NUM_VIDEOS} videos" in caplog.text
    assert "trained naive for 2 steps" in capsys.readouterr().out
    assert (out / "model.keras").is_file()


def test_the_wsgn_paper_recipe_is_the_papers_text():
    # WSGN §4.2 ("Training details"): "a learning rate of 10−4 for ResNet34, and I3D ... trained
    # for a maximum of 80 epochs. We use a batch size of 128 videos and 32 sub-batches and a
    # weight decay of 0.0005"; §4.1: "a dropout rate of 0.8 for I3D networks".
    config = TrainConfig(**{**BASE, "model": "wsgn"}, recipe="paper")
    assert (config.learning_rate, config.epochs, config.weight_decay) == (1e-4, 80, 5e-4)
    assert config.dropout == 0.8
    assert config.accumulation_steps == 32
    assert config.batch_size * config.accumulation_steps == 128
    # "we sample every 5th frame and ... vary the start of the sampled sequence from 1st to
    # 15th frame"
    from keras_wsal.training.recipes import PAPER_START_FRAMES

    assert (config.frame_stride, PAPER_START_FRAMES) == (5, 15)
    assert config.recipe_overrides() == {}


@pytest.mark.parametrize("model", ["untrimmednet-soft", "untrimmednet-hard"])
def test_the_untrimmednet_paper_recipe_is_the_papers_text(model):
    # UntrimmedNet §5.2: "the batch size is set to 256 and the momentum to 0.9. The initial
    # learning rate is set to 0.001 for the spatial stream and decreases every 4,000 iterations
    # by a factor of 10, and the whole training stops at 10,000 iterations. For the temporal
    # stream, we set the initial learning rate to 0.005, which is decreased every 6,000
    # iterations by a factor of 10, and it stops training at 18,000 iterations ... high dropout
    # ratios (0.8 for the spatial stream and 0.7 for the temporal stream)"; §5.3: "seven clips
    # are randomly sampled from each video", "k in top-k pooling as ⌊N/2⌋"; §5.1: TSN with
    # 3 segments; shot-based proposals chosen "by default".
    from keras_wsal.training.recipes import PAPER_SEGMENTS_PER_CLIP

    for stream, expected in {
        None: (1e-3, 4000, 10000, 0.8),
        "rgb": (1e-3, 4000, 10000, 0.8),
        "flow": (5e-3, 6000, 18000, 0.7),
    }.items():
        config = TrainConfig(**{**BASE, "model": model}, recipe="paper", stream=stream)
        assert (config.learning_rate, config.lr_step, config.steps, config.dropout) == expected
        assert (config.optimizer, config.batch_size, config.weight_decay) == ("sgd", 256, 5e-4)
        assert (config.clips, config.proposals, config.k_ratio) == (7, "shot", 0.5)
        assert int(config.k_ratio * config.clips) == 3  # ⌊7/2⌋
        assert config.recipe_overrides() == {}
    assert PAPER_SEGMENTS_PER_CLIP == 3


@pytest.mark.parametrize(
    ("model", "stream"), [("wsgn", None), ("untrimmednet-hard", "flow"), ("wtalc", None)]
)
def test_the_paper_recipe_round_trips_through_config_json(tmp_path, model, stream):
    config = TrainConfig(**{**BASE, "model": model}, recipe="paper", stream=stream)
    config.save(tmp_path)
    assert TrainConfig.load(tmp_path) == config


def test_the_default_recipe_reads_every_snippet_at_a_constant_rate():
    config = TrainConfig(**{**BASE, "model": "untrimmednet-soft"})
    assert (config.clips, config.lr_step, config.k_ratio, config.stream) == (0, 0, None, None)


@pytest.mark.parametrize(
    ("field", "value"), [("clips", -1), ("lr_step", 1.5), ("proposals", "scenes"), ("stream", "")]
)
def test_bad_clip_settings_are_named(field, value):
    with pytest.raises(ValueError, match=f"`{field}` must be"):
        TrainConfig(**BASE, **{field: value})


def test_the_learning_rate_falls_tenfold_every_lr_step_updates(tmp_path):
    from keras_wsal.training.trainer import _optimizer

    config = TrainConfig(**{**BASE, "model": "untrimmednet-soft"}, recipe="paper", stream="flow")
    optimizer = _optimizer(config)
    rates = []
    for step in (0, 5999, 6000, 11999, 12000):
        optimizer.iterations.assign(step)
        rates.append(float(optimizer.learning_rate))
    assert rates == pytest.approx([5e-3, 5e-3, 5e-4, 5e-4, 5e-5])


def test_the_untrimmednet_paper_recipe_trains_on_clips(data_root, tmp_path, capsys):
    status = _train(
        data_root, tmp_path / "run", "--model", "untrimmednet-hard", "--recipe", "paper",
        "--steps", "3", "--batch-size", "4",
    )  # fmt: skip
    assert status == 0
    printed = capsys.readouterr().out
    assert "sgd at 0.001" in printed and "÷10 every 4000 updates" in printed
    assert "7 shot clips of 3 snippets per video" in printed
    assert "--batch-size 4 overrides the paper recipe's 256" in printed
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (saved["clips"], saved["k_ratio"], saved["steps"]) == (7, 0.5, 3)


def test_clips_for_the_supervised_model_are_refused_before_any_work(data_root, tmp_path, capsys):
    status = _train(data_root, tmp_path / "run", "--model", "supervised", "--clips", "7")
    assert status == 2
    assert "--clips: the supervised model reads a label per snippet" in _one_line_error(capsys)
    assert not (tmp_path / "run").exists()


def test_an_unknown_stream_is_refused_before_any_work(data_root, tmp_path, capsys):
    status = _train(data_root, tmp_path / "run", "--model", "naive", "--stream", "flow")
    assert status == 2
    assert "--stream 'flow'" in _one_line_error(capsys)
    assert not (tmp_path / "run").exists()


def test_an_explicit_flag_wins_over_the_recipe_and_is_said(data_root, tmp_path, capsys):
    status = _train(
        data_root, tmp_path / "run", "--model", "wsgn", "--recipe", "paper", "--batch-size", "8",
        "--steps", "2", "--validation-fraction", "0",
    )  # fmt: skip
    assert status == 0
    printed = capsys.readouterr().out
    assert "batches of 8 × 32 accumulated" in printed
    assert "--batch-size 8 overrides the paper recipe's 4" in printed
    assert "2 steps overrides the paper recipe's 80 epochs" in printed
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (saved["batch_size"], saved["accumulation_steps"]) == (8, 32)


def test_accumulated_steps_update_the_weights_once_per_accumulation(data_root, tmp_path):
    from keras_wsal.training import train

    config = TrainConfig(
        data=str(data_root), subset="train", model="naive", out=str(tmp_path / "run"),
        steps=3, batch_size=4, accumulation_steps=2, validation_fraction=0.0,
    )  # fmt: skip
    result = train(config, verbose=0)
    optimizer = result.model.optimizer
    assert optimizer.gradient_accumulation_steps == 2
    assert int(optimizer.iterations.numpy()) == 2  # updates: 4 steps (2 rounds of 2) / 2
    assert result.steps == 4  # steps count sub-batches


def test_accumulation_under_a_strategy_is_refused_before_any_work(data_root, tmp_path):
    import tensorflow as tf

    from keras_wsal.training import train

    config = TrainConfig(
        data=str(data_root), subset="train", model="wsgn", out=str(tmp_path / "run"),
        recipe="paper", steps=1,
    )  # fmt: skip
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with pytest.raises(DataError, match="--accumulation-steps 32 does not work under a tf.distr"):
        train(config, strategy=strategy, verbose=0)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("steps_per_epoch", "total", "expected"),
    [(20, 2000, 20), (1, 10000, 100), (1, 250, 5), (1, 18000, 180), (50, 4000, 50), (1, 7, 1),
     (1, 101, 101)],
)  # fmt: skip
def test_default_rounds_are_epochs_but_at_most_100_and_exact(steps_per_epoch, total, expected):
    from keras_wsal.training.trainer import _default_round

    assert _default_round(steps_per_epoch, total) == expected
    assert expected == steps_per_epoch or total % expected == 0
    assert total // expected <= 100 or expected == steps_per_epoch


def test_wtalcs_paper_recipe_pairs_its_batches_for_casl(data_root, tmp_path):
    # W-TALC's code: batch 10, n_similar = 3 pairs of videos sharing a class in each.
    config = TrainConfig(**{**BASE, "model": "wtalc"}, recipe="paper")
    assert (config.batch_size, config.casl_pairs, config.casl) == (10, 3, 0.5)
    assert TrainConfig(**{**BASE, "model": "wtalc"}).casl_pairs == 0
    status = _train(
        data_root, tmp_path / "run", "--model", "wtalc", "--casl-pairs", "2",
        "--batch-size", "4", "--steps", "2",
    )  # fmt: skip
    assert status == 0
    model, _ = load_run_model(tmp_path / "run")
    assert model.casl_pairs == 2


def test_wsgns_augmentation_trains_and_cannot_go_with_clips(data_root, tmp_path, capsys):
    # Default recipe: WSGN resamples (it measured better); the baseline and the ceiling do not.
    assert TrainConfig(**BASE).frame_stride == 5
    for model in ("naive", "supervised", "wtalc", "untrimmednet-soft"):
        assert TrainConfig(**{**BASE, "model": model}).frame_stride == 0
    with pytest.raises(ValueError, match="`frame_stride` must be 0 when `clips` is set"):
        TrainConfig(**BASE, clips=7, frame_stride=5)
    status = _train(
        data_root, tmp_path / "run", "--model", "wsgn", "--frame-stride", "5",
        "--frames-per-snippet", "4", "--steps", "2", "--batch-size", "4",
    )  # fmt: skip
    assert status == 0
    assert "every 5th frame from a random start" in capsys.readouterr().out
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (saved["frame_stride"], saved["frames_per_snippet"]) == (5, 4.0)


def test_frames_per_snippet_come_from_the_config_then_the_dataset_then_i3d():
    from types import SimpleNamespace

    from keras_wsal.training.trainer import _augmentation

    extracted = SimpleNamespace(meta={"extraction": {"snippet_frames": 15}})
    imported = SimpleNamespace(meta={"feature_fps": 1.5625})
    config = TrainConfig(**BASE)
    assert _augmentation(config, extracted).frames_per_snippet == 15.0
    assert _augmentation(config, imported).frames_per_snippet == 16.0
    given = TrainConfig(**BASE, frames_per_snippet=8.0)
    assert _augmentation(given, extracted).frames_per_snippet == 8.0
    assert _augmentation(TrainConfig(**BASE, frame_stride=0), extracted) is None
