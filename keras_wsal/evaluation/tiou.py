"""Temporal intersection over union (tIoU) of segments."""

from __future__ import annotations

import numpy as np


def segment_tiou(segments_a: np.ndarray, segments_b: np.ndarray) -> np.ndarray:
    """Pairwise temporal IoU of two sets of `[start, end]` segments.

        tIoU(a, b) = |a ∩ b| / |a ∪ b|,  |a ∩ b| = max(0, min(a_e, b_e) - max(a_s, b_s)),
        |a ∪ b| = (a_e - a_s) + (b_e - b_s) - |a ∩ b|

    This is ActivityNet's `segment_iou` (Evaluation/utils.py) and, for segments that intersect,
    THUMOS14's `intervaloverlapvalseconds` (which divides by the span from the earliest start to
    the latest end, equal to the union when the segments intersect, and returns 0 otherwise).

    Edge: a pair with an empty union (two zero-length segments at the same time) has tIoU 0, so a
    zero-length segment never matches anything; ActivityNet's code divides 0 by 0 there and its NaN
    happens to pass as a match.

    Args:
        segments_a: float `[N, 2]`.
        segments_b: float `[M, 2]`.

    Returns:
        float64 `[N, M]` in [0, 1].
    """
    a = np.asarray(segments_a, dtype=np.float64).reshape(-1, 2)
    b = np.asarray(segments_b, dtype=np.float64).reshape(-1, 2)
    intersection = np.clip(
        np.minimum(a[:, None, 1], b[None, :, 1]) - np.maximum(a[:, None, 0], b[None, :, 0]),
        0.0,
        None,
    )
    union = (a[:, 1] - a[:, 0])[:, None] + (b[:, 1] - b[:, 0])[None, :] - intersection
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, intersection / union, 0.0)
