"""Uniform clip proposals: N equal clips (UntrimmedNet §3.1, "uniform sampling")."""

from __future__ import annotations

import numpy as np


def uniform_proposals(num_frames: int, num_clips: int) -> np.ndarray:
    """Divide a video of `num_frames` frames into `num_clips` clips of (nearly) equal length.

    The paper's clips, in 1-based inclusive frame numbers, are
    `b_i = (i - 1) T / N + 1`, `e_i = i T / N` for `i = 1..N`. keras_wsal uses 0-based
    half-open frame ranges `[begin, end)` everywhere, so clip `i = 0..N-1` is

        begin_i = floor(i T / N),   end_i = floor((i + 1) T / N),

    the paper's clips exactly when `N` divides `T`; otherwise the clip lengths differ by at
    most one frame. The clips tile `[0, T)` with no gap or overlap.

    Args:
        num_frames: `T >= 1`.
        num_clips: `N`, with `1 <= N <= T` (every clip holds at least one frame).

    Returns:
        int64 array `[N, 2]` of `(begin, end)` frame indices.
    """
    num_frames, num_clips = int(num_frames), int(num_clips)
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if not 1 <= num_clips <= num_frames:
        raise ValueError(
            f"num_clips must be in [1, num_frames={num_frames}] so that no clip is empty, "
            f"got {num_clips}"
        )
    edges = np.arange(num_clips + 1, dtype=np.int64) * num_frames // num_clips
    return np.stack([edges[:-1], edges[1:]], axis=1)
