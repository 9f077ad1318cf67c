"""The clip proposals of a training video (UntrimmedNet §3.1) and the clips drawn from them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from keras_wsal.proposals import (
    HOG_SIZE,
    detect_shots,
    hog_differences,
    shot_proposals,
    uniform_proposals,
)
from keras_wsal.video.reader import open_video

PROPOSAL_METHODS = ("shot", "uniform")


@dataclasses.dataclass(frozen=True)
class TrainingVideo:
    """A training video: its name, file, number of frames and clip proposals `[N, 2]`."""

    name: str
    path: Path
    num_frames: int
    proposals: np.ndarray


def video_proposals(
    path: Path,
    method: str,
    clip_frames: int,
    uniform_clips: int,
    shot_threshold: float | None = None,
    keep_remainder: bool = False,
) -> TrainingVideo:
    """Open a video and compute its clip proposals (shot-based: decodes it once at HOG size).

    `shot_threshold` (None: automatic) and `keep_remainder` are `detect_shots`' and
    `shot_proposals`' arguments.
    """
    reader = open_video(path)
    if method == "shot":
        differences = hog_differences(frame.image for frame in reader.frames(size=HOG_SIZE))
        num_frames = differences.size + 1
        proposals = shot_proposals(
            detect_shots(differences, threshold=shot_threshold),
            clip_frames=clip_frames,
            keep_remainder=keep_remainder,
        )
    else:
        num_frames = reader.frame_count
        proposals = uniform_proposals(num_frames, min(uniform_clips, num_frames))
    return TrainingVideo(path.stem, path, num_frames, proposals)


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
