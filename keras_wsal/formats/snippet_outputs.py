"""Per-snippet outputs file (`.npz`, written by `save_snippet_outputs`; `keras-wsal detect
--save-snippets DIR` writes one per video as `DIR/VIDEO.npz`; `keras-wsal plot --snippets` reads
it). Arrays, all loadable with `allow_pickle=False`:

- `snippet_scores`: float32 `[T, C]`, per-snippet class probabilities (a model's "snippet_scores");
- `selection`: float32 `[T, C]` or `[T, 1]`, selection weights (UntrimmedNet attention, WSGN's g);
- `feature_fps`: float64 scalar, snippets per second (snippet t covers [t/fps, (t+1)/fps));
- `classes`: unicode string `[C]`, the class of each column.

The array checks here are also those of every per-snippet output a model gives detection and
recognition (`check_snippet_array`, `check_selection`, `check_video_scores`).
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from keras_wsal.errors import DataError
from keras_wsal.utils.arguments import is_real
from keras_wsal.utils.atomic_files import atomic_output

SNIPPET_ARRAYS = ("snippet_scores", "selection", "feature_fps", "classes")


@dataclass(frozen=True)
class SnippetOutputs:
    """The contents of a per-snippet outputs file (see the module docstring)."""

    snippet_scores: np.ndarray
    selection: np.ndarray
    feature_fps: float
    classes: tuple[str, ...]


def save_snippet_outputs(
    path: str | os.PathLike,
    snippet_scores: np.ndarray,
    selection: np.ndarray,
    feature_fps: float,
    classes: Sequence[str],
) -> Path:
    """Write one video's per-snippet outputs as `.npz` (format in the module docstring), atomically.

    Args:
        path: the file to write (conventionally `DIR/VIDEO.npz`).
        snippet_scores: float `[T, C]` (padding cut off).
        selection: float `[T, C]` or `[T, 1]`.
        feature_fps: snippets per second.
        classes: the C class names.

    Returns:
        The path written.

    Raises:
        DataError: shapes that disagree, NaN/inf or negative selection (naming the file).
    """
    target = Path(path)
    scores = check_snippet_array(snippet_scores, "snippet_scores", str(target))
    weights = check_selection(selection, scores.shape, str(target))
    labels = check_class_names(classes, scores.shape[1], str(target))
    fps = check_feature_fps(feature_fps, str(target))
    with atomic_output(target, "wb") as handle:
        np.savez(
            handle,
            snippet_scores=scores.astype(np.float32),
            selection=weights.astype(np.float32),
            feature_fps=np.float64(fps),
            classes=np.array(labels, dtype=np.str_),
        )
    return target


def load_snippet_outputs(path: str | os.PathLike) -> SnippetOutputs:
    """Read a per-snippet outputs file written by `save_snippet_outputs`.

    Raises:
        FileNotFoundError: no such file.
        DataError: not a `.npz` file, a missing array, or arrays that disagree (naming the file).
    """
    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"per-snippet outputs file {source} does not exist")
    try:
        with np.load(source, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in SNIPPET_ARRAYS if name in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise DataError(f"{source}: not a readable .npz file ({error})") from None
    missing = [name for name in SNIPPET_ARRAYS if name not in arrays]
    if missing:
        raise DataError(f"{source}: missing arrays {missing} (expected {list(SNIPPET_ARRAYS)})")
    scores = check_snippet_array(arrays["snippet_scores"], "snippet_scores", str(source))
    weights = check_selection(arrays["selection"], scores.shape, str(source))
    if arrays["feature_fps"].shape != () or arrays["classes"].ndim != 1:
        raise DataError(f"{source}: feature_fps must be a scalar and classes a 1-D string array")
    labels = check_class_names(arrays["classes"].tolist(), scores.shape[1], str(source))
    fps = check_feature_fps(float(arrays["feature_fps"]), str(source))
    return SnippetOutputs(scores, weights, fps, labels)


def check_snippet_array(array: np.ndarray, name: str, video: str) -> np.ndarray:
    """`array` as float64 `[T, C]` with T >= 1; DataError naming the video unless so and finite."""
    values = np.asarray(array, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] == 0 or values.shape[1] == 0:
        raise DataError(
            f"video {video!r}: {name} must be [snippets, classes] with at least one snippet; "
            f"got shape {list(values.shape)}"
        )
    if not np.all(np.isfinite(values)):
        raise DataError(f"video {video!r}: {name} holds NaN or infinite values")
    return values


def check_selection(selection: np.ndarray, shape: tuple[int, int], video: str) -> np.ndarray:
    """Selection weights as float64 `[T, C]` or `[T, 1]` matching `shape`, finite and >= 0."""
    weights = check_snippet_array(selection, "selection", video)
    if weights.shape[0] != shape[0] or weights.shape[1] not in (1, shape[1]):
        raise DataError(
            f"video {video!r}: selection must be [{shape[0]}, {shape[1]}] or [{shape[0]}, 1] "
            f"to match the scores; got {list(weights.shape)}"
        )
    if np.any(weights < 0):
        raise DataError(f"video {video!r}: selection holds negative weights")
    return weights


def check_video_scores(scores: np.ndarray, num_classes: int, video: str) -> np.ndarray:
    """Video scores as float64 `[C]`; DataError naming the video unless that shape and finite."""
    values = np.asarray(scores, dtype=np.float64)
    if values.shape != (num_classes,):
        raise DataError(
            f"video {video!r}: video scores must have shape [{num_classes}]; "
            f"got {list(values.shape)}"
        )
    if not np.all(np.isfinite(values)):
        raise DataError(f"video {video!r}: video scores hold NaN or infinite values")
    return values


def check_class_names(classes: Sequence[str], num_classes: int, where: str) -> tuple[str, ...]:
    """`classes` as a tuple of `num_classes` strings; DataError naming `where` otherwise."""
    labels = tuple(classes)
    if len(labels) != num_classes or not all(isinstance(label, str) for label in labels):
        raise DataError(f"{where}: expected {num_classes} class names (strings); got {len(labels)}")
    return labels


def check_feature_fps(feature_fps: float, where: str | None = None) -> float:
    """`feature_fps` as a float; DataError (naming `where` when given) unless a positive finite
    number. The one check of a feature rate, for files, arrays and detection options."""
    if not is_real(feature_fps, 0, low_open=True):
        prefix = "" if where is None else f"{where}: "
        raise DataError(f"{prefix}feature_fps must be a positive number; got {feature_fps!r}")
    return float(feature_fps)
