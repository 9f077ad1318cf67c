"""The checkpoint written after each training round, and the history of the rounds' logs."""

from __future__ import annotations

import json
from pathlib import Path

import keras

from keras_wsal.utils.atomic_files import atomic_write_text


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
        self.manager.save(checkpoint_number=int(self.model.optimizer.iterations.numpy()))
