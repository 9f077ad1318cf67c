"""Weakly supervised detection (WSD): per-snippet scores → temporal segments → result JSON.

All functions work on one video's NumPy arrays (padding already cut off: T real snippets).
Snippet t covers [t / feature_fps, (t + 1) / feature_fps) seconds, so a run of snippets
[s, e) becomes the segment [s / feature_fps, e / feature_fps].

The pipeline of `detect_segments`, shared by both papers' rules:

1. classes to localise: from the video-level scores (`select_classes`: the `class_top_k` best,
   then those >= `class_threshold`; every class when no video scores are given);
2. per class and threshold θ: snippets with score >= θ (or >= θ · the class's maximum over the
   video, `relative=True`), and eligible (UntrimmedNet: attention >= 1e-4), grouped into runs of
   consecutive snippets (`group_snippets`); runs shorter than `min_duration` seconds dropped;
3. several thresholds: their segments are unioned (the same segment found twice is kept once);
4. each segment scored (`segment_score`: the mean inner score, or the outer-inner contrast),
   optionally fused with the class's video score;
5. optional temporal NMS per class (`temporal_nms`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from keras_wsal.errors import DataError
from keras_wsal.evaluation.tiou import segment_tiou
from keras_wsal.formats.snippet_outputs import (
    check_feature_fps,
    check_snippet_array,
    check_video_scores,
)
from keras_wsal.utils.arguments import is_int, is_real

SEGMENT_SCORES = ("mean", "outer_inner", "max")
THRESHOLD_MODES = ("absolute", "relative", "range")
VIDEO_SCORE_FUSIONS = ("none", "multiply", "add")


@dataclass(frozen=True)
class PostProcessing:
    """How classes are chosen and segments are filtered, scored and suppressed.

    Attributes:
        class_threshold: localise the classes whose video score is >= this (None: no threshold).
            Default 0.1: video scores of both papers' models are probabilities over classes.
        class_top_k: localise at most the k classes of highest video score (None: no limit).
        min_duration: drop segments shorter than this many seconds (WSGN: 1 s; default 0).
        min_snippets: drop segments of fewer snippets than this (W-TALC: 2; default 1).
        segment_score: "mean" — the mean detection score inside the segment; "max" — its
            maximum (W-TALC); "outer_inner" —
            that mean minus the mean over the flanking snippets, `outer_ratio` of the segment's
            length (at least one snippet) on each side, clipped to the video (AutoLoc's
            outer-inner contrast; a segment spanning the whole video has no flank, outer mean 0).
        video_score_fusion: "none"; "multiply" — segment score × the class's video score;
            "add" — segment score + `video_score_weight` × the class's video score (W-TALC: 0.7).
            Needs video scores.
        video_score_weight: the weight of the video score in "add" fusion (1).
        nms_threshold: per class, suppress a segment whose tIoU with a higher-scored kept
            segment is > this (None: no NMS).
        outer_ratio: the flank length as a fraction of the segment length (0.25).
        max_detections: keep at most this many segments per video, the highest scored (None: all).
    """

    class_threshold: float | None = 0.1
    class_top_k: int | None = None
    min_duration: float = 0.0
    segment_score: str = "mean"
    video_score_fusion: str = "none"
    nms_threshold: float | None = None
    outer_ratio: float = 0.25
    min_snippets: int = 1
    video_score_weight: float = 1.0
    max_detections: int | None = None

    def __post_init__(self):
        if self.class_threshold is not None and not math.isfinite(self.class_threshold):
            raise ValueError(
                f"class_threshold must be a finite number or None; got {self.class_threshold!r}"
            )
        if self.class_top_k is not None and not is_int(self.class_top_k, 1):
            raise ValueError(f"class_top_k must be an int >= 1 or None; got {self.class_top_k!r}")
        if not (math.isfinite(self.min_duration) and self.min_duration >= 0):
            raise ValueError(f"min_duration must be seconds >= 0; got {self.min_duration!r}")
        if self.segment_score not in SEGMENT_SCORES:
            raise ValueError(
                f"segment_score must be one of {SEGMENT_SCORES}; got {self.segment_score!r}"
            )
        if self.video_score_fusion not in VIDEO_SCORE_FUSIONS:
            raise ValueError(
                f"video_score_fusion must be one of {VIDEO_SCORE_FUSIONS}; "
                f"got {self.video_score_fusion!r}"
            )
        if self.nms_threshold is not None and not 0.0 <= self.nms_threshold <= 1.0:
            raise ValueError(f"nms_threshold must be in [0, 1] or None; got {self.nms_threshold!r}")
        if not (math.isfinite(self.outer_ratio) and self.outer_ratio > 0):
            raise ValueError(f"outer_ratio must be > 0; got {self.outer_ratio!r}")
        for name in ("min_snippets", "max_detections"):
            value = getattr(self, name)
            if (value is not None or name == "min_snippets") and not is_int(value, 1):
                raise ValueError(
                    f"{name} must be an int >= 1{' or None' if name == 'max_detections' else ''}; "
                    f"got {value!r}"
                )
        if not math.isfinite(self.video_score_weight):
            raise ValueError(
                f"video_score_weight must be a finite number; got {self.video_score_weight!r}"
            )


def select_classes(
    video_scores: np.ndarray, class_threshold: float | None = 0.1, class_top_k: int | None = None
) -> np.ndarray:
    """Indices of the classes to localise, best video score first (equal scores: class order).

    The `class_top_k` highest classes (all when None), of which those with score >=
    `class_threshold` (all when None).
    """
    scores = np.asarray(video_scores, dtype=np.float64)
    order = np.argsort(-scores, kind="stable")[:class_top_k]
    if class_threshold is not None:
        order = order[scores[order] >= class_threshold]
    return order


def group_snippets(active: np.ndarray) -> list[tuple[int, int]]:
    """Runs of consecutive True snippets as `(start, end)` snippet indices, end exclusive."""
    edges = np.diff(np.concatenate([[0], np.asarray(active, dtype=np.int8), [0]]))
    return list(
        zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True)
    )


def outer_inner_score(curve: np.ndarray, start: int, end: int, outer_ratio: float = 0.25) -> float:
    """Mean of `curve[start:end]` minus the mean of its flanks (AutoLoc's outer-inner contrast).

    The flanks are `n = max(1, round(outer_ratio · (end - start)))` snippets before `start` and
    after `end`, clipped to the video; without any flank snippet the outer mean is 0.
    """
    flank = max(1, math.floor(outer_ratio * (end - start) + 0.5))
    outer = np.concatenate([curve[max(0, start - flank) : start], curve[end : end + flank]])
    inner = float(np.mean(curve[start:end]))
    return inner - (float(np.mean(outer)) if outer.size else 0.0)


def temporal_nms(
    segments: np.ndarray, scores: np.ndarray, threshold: float, max_keep: int | None = None
) -> np.ndarray:
    """Greedy temporal non-maximum suppression.

    Visit segments by decreasing score (equal scores: input order); keep one unless its tIoU with
    an already kept segment is > `threshold`; stop once `max_keep` are kept (the first `max_keep`
    kept do not depend on the later ones). Each kept segment is compared with all N at once, so
    the cost is O(N · K) for K kept, never an N x N matrix.

    Args:
        segments: float `[N, 2]`.
        scores: float `[N]`.
        threshold: tIoU above which a lower-scored segment is suppressed.
        max_keep: the most segments to keep (None: no limit).

    Returns:
        int `[K]` indices of the kept segments, highest score first.
    """
    segments = np.asarray(segments, dtype=np.float64).reshape(-1, 2)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    suppressed = np.zeros(len(segments), dtype=bool)
    kept: list[int] = []
    for index in order:
        if suppressed[index]:
            continue
        kept.append(int(index))
        if max_keep is not None and len(kept) >= max_keep:
            break
        suppressed |= segment_tiou(segments[index : index + 1], segments)[0] > threshold
    return np.array(kept, dtype=np.int64)


def detect_segments(
    detection_scores: np.ndarray,
    feature_fps: float,
    classes: Sequence[str],
    *,
    thresholds: float | Sequence[float] = 0.5,
    relative: bool | str = False,
    eligible: np.ndarray | None = None,
    video_scores: np.ndarray | None = None,
    post: PostProcessing | None = None,
    video: str = "video",
) -> list[dict]:
    """Segments of one video from its per-snippet detection scores (the module's pipeline).

    Args:
        detection_scores: float `[T, C]`, the curve that is thresholded and that scores segments
            (a model's "detection_scores": UntrimmedNet's snippet scores, WSGN's g ⊙ softmax(h)).
        feature_fps: snippets per second.
        classes: the C class names.
        thresholds: one threshold or several, whose segments are unioned. Absolute: a snippet is
            active when its score >= θ. `relative=True`: when its score >= θ · (the class's
            maximum over the video), θ in (0, 1]; a class whose maximum is <= 0 gives nothing.
            `relative="range"`: when its score >= min + θ · (max - min) of the class over the
            video (W-TALC's rule with θ = 0.5), θ in (0, 1].
        relative: False / "absolute", True / "relative", or "range"; see `thresholds`.
        eligible: optional bool `[T, C]` or `[T, 1]`: only these snippets may be active.
        video_scores: optional `[C]` video-level scores; they choose the classes (see
            `PostProcessing`) and feed `video_score_fusion`.
        post: `PostProcessing` options (default `PostProcessing()`).
        video: the video's name, for error messages.

    Returns:
        `[{"label": str, "score": float, "segment": [start_s, end_s]}, ...]`, highest score first
        (equal scores: class order, then time). Empty when no snippet passes. With T = 1 a
        segment is at most the one snippet; constant scores give one segment spanning the video
        (or none).

    Raises:
        DataError: arrays of the wrong shape or with NaN/inf (naming the video).
        ValueError: a bad option.
    """
    post = PostProcessing() if post is None else post
    scores = check_snippet_array(detection_scores, "detection_scores", video)
    num_snippets, num_classes = scores.shape
    if len(classes) != num_classes:
        raise DataError(f"video {video!r}: {num_classes} score columns but {len(classes)} classes")
    check_feature_fps(feature_fps)
    mode = _threshold_mode(relative)
    levels = _check_thresholds(thresholds, mode != "absolute")
    allowed = np.ones((num_snippets, 1), dtype=bool) if eligible is None else np.asarray(eligible)
    if (
        allowed.ndim != 2
        or allowed.shape[0] != num_snippets
        or allowed.shape[1] not in (1, num_classes)
    ):
        raise DataError(
            f"video {video!r}: eligible must be [{num_snippets}, {num_classes}] or "
            f"[{num_snippets}, 1]; got {list(allowed.shape)}"
        )
    allowed = np.broadcast_to(allowed.astype(bool), scores.shape)
    if video_scores is not None:
        class_scores = check_video_scores(video_scores, num_classes, video)
        chosen = select_classes(class_scores, post.class_threshold, post.class_top_k)
    elif post.video_score_fusion != "none":
        raise ValueError(f"video_score_fusion={post.video_score_fusion!r} needs video_scores")
    else:
        class_scores, chosen = None, np.arange(num_classes)
    min_snippets = max(post.min_duration * feature_fps - 1e-9, post.min_snippets)
    found: dict[tuple[int, int, int], float] = {}
    for class_index in chosen.tolist():
        video_score = None if class_scores is None else float(class_scores[class_index])
        segments = _class_segments(
            scores[:, class_index], allowed[:, class_index], levels, mode, min_snippets
        )
        for start, end in segments:
            score = _segment_score(scores[:, class_index], start, end, post, video_score)
            found[(class_index, start, end)] = score
    if post.nms_threshold is not None:
        # Per class, the first max_detections kept are all the global cap can take from it.
        found = _suppress(found, post.nms_threshold, post.max_detections)
    ranked = sorted(sorted(found), key=lambda key: -found[key])[: post.max_detections]
    return [
        {
            "label": classes[class_index],
            "score": found[(class_index, start, end)],
            "segment": [start / feature_fps, end / feature_fps],
        }
        for class_index, start, end in ranked
    ]


def _threshold_mode(relative: bool | str) -> str:
    if relative is True or relative is False:
        return "relative" if relative else "absolute"
    if relative not in THRESHOLD_MODES:
        raise ValueError(
            f"relative must be True, False or one of {THRESHOLD_MODES}; got {relative!r}"
        )
    return relative


def _class_segments(
    curve: np.ndarray,
    allowed: np.ndarray,
    levels: list[float],
    mode: str,
    min_snippets: float,
) -> list[tuple[int, int]]:
    """The runs of one class over all thresholds, each once, at least `min_snippets` long."""
    peak, low = float(curve.max()), float(curve.min())
    if mode == "relative" and peak <= 0:
        return []
    runs: list[tuple[int, int]] = []
    seen: set[tuple[int, int]] = set()  # `runs` keeps the order; the set makes the check O(1)
    for level in levels:
        if mode == "relative":
            cut = level * peak
        elif mode == "range":
            cut = low + level * (peak - low)
        else:
            cut = level
        active = (curve >= cut) & allowed
        for start, end in group_snippets(active):
            if end - start >= min_snippets and (start, end) not in seen:
                seen.add((start, end))
                runs.append((start, end))
    return runs


def _segment_score(
    curve: np.ndarray, start: int, end: int, post: PostProcessing, video_score: float | None
) -> float:
    if post.segment_score == "mean":
        score = float(np.mean(curve[start:end]))
    elif post.segment_score == "max":
        score = float(np.max(curve[start:end]))
    else:
        score = outer_inner_score(curve, start, end, post.outer_ratio)
    if post.video_score_fusion == "multiply":
        score *= video_score
    elif post.video_score_fusion == "add":
        score += post.video_score_weight * video_score
    return score


def _suppress(
    found: dict[tuple[int, int, int], float], threshold: float, max_keep: int | None
) -> dict:
    """`temporal_nms` per class over `{(class, start, end): score}`, at most `max_keep` each."""
    by_class: dict[int, list] = {}
    for key in sorted(found):
        by_class.setdefault(key[0], []).append(key)
    kept = {}
    for keys in by_class.values():
        spans = np.array([[start, end] for _, start, end in keys], dtype=np.float64)
        scores = np.array([found[key] for key in keys])
        for index in temporal_nms(spans, scores, threshold, max_keep):
            kept[keys[index]] = found[keys[index]]
    return kept


def _check_thresholds(thresholds: float | Sequence[float], relative: bool) -> list[float]:
    values = [thresholds] if isinstance(thresholds, (int, float, np.number)) else list(thresholds)
    if not values:
        raise ValueError("thresholds must hold at least one value")
    for value in values:
        if not is_real(value):
            raise ValueError(f"thresholds must be finite numbers; got {value!r}")
        if relative and not 0.0 < value <= 1.0:
            raise ValueError(f"relative thresholds must be in (0, 1]; got {value!r}")
    return [float(value) for value in values]
