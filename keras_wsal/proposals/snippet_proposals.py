"""Clip proposals of a video known only by its snippet features (UntrimmedNet §3.1 on features).

A clip is a range of snippets `[begin, end)`. The paper's clips are `K = 300` frames, 10 s of
THUMOS14's 30 fps videos, so on features a clip is `clip_snippets = round(10 s × feature_fps)`
snippets (`clip_snippets_for`).

- "uniform": `N = ceil(T / clip_snippets)` clips of (nearly) equal length tiling the video
  (`uniform_proposals`), the paper's uniform sampling with clips about `K` long.
- "shot": shot changes where adjacent snippets' features differ most, the paper's HOG
  difference rule applied to the features: `d_t = mean_j |f_t[j] - f_{t-1}[j]|` and a change
  before snippet `t` when `d_t` exceeds `median(d) + k · 1.4826 · MAD(d)`
  (`keras_wsal.proposals.automatic_threshold`, k = 8: a change stands out from the video's own
  within-shot variation, whatever the features' scale), or an absolute `threshold`. Each shot is
  cut into clips of `clip_snippets` (`shot_proposals`); the paper's rule drops a shot's leftover
  shorter than `K`, and keras_wsal does too unless `keep_remainder`. A video whose shots are all
  shorter than `K` would get no clip: its shots' leftovers are then kept, so every video has one.
"""

from __future__ import annotations

import math

import numpy as np

from keras_wsal.proposals.shots import detect_shots, shot_proposals
from keras_wsal.proposals.uniform import uniform_proposals

SNIPPET_PROPOSAL_METHODS = ("shot", "uniform")
# UntrimmedNet §3.1: K = 300 frames per clip, 10 s at THUMOS14's 30 frames per second.
CLIP_SECONDS = 300 / 30


def clip_snippets_for(feature_fps: float, clip_seconds: float = CLIP_SECONDS) -> int:
    """Snippets per clip: `max(1, round(clip_seconds × feature_fps))`."""
    if not feature_fps > 0 or not math.isfinite(feature_fps):
        raise ValueError(f"feature_fps must be a finite number > 0, got {feature_fps!r}")
    return max(1, round(clip_seconds * feature_fps))


def feature_differences(features: np.ndarray) -> np.ndarray:
    """`d_t = mean_j |f_t[j] - f_{t-1}[j]|` for `t = 1..T-1`: float64 `[T - 1]` of `[T, D]`."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) == 0:
        raise ValueError(f"features must be a non-empty [T, D] array, got shape {features.shape}")
    return np.mean(np.abs(np.diff(features, axis=0)), axis=1)


def snippet_proposals(
    features: np.ndarray,
    method: str,
    clip_snippets: int,
    *,
    threshold: float | None = None,
    keep_remainder: bool = False,
) -> np.ndarray:
    """The clip proposals of one video from its snippet features.

    Args:
        features: float `[T, D]`, `T >= 1`.
        method: "shot" or "uniform" (see the module docstring).
        clip_snippets: `K` in snippets (`clip_snippets_for`).
        threshold: "shot": an absolute threshold on `d_t`; None: the automatic one.
        keep_remainder: "shot": keep each shot's leftover shorter than `K` as one more clip.

    Returns:
        int64 `[N, 2]` clips `[begin, end)` of snippets in time order, `N >= 1`.
    """
    if method not in SNIPPET_PROPOSAL_METHODS:
        raise ValueError(f"method must be one of {SNIPPET_PROPOSAL_METHODS}, got {method!r}")
    if not isinstance(clip_snippets, (int, np.integer)) or clip_snippets < 1:
        raise ValueError(f"clip_snippets must be an int >= 1, got {clip_snippets!r}")
    differences = feature_differences(features)
    num_snippets = differences.size + 1
    if method == "uniform":
        return uniform_proposals(num_snippets, math.ceil(num_snippets / clip_snippets))
    # min_threshold 0: the HOG floor has no meaning on features of another scale.
    shots = detect_shots(differences, threshold=threshold, min_threshold=0.0)
    return shot_proposals(shots, clip_frames=clip_snippets, keep_remainder=keep_remainder)
