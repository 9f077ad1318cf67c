"""Per-class detection AP with the semantics of the THUMOS14 toolkit (`TH14evalDet.m`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from keras_wsal.evaluation.average_precision import (
    precision_at_hits_average_precision,
    rank_by_score,
)
from keras_wsal.evaluation.tiou import segment_tiou


def thumos14_average_precision(
    ground_truth: Mapping[str, np.ndarray],
    ambiguous: Mapping[str, np.ndarray],
    detections: Mapping[str, tuple[np.ndarray, np.ndarray]],
    tiou_thresholds: Sequence[float],
) -> np.ndarray:
    """AP of one class at each tIoU threshold, as the THUMOS14 toolkit's `TH14eventdetpr`.

    The toolkit's order of operations, mirrored step by step (per threshold θ):

    1. Videos are visited in sorted name order (MATLAB `unique`).
    2. In a video, the class's detections are sorted by score, highest first (MATLAB's stable
       `sort(-conf)`: equal scores keep their file order); all start "free".
    3. The video's ground-truth segments of the class are visited in annotation order; each takes
       the free detection of maximum overlap (equal overlaps: the best-ranked one, MATLAB `max`),
       and keeps it, as a true positive, only when that overlap > θ (strict). Overlap is the tIoU
       (`intervaloverlapvalseconds`: 0 unless the intersection has positive length).
    4. Free detections that intersect (positive length) any "Ambiguous" interval of the video are
       dropped: neither true nor false positives. The other free detections are false positives.
    5. The kept detections of all videos, concatenated in that order, are sorted by score again
       (stable), and AP = Σ precision at the true positives / number of ground-truth segments of
       the class (`prap`, not interpolated).

    A class with no detection scores 0 (the toolkit's "no instance, skip").

    Args:
        ground_truth: video → float `[G, 2]` ground-truth segments of the class, in annotation
            order (videos without any may be absent). At least one segment in all.
        ambiguous: video → float `[A, 2]` "Ambiguous" intervals (videos without any may be absent).
        detections: video → (`[D, 2]` segments, `[D]` scores) of the class, in file order.
        tiou_thresholds: K thresholds in (0, 1].

    Returns:
        float64 `[K]` APs.
    """
    num_positives = sum(len(segments) for segments in ground_truth.values())
    videos = []  # per video, in sorted name order: its ranked scores, overlaps and Ambiguous mask
    for video in sorted(detections):
        segments, scores = detections[video]
        if len(scores) == 0:
            continue
        order = rank_by_score(scores)
        segments = segments[order]
        overlap = segment_tiou(ground_truth.get(video, np.zeros((0, 2))), segments)
        on_ambiguous = (
            segment_tiou(ambiguous.get(video, np.zeros((0, 2))), segments).sum(axis=0) > 0
        )
        videos.append((scores[order], overlap, on_ambiguous))
    return np.array(
        [
            _average_precision(videos, float(threshold), num_positives)
            for threshold in tiou_thresholds
        ],
        dtype=np.float64,
    )


def _average_precision(videos: list, threshold: float, num_positives: int) -> float:
    if not videos:
        return 0.0
    kept_scores, kept_hits = [], []
    for scores, overlap, on_ambiguous in videos:
        free = np.ones(len(scores), dtype=bool)
        for row in overlap:
            best = int(np.argmax(np.where(free, row, -np.inf)))
            if free[best] and row[best] > threshold:
                free[best] = False
        keep = ~free | ~on_ambiguous
        kept_scores.append(scores[keep])
        kept_hits.append(~free[keep])
    scores = np.concatenate(kept_scores)
    hits = np.concatenate(kept_hits)
    return precision_at_hits_average_precision(hits[rank_by_score(scores)], num_positives)
