"""Each paper's detection rule on bare arrays, for users who compose the layers themselves.

`untrimmednet_detections` and `wsgn_detections` run `DetectionRule.named("untrimmednet")` and
`DetectionRule.named("wsgn")` on NumPy arrays instead of a model's `VideoOutputs`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from keras_wsal.inference.detection import PostProcessing
from keras_wsal.inference.detection_rule import DetectionRule


def untrimmednet_detections(
    snippet_scores: np.ndarray,
    selection: np.ndarray,
    feature_fps: float,
    classes: Sequence[str],
    *,
    video_scores: np.ndarray | None = None,
    attention_threshold: float | None = None,
    score_threshold: float | Sequence[float] | None = None,
    post: PostProcessing | None = None,
    video: str = "video",
) -> list[dict]:
    """UntrimmedNet's detection rule (Wang et al., CVPR 2017, §4 "Action detection") on arrays.

    `DetectionRule.named("untrimmednet")`: snippets whose selection (attention) weight is below
    `attention_threshold` (1e-4) are background; the others whose class score is >=
    `score_threshold` (0.5, absolute; several are unioned) are grouped into segments, scored on
    `snippet_scores`. `video_scores` (optional `[C]`) choose the classes (`post`).

    Returns:
        The detections, as `detect_segments`.
    """
    changes = {"attention_threshold": attention_threshold, "thresholds": score_threshold}
    outputs = _ArrayOutputs(video, video_scores, snippet_scores, selection, snippet_scores)
    return _named_rule_on("untrimmednet", post, changes, outputs, feature_fps, classes)


def wsgn_detections(
    detection_scores: np.ndarray,
    feature_fps: float,
    classes: Sequence[str],
    *,
    video_scores: np.ndarray | None = None,
    thresholds: float | Sequence[float] | None = None,
    relative: bool | None = None,
    post: PostProcessing | None = None,
    video: str = "video",
) -> list[dict]:
    """WSGN's detection rule (Fernando et al., WACV 2020, §4.4) on arrays.

    `DetectionRule.named("wsgn")`: threshold the per-frame score g ⊙ softmax(h_cls), group
    consecutive snippets above it, keep segments at least one second long (`post`'s
    `min_duration`). The paper gives no threshold value; the default is relative, half of each
    class's maximum over the video. `video_scores` (optional `[C]`) choose the classes.

    Returns:
        The detections, as `detect_segments`.
    """
    mode = None if relative is None else ("relative" if relative else "absolute")
    changes = {"thresholds": thresholds, "threshold_mode": mode}
    outputs = _ArrayOutputs(video, video_scores, detection_scores, None, detection_scores)
    return _named_rule_on("wsgn", post, changes, outputs, feature_fps, classes)


def _named_rule_on(name, post, changes, outputs, feature_fps, classes) -> list[dict]:
    """`DetectionRule.named(name)` with `post` and the non-None `changes`, on `outputs`."""
    rule = DetectionRule.named(name)
    given = {key: value for key, value in changes.items() if value is not None}
    return dataclasses.replace(rule, post=rule.post if post is None else post, **given).detect(
        outputs, feature_fps, classes
    )


@dataclasses.dataclass(frozen=True)
class _ArrayOutputs:
    """The fields of `VideoOutputs` a rule reads, from bare arrays."""

    video: str
    video_scores: np.ndarray | None
    snippet_scores: np.ndarray
    selection: np.ndarray | None
    detection_scores: np.ndarray
