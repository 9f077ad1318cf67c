"""Checkpoints of a run: written after each training round (with the history of the rounds'
logs), found from their files, restored from the newest one that can be read."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import keras

from keras_wsal.errors import DataError
from keras_wsal.training.run_folder import CHECKPOINT_PREFIX
from keras_wsal.utils.atomic_files import atomic_write_text
from keras_wsal.utils.keras_compat import steps_taken

logger = logging.getLogger(__name__)


class CheckpointEveryRound(keras.callbacks.Callback):
    """After each round: append its logs to `history_path` (if given), then save a checkpoint."""

    def __init__(self, manager, history_path: Path | None):
        super().__init__()
        self.manager = manager
        self.history_path = history_path
        self.losses = []

    def on_epoch_end(self, epoch, logs=None):
        # The history first: a kill between the two writes then redoes this round and rewrites its
        # entry, whereas a checkpoint written first would leave the round out of the history.
        self.losses.append({"round": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}})
        if self.history_path is not None:
            previous = (
                json.loads(self.history_path.read_text()) if self.history_path.exists() else []
            )
            kept = [h for h in previous if h["round"] <= epoch]
            atomic_write_text(
                self.history_path, json.dumps(kept + self.losses[-1:], indent=1) + "\n"
            )
        self.manager.save(checkpoint_number=steps_taken(self.model.optimizer))


def checkpoint_steps(directory: Path) -> list[tuple[int, str]]:
    """`[(step, prefix)]` of the checkpoints in `directory`, newest first.

    Read from the files themselves (`ckpt-N.index`, N being the training step at which it was
    written), not from the `checkpoint` state file, which a crash can leave stale or damaged.
    """
    found = []
    for index in Path(directory).glob(f"{CHECKPOINT_PREFIX}-*.index"):
        number = index.name[len(CHECKPOINT_PREFIX) + 1 : -len(".index")]
        if number.isdigit():
            found.append((int(number), str(index.with_suffix(""))))
    return sorted(found, reverse=True)


def restore_newest_readable(checkpoint, directory: Path) -> int:
    """Restore the newest checkpoint of `directory` that can be read, older ones if it cannot.

    A checkpoint cut short by a crash (a truncated data file) is reported, skipped and removed,
    and the state file `checkpoint` is rewritten to name the one restored.

    Returns:
        The training step of the restored checkpoint; 0 when there is none.

    Raises:
        DataError: checkpoints exist but none can be read.
    """
    import tensorflow as tf

    candidates = checkpoint_steps(directory)
    failures = []
    for step, prefix in candidates:
        try:
            checkpoint.restore(prefix).assert_existing_objects_matched()
        except Exception as error:  # TF raises many kinds for a damaged checkpoint
            failures.append(f"{Path(prefix).name} ({type(error).__name__}: {error})")
            logger.warning("checkpoint %s cannot be read; trying an older one", prefix)
            continue
        if failures:  # the damaged newer ones would only be tried (and fail) again
            for _, damaged in candidates[: len(failures)]:
                for part in Path(directory).glob(f"{Path(damaged).name}.*"):
                    part.unlink()
            logger.warning("resumed from %s (step %d)", Path(prefix).name, step)
        kept = [p for s, p in reversed(candidates) if s <= step]
        tf.compat.v1.train.update_checkpoint_state(
            str(directory), prefix, all_model_checkpoint_paths=kept
        )
        return step
    if failures:
        raise DataError(
            f"{directory}: no readable checkpoint ({'; '.join(failures)}); remove the run "
            "folder to train again from the start"
        )
    return 0
