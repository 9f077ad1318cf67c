"""UntrimmedNet's training input on snippet features: a few clips per video, TSN-style.

The paper (§3, §5.3) trains on `N = 7` clip proposals drawn at random from each video per step,
each represented by TSN's segmental consensus over `K = 3` snippets (one drawn in each third of
the clip). On features the classification and selection modules are linear in `φ`, so the
consensus of their `K` scores equals the modules applied to the mean feature; one clip is

    φ(c) = (1/K) Σ_k f[t_k],   t_k = b + floor((k + u_k) L / K),  u_k ~ U[0, 1),

for a clip `[b, b + L)` (`keras_wsal.proposals.segment_frames`). A video becomes a
sequence of `N` clip features in time order, which the model reads as it reads snippets (mask all
True). Dropout falls on `φ(c)` (after the consensus), as in the end-to-end model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from keras_wsal.proposals.sampling import sample_clips, segment_frames
from keras_wsal.proposals.snippet_proposals import (
    SNIPPET_PROPOSAL_METHODS,
    clip_snippets_for,
    snippet_proposals,
)


@dataclasses.dataclass(frozen=True)
class ClipSampling:
    """How a training video becomes `num_clips` clip features.

    Attributes:
        num_clips: clips drawn per video per step (the paper: 7).
        num_segments: snippets averaged per clip (TSN: 3).
        proposals: "shot" or "uniform" (`keras_wsal.proposals.snippet_proposals`).
        clip_snippets: snippets per proposal (`clip_snippets_for(feature_fps)`: 10 s).
        shot_threshold: an absolute shot-change threshold; None: automatic.
        keep_remainder: keep each shot's leftover shorter than a clip.
    """

    num_clips: int = 7
    num_segments: int = 3
    proposals: str = "shot"
    clip_snippets: int = 10
    shot_threshold: float | None = None
    keep_remainder: bool = False

    def __post_init__(self):
        for field in ("num_clips", "num_segments", "clip_snippets"):
            value = getattr(self, field)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"ClipSampling: `{field}` must be an int >= 1, got {value!r}")
        if self.proposals not in SNIPPET_PROPOSAL_METHODS:
            raise ValueError(
                f"ClipSampling: `proposals` must be one of {SNIPPET_PROPOSAL_METHODS}, "
                f"got {self.proposals!r}"
            )

    @classmethod
    def for_features(cls, feature_fps: float, **settings) -> ClipSampling:
        """The sampling with clips of 10 s (the paper's K = 300 frames at 30 fps)."""
        return cls(clip_snippets=clip_snippets_for(feature_fps), **settings)

    def proposals_of(self, features: np.ndarray) -> np.ndarray:
        """The video's clip proposals `[P, 2]` from its (first stream's) features `[T, D]`."""
        return snippet_proposals(
            features,
            self.proposals,
            self.clip_snippets,
            threshold=self.shot_threshold,
            keep_remainder=self.keep_remainder,
        )

    def clip_features(
        self,
        features: Mapping[str, np.ndarray],
        proposals: np.ndarray,
        rng: np.random.Generator,
    ) -> dict[str, np.ndarray]:
        """`{stream: float32 [num_clips, D]}`: clips drawn from `proposals`, each the mean of its
        `num_segments` sampled snippets (the same snippets in every stream)."""
        clips = sample_clips(proposals, self.num_clips, rng)
        rows = segment_frames(clips, self.num_segments, rng)
        out = {}
        for stream, array in features.items():
            picked = np.asarray(array[rows.reshape(-1)], dtype=np.float32)
            out[stream] = picked.reshape(self.num_clips, self.num_segments, -1).mean(axis=1)
        return out
