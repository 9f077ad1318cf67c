"""The run folder that training writes, shared by `train` and `train_end_to_end`.

```
RUN_DIR/
  config.json      the run's settings (the run can be repeated from it)
  classes.json     the class names, in the order of the model's outputs
  checkpoints/     tf.train.Checkpoint of model + optimizer after each round
  history.json     the logs of each round
  best.weights.h5  the weights of the round with the best held-out video mAP (if videos are held)
  selection.json   that round and its held-out mAP, and the held-out videos
  logs/            TensorBoard logs (feature training)
  model.keras      the trained model, written when training ends
```

Training runs in rounds (Keras epochs of a fixed number of steps); a checkpoint is written after
each, and a run started again on the same folder with the same settings resumes from the last.

Every command that reads a run (detect, export, plot) finds its model, classes and feature rate
here (`load_run_model`, `run_feature_fps`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from keras_wsal.errors import DataError
from keras_wsal.utils.atomic_files import atomic_write_text, make_folder

if TYPE_CHECKING:
    import keras

CONFIG_FILE = "config.json"
MODEL_FILE = "model.keras"
CLASSES_FILE = "classes.json"
HISTORY_FILE = "history.json"
CHECKPOINT_DIR = "checkpoints"
# `checkpoints/ckpt-N.*`: N is the training step the checkpoint was written at.
CHECKPOINT_PREFIX = "ckpt"
LOG_DIR = "logs"
LOCK_FILE = ".lock"
# What the run's features are: rate, streams, sizes, and how `extract` made them (if it did).
FEATURES_FILE = "features.json"
# `save_atomically`'s staging folders inside a run folder: a kill can leave one behind.
STAGING_PREFIX = ".staging-"


def save_config(folder: str | os.PathLike, values: Mapping) -> Path:
    """Write `folder/config.json` (JSON of `values`) atomically."""
    path = Path(folder) / CONFIG_FILE
    atomic_write_text(path, json.dumps(values, indent=2) + "\n")
    return path


def check_resumable(out: Path, current: Mapping, growable: tuple[str, ...]) -> None:
    """Refuse a run folder that holds another run: its config may differ only in `growable`.

    Raises:
        DataError: naming the differing fields, or an unreadable `config.json`.
    """
    path = out / CONFIG_FILE
    if not path.exists():
        return
    try:
        previous = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise DataError(f"{path}: not valid JSON ({error})") from None
    current = json.loads(json.dumps(current))  # tuples → lists, as they were saved
    # The folder itself is the run, however its path is written (`out` is not compared).
    differing = sorted(
        k
        for k in set(current) | set(previous)
        if k not in (*growable, "out") and previous.get(k) != current.get(k)
    )
    if differing:
        raise DataError(
            f"{out} already holds a run with a different configuration ({', '.join(differing)} "
            "differ); use another output folder, or the same settings to resume it"
        )


@contextlib.contextmanager
def run_folder_lock(out: Path):
    """Hold an exclusive lock on the run folder `out` (created if needed) for the block.

    A second trainer on the same folder is refused rather than let two processes write one
    run's checkpoints. The lock (`flock` on `out/.lock`) goes with the process, so a killed
    trainer never leaves a stale one. Where `fcntl` is missing (Windows) nothing is locked.

    Raises:
        DataError: another process holds the lock.
    """
    make_folder(out)
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(out / LOCK_FILE, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DataError(
                f"{out}: another `keras-wsal train` is writing this run folder; wait for it to "
                "end, or use another --out"
            ) from None
        yield


def remove_killed_run_leftovers(out: Path) -> None:
    """Remove what a killed run left in `out` (hold the lock): the staging folders of
    `save_atomically` and TF's half-written checkpoints (`checkpoints/ckpt-N_temp/`)."""
    leftovers = [
        *out.glob(f"{STAGING_PREFIX}*"),
        *(out / CHECKPOINT_DIR).glob(f"{CHECKPOINT_PREFIX}-*_temp*"),
    ]
    for leftover in leftovers:
        shutil.rmtree(leftover, ignore_errors=True) if leftover.is_dir() else leftover.unlink()


def save_atomically(out: Path, savers: Mapping[str, Callable[[Path], object]]) -> None:
    """Each `savers[name](path)` writes to a staging folder inside `out`, then is renamed to
    `out/name`, so a reader never sees a half-written model file."""
    with tempfile.TemporaryDirectory(dir=out, prefix=STAGING_PREFIX) as temporary:
        for name, save in savers.items():
            staged = Path(temporary) / name
            save(staged)
            os.replace(staged, out / name)


def save_feature_record(out: Path, meta: Mapping, dataset_root: Path) -> None:
    """Write `out/features.json`: the dataset's feature rate, streams and sizes, and its
    "extraction" record (backbone, weights, flow, snippet rate), so that the run can extract the
    same features from new videos (`keras-wsal detect VIDEOS --model RUN`)."""
    record = {
        "dataset": str(dataset_root),
        **{k: meta[k] for k in ("feature_fps", "streams", "feature_dim")},
        "extraction": meta.get("extraction"),
    }
    atomic_write_text(out / FEATURES_FILE, json.dumps(record, indent=1) + "\n")


def load_feature_record(run_dir: str | os.PathLike) -> dict:
    """The run's `features.json` (see `save_feature_record`).

    Raises:
        DataError: no such file (a run trained before keras_wsal recorded it), or bad JSON.
    """
    path = Path(run_dir) / FEATURES_FILE
    if not path.is_file():
        raise DataError(
            f"{path} not found: this run does not record how its features were made (train it "
            "again with this keras_wsal, or run `keras-wsal extract` and pass --data)"
        )
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise DataError(f"{path}: not valid JSON ({error})") from None


def load_run_model(run_or_file: str | os.PathLike) -> tuple[keras.Model, list[str] | None]:
    """The trained model of a run folder (or a `.keras` file) and its class names if known.

    Raises:
        DataError: no model there (saying how to finish a run that has checkpoints but no final
            model), or a file Keras cannot load.
    """
    import keras  # here, not at the top: `keras-wsal --help` reads this module's file names

    import keras_wsal

    keras_wsal.register_serializable_classes()  # not done by the command line's import

    path = Path(run_or_file)
    if not path.exists():
        raise DataError(f"{path}: no such run folder or .keras file")
    model_path = path / MODEL_FILE if path.is_dir() else path
    if not model_path.exists():
        hint = (
            f"it has {CHECKPOINT_DIR}/ but no final model: finish the training by running "
            "`keras-wsal train` again with the same --out"
            if (path / CHECKPOINT_DIR).is_dir()
            else "expected a run folder of `keras-wsal train`, or a .keras file"
        )
        raise DataError(f"{path}: no trained model ({MODEL_FILE}) here; {hint}")
    try:
        model = keras.saving.load_model(model_path)
    except Exception as error:  # Keras raises many kinds of errors for a file it cannot read.
        raise DataError(
            f"{model_path}: not a loadable Keras model ({type(error).__name__}: {error})"
        ) from None
    classes_path = model_path.parent / CLASSES_FILE
    classes = json.loads(classes_path.read_text()) if classes_path.exists() else None
    return model, classes


def run_feature_fps(run_dir: str | os.PathLike) -> float:
    """The feature rate of a run's dataset (`config.json` → `DATA/meta.json`).

    Raises:
        DataError: no `config.json` in `run_dir`, or its dataset cannot be read.
    """
    from keras_wsal.datasets import FeatureDataset
    from keras_wsal.training.config import TrainConfig

    if not (Path(run_dir) / CONFIG_FILE).exists():
        raise DataError(f"{run_dir}: no run {CONFIG_FILE} to find the dataset's feature rate in")
    return float(FeatureDataset(TrainConfig.load(run_dir).data).feature_fps)
