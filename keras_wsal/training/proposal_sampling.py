"""The clip proposals of a training video file (UntrimmedNet §3.1); the clips a step reads are
drawn from them by `keras_wsal.proposals.sample_clips`."""

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
