"""The fault battery of a user's path: each fault gets one line naming the file, argument or video
(and what to do), or a clean recovery; nothing is loaded before the options are known good."""

import json
import os

import numpy as np
import pytest

from keras_wsal.cli import main
from keras_wsal.datasets import FeatureDataset, make_synthetic_dataset
from keras_wsal.errors import DataError, ExportError
from keras_wsal.export.versions import STAGING_PREFIX, publish, staging_directory
from keras_wsal.extraction import ExtractionSettings, make_streams
from keras_wsal.utils.atomic_files import remove_stale_temporaries

DEAD_PID = 4_000_000  # above Linux's pid_max (4,194,304 at most), so never a live process


def _error_line(capsys, command: str) -> str:
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "Traceback" not in error, error
    assert error.startswith(f"keras-wsal {command}: error: "), error
    return error


@pytest.fixture
def dataset(tmp_path):
    return make_synthetic_dataset(
        tmp_path / "data", num_classes=2, feature_dim=4, subsets={"train": 4}, seed=0
    )


# -- detection options are checked before the dataset or the model is read ---------------------


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--thresholds", "2"], "relative thresholds must be in (0, 1]; got 2.0"),
        (["--thresholds", "0"], "relative thresholds must be in (0, 1]; got 0.0"),
        (["--thresholds", "-1"], "relative thresholds must be in (0, 1]; got -1.0"),
        (["--thresholds", "nan"], "thresholds must be finite numbers"),
        (
            ["--rule", "untrimmednet", "--thresholds", "5"],
            "absolute thresholds on a probability curve must be in (0, 1); got [5.0]",
        ),
    ],
)
def test_bad_detection_options_fail_before_anything_is_loaded(tmp_path, capsys, flags, message):
    # Neither the dataset nor the model exists: the option is the first thing reported.
    status = main(
        ["detect", "--data", str(tmp_path / "no_data"), "--subset", "test",
         "--model", str(tmp_path / "no_run"), "--out", str(tmp_path / "r.json"), *flags]
    )  # fmt: skip
    assert status == 2
    error = _error_line(capsys, "detect")
    assert "detection options: " in error and message in error


def test_wtalc_logit_curve_takes_any_absolute_threshold():
    from keras_wsal.inference import DetectionRule

    DetectionRule.check_options("wtalc", thresholds=(5.0,), threshold_mode="absolute")


_UNDER_A_FILE = "{target}: cannot be created: {blocker} is a file"


@pytest.mark.parametrize(
    "argv, shown",
    [
        (["detect", "--out", "{blocker}/x.json"], _UNDER_A_FILE),
        (
            ["detect", "--out", "{tmp}/r.json", "--save-snippets", "{blocker}"],
            "{blocker}: is a file; expected a folder",
        ),
        (["plot", "--video", "v", "--out", "{blocker}/x.png"], _UNDER_A_FILE),
        (["export", "--out", "{blocker}/models"], _UNDER_A_FILE),
    ],
)
def test_an_output_under_a_file_fails_first(tmp_path, capsys, argv, shown):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    fill = {"blocker": str(blocker), "tmp": str(tmp_path)}
    argv = [a.format(**fill) for a in argv]
    fill["target"] = argv[argv.index("--out") + 1]
    command = argv[0]
    needed = {
        "detect": [
            "--data",
            str(tmp_path / "no_data"),
            "--subset",
            "test",
            "--model",
            str(tmp_path / "no_run"),
        ],
        "plot": ["--data", str(tmp_path / "no_data")],
        "export": [str(tmp_path / "no_run")],
    }[command]
    assert main([command, *needed, *argv[1:]]) == 2
    assert shown.format(**fill) in _error_line(capsys, command)


# -- bad feature files: one line each, and --skip-bad skips every kind --------------------------


def _break(dataset, video: str, how: str) -> None:
    path = dataset.feature_paths(video)["features"]
    path.unlink()
    if how == "folder":
        path.mkdir()
    elif how == "truncated":
        path.write_bytes(b"\x93NUMPY\x01\x00")


@pytest.mark.parametrize("how", ["folder", "truncated", "missing"])
def test_a_bad_feature_file_is_named_or_skipped(dataset, how):
    video = dataset.videos("train")[1]
    _break(dataset, video, how)
    reopened = FeatureDataset(dataset.root)
    with pytest.raises(DataError, match=f'video "{video}"'):
        reopened.validate("train")
    assert video not in reopened.validate("train", skip_bad=True)
    assert len(reopened.validate("train", skip_bad=True)) == 3


def test_a_video_id_too_long_for_the_file_system_is_a_data_error(dataset):
    annotations = json.loads((dataset.root / "annotations.json").read_text())
    long_id = "v" * 300
    annotations["database"][long_id] = dict(annotations["database"][dataset.videos("train")[0]])
    (dataset.root / "annotations.json").write_text(json.dumps(annotations))
    reopened = FeatureDataset(dataset.root)
    with pytest.raises(DataError, match="cannot read feature file"):
        reopened.validate("train")
    assert long_id not in reopened.validate("train", skip_bad=True)


def test_train_on_a_folder_in_place_of_a_feature_file(dataset, tmp_path, capsys):
    video = dataset.videos("train")[0]
    _break(dataset, video, "folder")
    argv = [
        "train", "--data", str(dataset.root), "--subset", "train", "--model", "naive",
        "--out", str(tmp_path / "run"), "--steps", "1", "--validation-fraction", "0", "--quiet",
    ]  # fmt: skip
    assert main(argv) == 2
    error = _error_line(capsys, "train")
    assert f'video "{video}"' in error and "cannot read feature file" in error
    assert main([*argv, "--skip-bad"]) == 0


# -- exports: the next free version, stale staging removed ---------------------------------------


def _staged(tmp_path, name):
    saved = tmp_path / name / "saved_model"
    saved.mkdir(parents=True)
    (saved / "saved_model.pb").write_bytes(b"pb")
    keras_file = tmp_path / name / "model.keras"
    keras_file.write_bytes(b"keras")
    return saved, keras_file


def test_a_version_taken_meanwhile_moves_a_chosen_version_on(tmp_path):
    base = tmp_path / "models"
    (base / "1").mkdir(parents=True)
    (base / "1" / "saved_model.pb").write_bytes(b"another export's")
    saved, keras_file = _staged(tmp_path, "a")
    target = publish(saved, keras_file, base, 1, chosen=True)
    assert target == base / "2" and (base / "keras" / "2.keras").exists()
    assert (base / "1" / "saved_model.pb").read_bytes() == b"another export's"
    saved, keras_file = _staged(tmp_path, "b")
    with pytest.raises(ExportError, match="version 1 already exists"):
        publish(saved, keras_file, base, 1, chosen=False)  # a version the user gave


def test_a_killed_exports_staging_folder_is_removed_by_the_next(tmp_path):
    base = tmp_path / "models"
    dead = base / f"{STAGING_PREFIX}{DEAD_PID}-abc"
    live = base / f"{STAGING_PREFIX}{os.getpid()}-def"
    dead.mkdir(parents=True)
    live.mkdir()
    with staging_directory(base):
        assert not dead.exists() and live.exists()


def test_a_killed_writers_temporary_files_are_removed(tmp_path):
    dead = tmp_path / f".v.npy.{DEAD_PID}.x1y2.tmp"
    live = tmp_path / f".w.npy.{os.getpid()}.x1y2.tmp"
    other = tmp_path / ".notes.tmp"
    for path in (dead, live, other):
        path.write_bytes(b"partial")
    assert remove_stale_temporaries(tmp_path) == 1
    assert not dead.exists() and live.exists() and other.exists()


# -- extraction without weights is reproducible --------------------------------------------------


def test_random_backbones_are_seeded_and_recorded():
    settings = ExtractionSettings(backbone="mobilenet_v3_small", crop=32, frame_size=(40, 32))
    first_rgb, first_flow, described = make_streams(settings)
    second_rgb, second_flow, _ = make_streams(settings)
    for a, b in ((first_rgb, second_rgb), (first_flow, second_flow)):
        for x, y in zip(a.get_weights(), b.get_weights(), strict=True):
            np.testing.assert_array_equal(x, y)
    assert described["random_init_seed"] == 0
    other_rgb, _, _ = make_streams(settings, seed=1)
    assert any(
        not np.array_equal(x, y)
        for x, y in zip(first_rgb.get_weights(), other_rgb.get_weights(), strict=True)
    )


def test_a_feature_file_without_read_permission_is_named_or_skipped(dataset, monkeypatch):
    """`chmod 000` on a feature file (simulated: the tests may run as root, who reads anyway)."""
    import keras_wsal.datasets.feature_dataset as module

    video = dataset.videos("train")[2]
    blocked = dataset.feature_paths(video)["features"]
    real = module.read_npy_header

    def read_npy_header(path):
        if path == blocked:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(module, "read_npy_header", read_npy_header)
    with pytest.raises(DataError, match=f"cannot read feature file {blocked} \\(Permission denied"):
        dataset.validate("train")
    assert video not in dataset.validate("train", skip_bad=True)
