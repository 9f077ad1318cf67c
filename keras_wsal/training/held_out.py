"""The stopping rule: a held-out share of the training videos picks the checkpoint.

Weak supervision gives no segment to validate localisation on, and training longer can make
localisation worse while the training loss keeps falling (a model that learns the scene context).
So a seeded share of the training videos is held out of training, each round scores them from
their video-level labels only — the mean over classes of the average precision of the videos
ranked by the class's top-k detection score (k = ⌈T/8⌉, a score that does not shrink with the
video's length) — and the round with the best score is the model that is kept. No segment is read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np

from keras_wsal.errors import DataError
from keras_wsal.evaluation.average_precision import mean_average_precision
from keras_wsal.inference.detection_rule import top_k_class_scores
from keras_wsal.inference.predict import model_snippet_outputs
from keras_wsal.utils.atomic_files import atomic_write_text
from keras_wsal.utils.keras_compat import steps_taken

BEST_WEIGHTS_FILE = "best.weights.h5"
SELECTION_FILE = "selection.json"


def split_held_out(
    videos: Sequence[str], fraction: float, seed: int
) -> tuple[list[str], list[str]]:
    """(training videos, held-out videos): `round(fraction · N)` videos drawn with `seed`.

    When that rounds to 0 (fewer than 1 / (2 · fraction) videos) nothing is held out and the last
    checkpoint is kept.

    Raises:
        DataError: a fraction that leaves no video to train on.
    """
    videos = list(videos)
    count = round(fraction * len(videos))
    if count == 0:
        return videos, []
    if count >= len(videos):
        raise DataError(
            f"validation_fraction={fraction} of {len(videos)} training videos holds out {count} "
            "and leaves none to train on (use a smaller --validation-fraction, or 0 for none)"
        )
    chosen = set(np.random.default_rng(seed).choice(len(videos), count, replace=False).tolist())
    return (
        [v for i, v in enumerate(videos) if i not in chosen],
        [v for i, v in enumerate(videos) if i in chosen],
    )


def video_map(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mean over classes with a positive video of the non-interpolated AP of `scores` `[N, C]`
    (`keras_wsal.evaluation`'s recognition AP); 0 when no class has a positive video."""
    positives = np.asarray(labels) > 0
    if not positives.any():
        return 0.0
    columns = [str(c) for c in range(positives.shape[1])]
    return mean_average_precision(
        "held-out videos", columns, np.asarray(scores, np.float64), positives
    ).mAP


class KeepBestOnHeldOut(keras.callbacks.Callback):
    """After each round: score the held-out videos; keep the best round's weights in the run folder.

    Writes `RUN_DIR/best.weights.h5` and `RUN_DIR/selection.json` (`round`, `step`,
    `held_out_mAP`, `videos`) whenever a round beats the best so far (ties keep the earlier), and
    picks up the best so far from them when training resumes.
    """

    def __init__(self, dataset, videos: Sequence[str], subset: str, out: str | Path):
        super().__init__()
        self.out = Path(out)
        self.videos = list(videos)
        loaded = [dataset.load_features(video, mmap=False) for video in self.videos]
        self.lengths = [len(next(iter(features.values()))) for features in loaded]
        longest = max(self.lengths)
        # One padded, masked batch of every held-out video: a single forward pass per round.
        self.inputs = {
            stream: np.stack(
                [
                    np.pad(
                        np.asarray(f[stream], np.float32), ((0, longest - len(f[stream])), (0, 0))
                    )
                    for f in loaded
                ]
            )
            for stream in loaded[0]
        }
        self.inputs["mask"] = np.arange(longest)[None, :] < np.array(self.lengths)[:, None]
        self.labels = np.asarray(
            dataset.weak_labels(subset).select(self.videos).multi_hot, np.float64
        )
        self.best = -1.0
        selection = self.out / SELECTION_FILE
        if selection.exists() and (self.out / BEST_WEIGHTS_FILE).exists():
            try:
                self.best = float(json.loads(selection.read_text())["held_out_mAP"])
            except (ValueError, KeyError, TypeError) as error:
                raise DataError(f"{selection}: not a keras-wsal selection file ({error})") from None

    def score(self) -> float:
        """The held-out video mAP of the model now."""
        curves = model_snippet_outputs(self.model, self.inputs)["detection_scores"]
        rows = [
            top_k_class_scores(curve[:length])
            for curve, length in zip(curves, self.lengths, strict=True)
        ]
        return video_map(np.array(rows), self.labels)

    def on_epoch_end(self, epoch, logs=None):
        score = self.score()
        if logs is not None:
            logs["held_out_mAP"] = score
        if score > self.best:
            self.best = score
            self.model.save_weights(self.out / BEST_WEIGHTS_FILE)
            step = steps_taken(self.model.optimizer)
            atomic_write_text(
                self.out / SELECTION_FILE,
                json.dumps(
                    {
                        "round": epoch + 1,
                        "step": step,
                        "held_out_mAP": score,
                        "videos": self.videos,
                    },
                    indent=1,
                )
                + "\n",
            )

    def restore_best(self) -> dict | None:
        """Load the best round's weights into the model; its selection record (None if none)."""
        path = self.out / BEST_WEIGHTS_FILE
        if not path.exists():
            return None
        self.model.load_weights(path)
        return json.loads((self.out / SELECTION_FILE).read_text())
