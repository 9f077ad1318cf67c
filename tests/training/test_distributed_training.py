"""Training under `tf.distribute` and after a kill: the same losses and step counts as one replica.

The reference for a distributed first step is the loss of the run's initial weights (saved by a
callback in the training process) on the step's global batch, computed here directly with the
model and its loss. Which videos form that batch follows from how the trainer feeds replicas:
`distribute_datasets_from_function` builds one input pipeline per worker; worker `w` of `W` reads
the videos `w, w + W, ...` (in sorted order), shuffles them with the run's seed and batches them
by `global_batch / (W · R)`; its `R` replicas take its first `R` batches, one each. So the first
global batch is, for each worker, the first `global_batch / W` videos of its shuffled shard.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from training_helpers import FEATURE_DIM, NUM_VIDEOS, write_tiny_dataset

from keras_wsal.cli import main
from keras_wsal.models import build_model, loss_for_model
from keras_wsal.training import TrainConfig, train
from keras_wsal.training.checkpoints import checkpoint_steps

pytestmark = pytest.mark.slow

SEED = 1
GLOBAL_BATCH = 4
PROCESS_TIMEOUT_S = 240

# Runs `train` under a strategy in a fresh process (logical CPU devices must be configured before
# TensorFlow initialises its devices) and saves the initial weights when training begins.
TRAIN_SCRIPT = """\
import json
import sys

import tensorflow as tf

config_path, weights_path, strategy_name = sys.argv[1:]
if strategy_name == "two-cpus":
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
else:
    from keras_wsal.training import make_strategy

    strategy = make_strategy(strategy_name)

import keras

from keras_wsal.training import TrainConfig, train


class SaveInitialWeights(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.model.save_weights(weights_path)


result = train(TrainConfig.load(config_path), strategy=strategy, verbose=0,
               callbacks=[SaveInitialWeights()])
print(json.dumps({"replicas": strategy.num_replicas_in_sync, "steps": result.steps}))
"""


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("training") / "data"
    write_tiny_dataset(root)
    return root


def _config(data_root, out, model) -> TrainConfig:
    return TrainConfig(
        data=str(data_root),
        subset="train",
        model=model,
        out=str(out),
        recipe="paper",  # no held-out videos, no CASL: every video in the batches the test predicts
        epochs=1,
        batch_size=GLOBAL_BATCH,
        dropout=0.0,
        checkpoint_every=1,  # round 1 is step 1: its logged loss is the first step's
        seed=SEED,
        accumulation_steps=1,  # WSGN's paper recipe accumulates 32; strategies cannot (see train)
        clips=0,  # every snippet, as the batches the test predicts (not UntrimmedNet's clips)
        k_ratio=0.125,  # the model's own, which `_loss_on_batch` builds
        lr_step=0,
        frame_stride=0,  # the snippets as they are (WSGN's paper recipe resamples them)
        precision="float32",  # the NumPy-side reference is float32
    )


def _first_global_batch(workers: int) -> list[int]:
    """Indices (into the sorted videos) of the first global batch; see the module docstring."""
    tf.random.set_seed(SEED)
    indices = []
    for worker in range(workers):
        shard = tf.data.Dataset.range(NUM_VIDEOS).shard(workers, worker)
        order = shard.shuffle(NUM_VIDEOS, seed=SEED)
        indices += [int(i) for i in order.take(GLOBAL_BATCH // workers)]
    return indices


def _loss_on_batch(
    data_root: Path, config: TrainConfig, weights: Path, indices: list[int]
) -> float:
    """The training loss (+ weight decay) of `weights` on the videos `indices`, padded together."""
    database = json.loads((data_root / "annotations.json").read_text())["database"]
    classes = json.loads((data_root / "meta.json").read_text())["classes"]
    train_videos = sorted(v for v, record in database.items() if record["subset"] == "train")
    videos = [train_videos[i] for i in indices]
    arrays = [np.load(data_root / "features" / f"{video}.npy") for video in videos]
    length = max(len(a) for a in arrays)
    features = np.zeros((len(videos), length, FEATURE_DIM), np.float32)
    mask = np.zeros((len(videos), length), bool)
    for row, array in enumerate(arrays):
        features[row, : len(array)] = array
        mask[row, : len(array)] = True
    labels = np.array(
        [
            [float(any(a["label"] == c for a in database[v]["annotations"])) for c in classes]
            for v in videos
        ],
        np.float32,
    )
    model = build_model(
        config.model,
        len(classes),
        {"features": FEATURE_DIM},
        dropout=0.0,
        weight_decay=config.weight_decay,
    )
    model.build({"features": (None, None, FEATURE_DIM)})
    model.load_weights(weights)
    predictions = model({"features": features, "mask": mask}, training=True)
    return float(loss_for_model(model)(labels, predictions) + keras.ops.sum(model.losses))


def _start(tmp_path: Path, name: str, args: list[str], env: dict | None = None):
    """Start TRAIN_SCRIPT with `args`; returns the process and the file its output goes to."""
    script = tmp_path / "train_under_strategy.py"
    script.write_text(TRAIN_SCRIPT)
    environment = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    environment.update({"TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})})
    log_path = tmp_path / f"{name}.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, str(script), *args],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return process, log_path


def _wait_all(started: list) -> list[dict]:
    """Wait for every process (all killed on timeout or failure); their last output line as JSON."""
    deadline = time.monotonic() + PROCESS_TIMEOUT_S
    try:
        for process, _ in started:
            process.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        pass
    finally:
        for process, _ in started:
            if process.poll() is None:
                process.kill()
                process.wait()
    logs = [log_path.read_text() for _, log_path in started]
    for (process, _), log in zip(started, logs, strict=True):
        assert process.returncode == 0, (
            f"training process failed ({process.returncode}):\n{log[-4000:]}"
        )
    return [json.loads(log.strip().splitlines()[-1]) for log in logs]


def _round_losses(out: Path) -> list[float]:
    history = json.loads((out / "history.json").read_text())
    assert [h["round"] for h in history] == list(range(1, len(history) + 1))
    return [h["loss"] for h in history]


def test_reference_batch_and_loss_match_single_replica_training(data_root, tmp_path):
    """The first batch's reconstruction and its loss agree with the plain (one-replica) trainer."""
    config = _config(data_root, tmp_path / "run", "wsgn")
    weights = tmp_path / "initial.weights.h5"

    class SaveInitialWeights(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.model.save_weights(weights)

    result = train(config, verbose=0, callbacks=[SaveInitialWeights()])
    assert result.steps == NUM_VIDEOS // GLOBAL_BATCH
    first_step = _round_losses(tmp_path / "run")[0]
    assert first_step == pytest.approx(
        _loss_on_batch(data_root, config, weights, _first_global_batch(1)), abs=1e-5
    )
    # The comparison can tell batches apart: the other half of the videos gives another loss.
    other_half = sorted(set(range(NUM_VIDEOS)) - set(_first_global_batch(1)))
    assert abs(first_step - _loss_on_batch(data_root, config, weights, other_half)) > 1e-3


def test_mirrored_strategy_on_two_cpu_devices(data_root, tmp_path):
    config = _config(data_root, tmp_path / "run", "untrimmednet-hard")
    config_path = config.save(tmp_path)
    weights = tmp_path / "initial.weights.h5"
    [report] = _wait_all(
        [_start(tmp_path, "mirrored", [str(config_path), str(weights), "two-cpus"])]
    )
    assert report == {"replicas": 2, "steps": NUM_VIDEOS // GLOBAL_BATCH}
    expected = _loss_on_batch(data_root, config, weights, _first_global_batch(workers=1))
    assert _round_losses(tmp_path / "run")[0] == pytest.approx(expected, abs=1e-5)
    assert (tmp_path / "run" / "model.keras").is_file()


def _free_loopback_ports(count: int) -> list[int]:
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def test_multi_worker_mirrored_strategy_with_two_local_workers(data_root, tmp_path):
    config = _config(data_root, tmp_path / "run", "wsgn")
    config_path = config.save(tmp_path)
    workers = [f"127.0.0.1:{port}" for port in _free_loopback_ports(2)]
    started = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        weights = tmp_path / f"initial_{index}.weights.h5"
        started.append(
            _start(
                tmp_path,
                f"worker_{index}",
                [str(config_path), str(weights), "multi-worker"],
                {"TF_CONFIG": json.dumps(tf_config)},
            )
        )
    reports = _wait_all(started)
    assert reports == [{"replicas": 2, "steps": NUM_VIDEOS // GLOBAL_BATCH}] * 2
    out = tmp_path / "run"
    assert {p.name for p in out.iterdir()} >= {
        "config.json",
        "classes.json",
        "history.json",
        "model.keras",
    }
    assert tf.train.latest_checkpoint(str(out / "checkpoints")).endswith("ckpt-2")
    # The workers start from the same (broadcast) weights.
    for first, second in zip(
        *(_h5_arrays(tmp_path / f"initial_{i}.weights.h5") for i in range(2)), strict=True
    ):
        np.testing.assert_array_equal(first, second)
    batch = _first_global_batch(workers=2)
    assert sorted(batch) != sorted(_first_global_batch(workers=1))  # sharding changes the batch
    expected = _loss_on_batch(data_root, config, tmp_path / "initial_0.weights.h5", batch)
    assert _round_losses(out)[0] == pytest.approx(expected, abs=1e-5)


def _h5_arrays(path: Path) -> list[np.ndarray]:
    import h5py

    arrays = []
    with h5py.File(path, "r") as file:
        file.visititems(
            lambda name, item: arrays.append(item[()]) if isinstance(item, h5py.Dataset) else None
        )
    return arrays


def _train_command(data_root: Path, out: Path, batch_size: int = 4) -> list[str]:
    return [
        "train", "--data", str(data_root), "--subset", "train", "--model", "untrimmednet-soft",
        "--out", str(out), "--epochs", "20", "--batch-size", str(batch_size),
        "--checkpoint-every", "2", "--recipe", "paper",
    ]  # fmt: skip


def _newest_readable_step(directory) -> int:
    """The step of the newest checkpoint whose files can be read: the one a resumed run restores.
    (The `checkpoint` state file may still name an older one: the kill can fall between writing a
    checkpoint and updating that file.)"""
    for step, prefix in checkpoint_steps(directory):
        try:
            tf.train.load_checkpoint(prefix).get_tensor(
                "optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE"
            )
        except Exception:  # cut short by the kill: the resumed run skips it too
            continue
        return step
    return 0


def test_killed_training_resumes_from_its_last_checkpoint(data_root, tmp_path, capsys):
    out = tmp_path / "run"
    total_steps = 20 * (NUM_VIDEOS // 4)
    command = [sys.executable, "-m", "keras_wsal", *_train_command(data_root, out)]
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    first = subprocess.Popen(
        command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + PROCESS_TIMEOUT_S
        while not (out / "checkpoints" / "checkpoint").exists():
            assert first.poll() is None, "training ended before writing a checkpoint"
            assert time.monotonic() < deadline, "no checkpoint within the time limit"
            time.sleep(0.05)
        assert first.poll() is None, "training finished before it could be killed"
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert first.returncode == -signal.SIGKILL
    killed_at = _newest_readable_step(out / "checkpoints")
    assert 0 < killed_at < total_steps and killed_at % 2 == 0

    second = subprocess.run(
        command, env=environment, capture_output=True, text=True, timeout=PROCESS_TIMEOUT_S
    )
    assert second.returncode == 0, second.stderr[-4000:]
    # Keras numbers the rounds: the resumed run's first is the one after the checkpoint.
    rounds = [line.split()[1] for line in second.stdout.splitlines() if line.startswith("Epoch ")]
    assert rounds[0] == f"{killed_at // 2 + 1}/{total_steps // 2}"
    assert len(rounds) == (total_steps - killed_at) // 2
    assert f"for {total_steps} steps" in second.stdout

    latest = tf.train.latest_checkpoint(str(out / "checkpoints"))
    assert latest.endswith(f"ckpt-{total_steps}")
    iterations = tf.train.load_checkpoint(latest).get_tensor(
        "optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE"
    )
    assert int(iterations) == total_steps
    assert len(_round_losses(out)) == total_steps // 2
    assert (out / "model.keras").is_file()

    # The same folder with another configuration is refused, naming what differs.
    assert main(_train_command(data_root, out, batch_size=2)) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "Traceback" not in error
    assert "already holds a run with a different configuration (batch_size differ)" in error
