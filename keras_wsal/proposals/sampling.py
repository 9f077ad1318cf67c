"""Drawing clips from a video's proposals and snippets from its clips (UntrimmedNet §5.3, TSN).

`sample_clips` draws the clips a training step reads (the paper: 7 per video); `segment_frames`
draws one frame or snippet in each of a clip's `K` equal segments (TSN's sparse sampling, K = 3).
Both work on any index range: frames of a video (end-to-end training) or snippets of its features
(`keras_wsal.datasets.ClipSampling`).
"""

from __future__ import annotations

import numpy as np


def segment_frames(
    clips: np.ndarray, num_segments: int, rng: np.random.Generator | None = None
) -> np.ndarray:
    """TSN's snippet sampling: one frame in each of `K` equal segments of every clip.

    For a clip `[b, e)` of `L = e - b` frames, segment `k` is `[b + k L / K, b + (k + 1) L / K)`
    and its frame is

        f_k = b + floor((k + u_k) L / K),   u_k ~ U[0, 1) (training),  u_k = 1/2 (`rng=None`),

    the segment's centre at test time. A clip shorter than `K` frames repeats frames.

    Args:
        clips: int `[N, 2]` clips `[begin, end)` with `end > begin`.
        num_segments: `K >= 1`.
        rng: the random generator; `None` samples the centres.

    Returns:
        int64 `[N, K]` frame indices, each in its clip.
    """
    clips = np.asarray(clips, dtype=np.int64).reshape(-1, 2)
    if num_segments < 1:
        raise ValueError(f"num_segments must be >= 1, got {num_segments}")
    if np.any(clips[:, 1] <= clips[:, 0]):
        raise ValueError(f"every clip must have end > begin, got {clips.tolist()}")
    lengths = (clips[:, 1] - clips[:, 0])[:, None]
    if rng is None:
        offsets = np.full((len(clips), num_segments), 0.5)
    else:
        offsets = rng.random((len(clips), num_segments))
    positions = np.arange(num_segments)[None, :] + offsets
    frames = clips[:, :1] + np.floor(positions * lengths / num_segments).astype(np.int64)
    return np.minimum(frames, clips[:, 1:] - 1)


def sample_clips(proposals: np.ndarray, num_clips: int, rng: np.random.Generator) -> np.ndarray:
    """`num_clips` of a video's proposals at random, in time order (§5.3: 7 per video).

    Without replacement when there are at least `num_clips` proposals; otherwise every proposal
    once and the rest drawn with replacement (each draw gets its own random snippets).

    Returns:
        int64 `[num_clips, 2]`.
    """
    proposals = np.asarray(proposals, dtype=np.int64).reshape(-1, 2)
    if len(proposals) == 0:
        raise ValueError("proposals is empty: a video needs at least one clip proposal")
    if len(proposals) >= num_clips:
        chosen = rng.choice(len(proposals), num_clips, replace=False)
    else:
        extra = rng.choice(len(proposals), num_clips - len(proposals), replace=True)
        chosen = np.concatenate([np.arange(len(proposals)), extra])
    return proposals[np.sort(chosen)]
