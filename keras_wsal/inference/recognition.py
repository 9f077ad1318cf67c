"""Weakly supervised recognition (WSR): video-level class scores from per-snippet outputs.

All functions work on one video's NumPy arrays (padding already cut off: T real snippets).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from keras_wsal.errors import DataError
from keras_wsal.formats.snippet_outputs import (
    check_selection,
    check_snippet_array,
    check_video_scores,
)

VIDEO_SCORE_METHODS = ("top_k", "attention", "model")


def top_k_pooling(snippet_scores: np.ndarray, k: int = 20, video: str = "video") -> np.ndarray:
    """Per class, the mean of the k highest snippet scores (UntrimmedNet §4, k = 20).

        v_c = (1 / k') · Σ_{t ∈ top-k'(s_{:, c})} s_{t, c},   k' = min(k, T)

    Args:
        snippet_scores: float `[T, C]` per-snippet class scores (probabilities), T >= 1.
        k: the number of snippets averaged (>= 1), clipped to T.
        video: the video's name, for error messages.

    Returns:
        float64 `[C]`. Equal scores give that score; T = 1 gives the only row.

    Raises:
        DataError: an empty or non-finite array, or not `[T, C]` (naming the video).
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an int >= 1; got {k!r}")
    scores = check_snippet_array(snippet_scores, "snippet_scores", video)
    kept = min(int(k), scores.shape[0])
    return np.mean(np.sort(scores, axis=0)[-kept:], axis=0)


def attention_pooling(
    snippet_scores: np.ndarray, selection: np.ndarray, video: str = "video"
) -> np.ndarray:
    """The selection-weighted mean of the snippet scores (UntrimmedNet §4 "weighted sum").

        v_c = Σ_t a_{t,c} · s_{t,c} / Σ_t a_{t,c}

    UntrimmedNet's soft selection (eq. 4) weighs snippets by attention, a softmax over snippets,
    so the denominator is 1; §4 aggregates the snippets' recognition scores this way at test
    time. The division makes unnormalised weights (WSGN's g) give a weighted mean.

    Args:
        snippet_scores: float `[T, C]`.
        selection: float `[T, C]` or `[T, 1]` non-negative weights.
        video: the video's name, for error messages.

    Returns:
        float64 `[C]`.

    Raises:
        DataError: shapes that disagree, NaN/inf, negative weights, or a class whose weights sum
            to 0 (no snippet selected: the mean is undefined), naming the video.
    """
    scores = check_snippet_array(snippet_scores, "snippet_scores", video)
    weights = check_selection(selection, scores.shape, video)
    totals = np.sum(np.broadcast_to(weights, scores.shape), axis=0)
    if np.any(totals <= 0):
        raise DataError(f"video {video!r}: the selection weights of some class sum to 0")
    return np.sum(weights * scores, axis=0) / totals


def video_scores(
    snippet_scores: np.ndarray,
    selection: np.ndarray | None = None,
    model_video_scores: np.ndarray | None = None,
    method: str = "top_k",
    k: int = 20,
    video: str = "video",
) -> np.ndarray:
    """Video-level class scores of one video by the chosen `method`.

    - "top_k": `top_k_pooling(snippet_scores, k)` (UntrimmedNet, k = 20);
    - "attention": `attention_pooling(snippet_scores, selection)`;
    - "model": `model_video_scores` as given (the model's own `video_scores` output).

    Args:
        snippet_scores: float `[T, C]`.
        selection: `[T, C]` or `[T, 1]`, needed by "attention".
        model_video_scores: `[C]`, needed by "model".
        method: one of `VIDEO_SCORE_METHODS`.
        k: top-k's k.
        video: the video's name, for error messages.

    Returns:
        float64 `[C]`.
    """
    if method == "top_k":
        return top_k_pooling(snippet_scores, k, video)
    if method == "attention":
        if selection is None:
            raise ValueError("method 'attention' needs `selection`")
        return attention_pooling(snippet_scores, selection, video)
    if method == "model":
        if model_video_scores is None:
            raise ValueError("method 'model' needs `model_video_scores`")
        num_classes = check_snippet_array(snippet_scores, "snippet_scores", video).shape[1]
        return check_video_scores(model_video_scores, num_classes, video)
    raise ValueError(f"method must be one of {', '.join(VIDEO_SCORE_METHODS)}; got {method!r}")


def ranked_labels(
    video_scores: np.ndarray, classes: Sequence[str], top: int | None = 5
) -> list[tuple[str, float]]:
    """The `top` labels of highest video score, best first (equal scores: class order).

    Args:
        video_scores: float `[C]`.
        classes: the C class names.
        top: how many to return (None: all).

    Returns:
        `[(label, score), ...]`.
    """
    scores = check_video_scores(video_scores, len(classes), "video")
    order = np.argsort(-scores, kind="stable")[:top]
    return [(classes[index], float(scores[index])) for index in order]


def recognition_results(scores_by_video: Mapping[str, np.ndarray], classes: Sequence[str]) -> dict:
    """ActivityNet classification results: `{"results": {VIDEO: [{"label", "score"}, ...]}}`.

    Every class is listed for every video, best first; `evaluate_recognition` reads this.

    Args:
        scores_by_video: video → float `[C]` video scores.
        classes: the C class names.

    Returns:
        The JSON-serialisable dict.
    """
    return {
        "results": {
            video: [
                {"label": label, "score": score}
                for label, score in ranked_labels(
                    check_video_scores(scores, len(classes), video), classes, top=None
                )
            ]
            for video, scores in scores_by_video.items()
        }
    }
