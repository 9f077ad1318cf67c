"""Resuming a run folder: only changes that keep the run true, one trainer at a time, and no
leftover or damaged file from a killed run that the next run trips on."""

import fcntl
import json
import logging
import os

import keras
import pytest
from training_helpers import NUM_VIDEOS, write_tiny_dataset

from keras_wsal.cli import main
from keras_wsal.datasets import FeatureDataset
from keras_wsal.errors import DataError
from keras_wsal.training import load_run_model, run_feature_fps
from keras_wsal.training.checkpoints import checkpoint_steps
from keras_wsal.training.run_folder import CHECKPOINT_DIR, LOCK_FILE, MODEL_FILE

BATCH = 4
STEPS_PER_EPOCH = NUM_VIDEOS // BATCH  # 2


@pytest.fixture
def data_root(tmp_path):
    root = tmp_path / "data"
    write_tiny_dataset(root)
    return root


def _train(data_root, out, epochs: int, *extra: str) -> int:
    return main(
        [
            "train", "--data", str(data_root), "--subset", "train", "--out", str(out),
            "--model", "wsgn", "--epochs", str(epochs), "--batch-size", str(BATCH),
            "--validation-fraction", "0", "--quiet", *extra,
        ]
    )  # fmt: skip


def _error_line(capsys) -> str:
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "Traceback" not in error, error
    return error


def _steps_done(run) -> int:
    return checkpoint_steps(run / CHECKPOINT_DIR)[0][0]


def test_fewer_epochs_than_trained_is_refused_and_changes_nothing(data_root, tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(data_root, run, 2) == 0
    config_before = (run / "config.json").read_text()
    model_time = (run / MODEL_FILE).stat().st_mtime_ns
    capsys.readouterr()

    assert _train(data_root, run, 1) == 2
    error = _error_line(capsys)
    assert "already trained 4 steps and --epochs 1 asks for 2" in error
    assert (run / "config.json").read_text() == config_before
    assert (run / MODEL_FILE).stat().st_mtime_ns == model_time

    assert _train(data_root, run, 3) == 0  # more epochs continue the same run
    assert json.loads((run / "config.json").read_text())["epochs"] == 3
    assert _steps_done(run) == 3 * STEPS_PER_EPOCH


def test_every_spelling_of_the_run_folder_is_the_same_run(data_root, tmp_path, monkeypatch):
    run = tmp_path / "runs" / "x"
    monkeypatch.chdir(tmp_path)
    assert _train(os.path.relpath(data_root), "runs/x", 1) == 0
    assert _train(os.path.relpath(data_root), "runs/x/", 2) == 0
    assert _train(data_root, run, 3) == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert _train(os.path.relpath(data_root), "../runs/x", 4) == 0
    assert _steps_done(run) == 4 * STEPS_PER_EPOCH
    saved = json.loads((run / "config.json").read_text())
    assert saved["data"] == str(data_root) and saved["out"] == str(run)
    assert run_feature_fps("../runs/x") == FeatureDataset(data_root).feature_fps  # found from here


def test_a_second_trainer_on_the_same_folder_is_refused(data_root, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    with open(run / LOCK_FILE, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another trainer holds the run
        assert _train(data_root, run, 1) == 2
        assert "another `keras-wsal train` is writing this run folder" in _error_line(capsys)
    assert _train(data_root, run, 1) == 0  # released with its process: never stale


def test_a_truncated_newest_checkpoint_falls_back_to_the_previous(data_root, tmp_path, caplog):
    run = tmp_path / "run"
    assert _train(data_root, run, 2, "--checkpoint-every", "1") == 0
    (newest, newest_prefix), (older, _) = checkpoint_steps(run / CHECKPOINT_DIR)[:2]
    assert (newest, older) == (4, 3)
    for data_file in (run / CHECKPOINT_DIR).glob(f"{os.path.basename(newest_prefix)}.data-*"):
        os.truncate(data_file, data_file.stat().st_size // 2)

    assert _train(data_root, run, 3, "--checkpoint-every", "1") == 0
    assert "cannot be read; trying an older one" in caplog.text
    assert "resumed from ckpt-3 (step 3)" in caplog.text
    history = json.loads((run / "history.json").read_text())
    assert [h["round"] for h in history] == [1, 2, 3, 4, 5, 6]  # round 4 redone, then 5 and 6


def test_a_garbage_checkpoint_state_file_does_not_restart_from_zero(data_root, tmp_path, caplog):
    run = tmp_path / "run"
    assert _train(data_root, run, 1) == 0
    (run / CHECKPOINT_DIR / "checkpoint").write_text("garbage {{ not a CheckpointState")
    caplog.set_level(logging.INFO, logger="keras_wsal.training.trainer")
    assert _train(data_root, run, 2) == 0
    assert f"resuming from step {STEPS_PER_EPOCH}" in caplog.text
    assert _steps_done(run) == 2 * STEPS_PER_EPOCH


def test_no_readable_checkpoint_is_a_one_line_error(data_root, tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(data_root, run, 1) == 0
    for data_file in (run / CHECKPOINT_DIR).glob("ckpt-*.data-*"):
        os.truncate(data_file, 1)
    capsys.readouterr()
    assert _train(data_root, run, 2) == 2
    error = _error_line(capsys)
    assert "no readable checkpoint" in error and "remove the run folder" in error


def test_a_resumed_run_that_dies_leaves_no_stale_model(data_root, tmp_path):
    run = tmp_path / "run"
    assert _train(data_root, run, 1) == 0
    assert load_run_model(run)[0] is not None

    class Killed(Exception):
        pass

    class DieAfterOneRound(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise Killed

    from keras_wsal.training import TrainConfig, train

    config = TrainConfig(
        data=str(data_root), subset="train", model="wsgn", out=str(run), epochs=3,
        batch_size=BATCH, validation_fraction=0.0,
    )  # fmt: skip
    with pytest.raises(Killed):
        train(config, verbose=0, callbacks=[DieAfterOneRound()])
    assert not (run / MODEL_FILE).exists()  # the old model is not passed off as the new one
    with pytest.raises(DataError, match="finish the training by running `keras-wsal train` again"):
        load_run_model(run)


def test_leftovers_of_a_killed_run_are_removed(data_root, tmp_path):
    run = tmp_path / "run"
    assert _train(data_root, run, 1) == 0
    staging = run / ".staging-abc123"
    staging.mkdir()
    (staging / MODEL_FILE).write_bytes(b"half a zip")
    temp_checkpoint = run / CHECKPOINT_DIR / "ckpt-9_temp"
    temp_checkpoint.mkdir()
    (temp_checkpoint / "part").write_bytes(b"x")
    assert _train(data_root, run, 2) == 0
    assert not staging.exists() and not temp_checkpoint.exists()
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == [LOCK_FILE]


def test_an_output_path_under_a_file_is_a_one_line_error(data_root, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert _train(data_root, blocker / "run", 1) == 2
    error = _error_line(capsys)
    assert f"{blocker / 'run'}: cannot create this folder" in error
