"""Average precision of a ranked list of hits, the two ways the benchmarks compute it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from keras_wsal.errors import DataError


def rank_by_score(scores: np.ndarray) -> np.ndarray:
    """Indices that sort `scores` from highest to lowest; equal scores keep their input order.

    This is MATLAB's `sort(-conf)` (stable), which the THUMOS14 and Charades toolkits use.
    `-inf` (a missing prediction in those toolkits) ranks last.
    """
    return np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")


def interpolated_average_precision(hits: np.ndarray, num_positives: int) -> float:
    """All-points interpolated AP (VOC 2011), ActivityNet's `interpolated_prec_rec`.

    With precision p_n and recall r_n after the n-th ranked item, p̂_n = max_{m >= n} p_m (the
    monotone envelope, with p = 0 appended at recall 1), and

        AP = Σ_n (r_n - r_{n-1}) · p̂_n      (r_0 = 0)

    Args:
        hits: bool `[N]`, whether each item, best-ranked first, is a true positive.
        num_positives: the number of ground-truth positives (> 0), matched or not.

    Returns:
        AP in [0, 1]; 0 for an empty list.
    """
    hits = np.asarray(hits, dtype=bool)
    true_positives = np.cumsum(hits, dtype=np.float64)
    precision = true_positives / np.arange(1, hits.size + 1)
    recall = true_positives / num_positives
    envelope = np.concatenate([[0.0], precision, [0.0]])
    envelope = np.maximum.accumulate(envelope[::-1])[::-1]
    recall = np.concatenate([[0.0], recall, [1.0]])
    steps = np.flatnonzero(recall[1:] != recall[:-1]) + 1
    return float(np.sum((recall[steps] - recall[steps - 1]) * envelope[steps]))


def precision_at_hits_average_precision(hits: np.ndarray, num_positives: int) -> float:
    """Non-interpolated AP of the THUMOS toolkits (`prap` of TH14evalDet, `THUMOSeventclspr`).

        AP = (1 / num_positives) · Σ_{n : item n is a hit} precision@n

    Positives that never appear in the list (missed ground truth) contribute 0.

    Args:
        hits: bool `[N]`, whether each item, best-ranked first, is a true positive.
        num_positives: the number of ground-truth positives (> 0).

    Returns:
        AP in [0, 1]; 0 for an empty list.
    """
    hits = np.asarray(hits, dtype=bool)
    precision = np.cumsum(hits, dtype=np.float64) / np.arange(1, hits.size + 1)
    return float(np.sum(precision[hits]) / num_positives)


@dataclass(frozen=True)
class MeanAveragePrecision:
    """A mean over classes of a per-class AP (video-level recognition, Charades localisation).

    Attributes:
        metric: what was ranked ("recognition": videos; "charades_localization": time points).
        mAP: the mean of `per_class_AP` (a fraction in [0, 1]).
        per_class_AP: label → AP, for every class with at least one positive.
    """

    metric: str
    mAP: float
    per_class_AP: dict[str, float]

    def to_dict(self) -> dict:
        """`{"metric", "mAP", "per_class_AP"}`, JSON-serialisable."""
        return {"metric": self.metric, "mAP": self.mAP, "per_class_AP": dict(self.per_class_AP)}


def mean_average_precision(
    metric: str, labels: list[str], scores: np.ndarray, positives: np.ndarray
) -> MeanAveragePrecision:
    """Non-interpolated AP per class (`THUMOSeventclspr`) over the rows, and their mean.

    Args:
        metric: the name stored in the result.
        labels: the C class names of the columns.
        scores: float `[N, C]`, the ranked items' scores (`-inf`: no prediction, ranked last).
        positives: bool `[N, C]`, whether each item holds each class.

    Returns:
        The `MeanAveragePrecision` over the classes with at least one positive.

    Raises:
        DataError: no class has a positive.
    """
    per_class = {}
    for column, label in enumerate(labels):
        num_positives = int(positives[:, column].sum())
        if num_positives:
            hits = positives[rank_by_score(scores[:, column]), column]
            per_class[label] = precision_at_hits_average_precision(hits, num_positives)
    if not per_class:
        raise DataError(f"{metric}: no class has a positive item, nothing to evaluate")
    return MeanAveragePrecision(metric, float(np.mean(list(per_class.values()))), per_class)
