"""WSGN's temporal augmentation on snippet features (WSGN §4.2, §4.3).

WSGN trains on frame-wise features: I3D features "bi-linear[ly] interpolat[ed] to obtain
frame-wise feature representation" (§4.3), of which "we sample every 5th frame and perform a
temporal data augmentation (vary the start of the sampled sequence from 1st to 15th frame)"
(§4.2). On a dataset of snippet features, each snippet `i` covering frames
`[i F, (i + 1) F)` (`F = frames_per_snippet`, 16 for I3D), frame `f` sits at snippet position

    p_f = (f + 1/2) / F - 1/2,

and its feature is the linear interpolation of the two snippets around it (the first or last
snippet beyond the ends). A training element is the frames `f = s, s + 5, s + 10, …` below
`T F`, with the start `s` drawn uniformly from `0..14` (the paper's 1st to 15th frame): about
`T F / 5` steps, 3.2 per snippet for I3D. Detection still reads one step per snippet.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

# Video frames per snippet when neither the caller nor the dataset says: I3D's 16.
I3D_FRAMES_PER_SNIPPET = 16.0


def frames_per_snippet_of(meta: Mapping, given: float | None = None) -> float:
    """`given`, else the dataset's (`meta.json`'s extraction record from `keras-wsal extract`),
    else I3D's 16."""
    if given is not None:
        return float(given)
    return float(meta.get("extraction", {}).get("snippet_frames", I3D_FRAMES_PER_SNIPPET))


@dataclasses.dataclass(frozen=True)
class TemporalAugmentation:
    """Every `frame_stride`-th frame from a random start among the first `start_frames`.

    Attributes:
        frame_stride: frames between two sampled frames (WSGN: 5).
        start_frames: the start is drawn from frames `0 .. start_frames - 1` (WSGN: 15).
        frames_per_snippet: `F`, the video frames one snippet feature covers (I3D: 16).
    """

    frame_stride: int = 5
    start_frames: int = 15
    frames_per_snippet: float = 16.0

    def __post_init__(self):
        for field in ("frame_stride", "start_frames"):
            value = getattr(self, field)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(
                    f"TemporalAugmentation: `{field}` must be an int >= 1, got {value!r}"
                )
        if not self.frames_per_snippet > 0 or not np.isfinite(self.frames_per_snippet):
            raise ValueError(
                "TemporalAugmentation: `frames_per_snippet` must be a finite number > 0, got "
                f"{self.frames_per_snippet!r}"
            )

    def positions(self, num_snippets: int, start: int) -> np.ndarray:
        """Snippet positions `p_f` (float64) of the sampled frames, at least one."""
        if num_snippets < 1:
            raise ValueError(f"num_snippets must be >= 1, got {num_snippets}")
        num_frames = num_snippets * self.frames_per_snippet
        start = min(int(start), max(int(np.ceil(num_frames)) - 1, 0))
        frames = np.arange(start, max(num_frames, start + 1), self.frame_stride, dtype=np.float64)
        return (frames + 0.5) / self.frames_per_snippet - 0.5

    def resample(self, features: np.ndarray, start: int) -> np.ndarray:
        """float32 `[J, D]`: `features` `[T, D]` interpolated at the frames from `start` on."""
        return interpolate(features, self.positions(len(features), start))


def interpolate(
    features: np.ndarray, positions: np.ndarray, out: np.ndarray | None = None
) -> np.ndarray:
    """float32 `[J, D]`: `features` `[T, D]` linearly interpolated at snippet `positions` `[J]`
    (clipped to `[0, T - 1]`), written into `out` when given.

        out_j = (1 - w_j) · features[⌊p_j⌋] + w_j · features[min(⌊p_j⌋ + 1, T - 1)],
        w_j = p_j - ⌊p_j⌋ (in float32)

    Only the rows from the first to the last one needed are read, once, so `features` may be a
    memory-mapped file of any length. Computed as a sparse `[J, rows]` matrix of the weights
    times those rows (one pass over them instead of two gathers and three temporary arrays),
    the product then copied into `out`: the formula's float32 products and sum in its order,
    bit-identical to it where the compiler does not fuse them (x86-64 builds of SciPy).
    """
    from scipy import sparse

    positions = np.clip(positions, 0.0, len(features) - 1)
    lower = np.floor(positions).astype(np.int64)
    upper = np.minimum(lower + 1, len(features) - 1)
    weight = (positions - lower).astype(np.float32)
    first = int(lower.min(initial=0))
    rows = np.asarray(features[first : int(upper.max(initial=0)) + 1], dtype=np.float32)
    steps = len(positions)
    # Row j holds (1 - w_j) at column ⌊p_j⌋ and then w_j at column ⌊p_j⌋ + 1 (both at the last
    # row when ⌊p_j⌋ = T - 1), summed in that order.
    weights = np.empty(2 * steps, np.float32)
    weights[0::2], weights[1::2] = 1.0 - weight, weight
    columns = np.empty(2 * steps, np.int64)
    columns[0::2], columns[1::2] = lower - first, upper - first
    lerp = sparse.csr_matrix(
        (weights, columns, np.arange(0, 2 * steps + 1, 2)), shape=(steps, len(rows))
    )
    if out is None:
        return np.asarray(lerp @ rows, dtype=np.float32)
    out[...] = lerp @ rows
    return out
