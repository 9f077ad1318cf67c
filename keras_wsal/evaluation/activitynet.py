"""Per-class detection AP with the semantics of ActivityNet's `Evaluation/eval_detection.py`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from keras_wsal.evaluation.average_precision import interpolated_average_precision, rank_by_score
from keras_wsal.evaluation.tiou import segment_tiou


def activitynet_average_precision(
    ground_truth: Mapping[str, np.ndarray],
    detections: Mapping[str, tuple[np.ndarray, np.ndarray]],
    tiou_thresholds: Sequence[float],
) -> np.ndarray:
    """AP of one class at each tIoU threshold, as ActivityNet's eval_detection.py computes it.

    Mirrors `compute_average_precision_detection` of ActivityNet's Evaluation/eval_detection.py:

    1. All detections of the class are ranked by score, highest first. Equal scores keep the order
       of `detections` (video by video, then within a video); the official
       `argsort()[::-1]` leaves their order to NumPy's sort (for short lists: reversed input order),
       and AP depends on it.
    2. Walking down the ranking, a detection is a true positive at threshold θ when some
       ground-truth segment of the same video is not yet matched (at θ) and has tIoU >= θ with it;
       it then matches the one of highest tIoU among those (equal tIoU: the first in annotation
       order; the official code takes them in reverse `argsort` order). Every other detection is a
       false positive: duplicates of a matched segment, detections below θ, detections in a video
       with no ground truth of this class.
    3. AP is the area under the monotone (all-points interpolated) precision-recall curve, recall
       counted over every ground-truth segment of the class (`interpolated_average_precision`).

    Args:
        ground_truth: video → float `[G, 2]` ground-truth segments of the class (videos without any
            may be absent). At least one segment in all.
        detections: video → (`[D, 2]` segments, `[D]` scores) of the class, in file order.
        tiou_thresholds: K thresholds in (0, 1].

    Returns:
        float64 `[K]` APs; all 0 when there is no detection.
    """
    thresholds = np.asarray(tiou_thresholds, dtype=np.float64)
    num_positives = sum(len(segments) for segments in ground_truth.values())
    videos = [video for video, (spans, _) in detections.items() for _ in range(len(spans))]
    segments = np.concatenate([s for s, _ in detections.values()] or [np.zeros((0, 2))])
    scores = np.concatenate([s for _, s in detections.values()] or [np.zeros(0)])
    order = rank_by_score(scores)
    hits = np.zeros((thresholds.size, order.size), dtype=bool)
    ranks_by_video: dict[str, list[int]] = {}
    for rank, index in enumerate(order):
        ranks_by_video.setdefault(videos[index], []).append(rank)
    # Matches in one video never touch another video's ground truth, so each video is matched
    # alone, its detections visited in global rank order.
    for video, ranks in ranks_by_video.items():
        video_ground_truth = ground_truth.get(video)
        if video_ground_truth is None or len(video_ground_truth) == 0:
            continue
        tiou = segment_tiou(segments[order[ranks]], video_ground_truth)
        matched = np.zeros((thresholds.size, len(video_ground_truth)), dtype=bool)
        for row, rank in enumerate(ranks):
            candidates = np.where(
                matched | (tiou[row][None, :] < thresholds[:, None]), -np.inf, tiou[row][None, :]
            )
            best = np.argmax(candidates, axis=1)
            found = np.isfinite(candidates[np.arange(thresholds.size), best])
            hits[found, rank] = True
            matched[np.flatnonzero(found), best[found]] = True
    return np.array(
        [interpolated_average_precision(row, num_positives) for row in hits], dtype=np.float64
    )
