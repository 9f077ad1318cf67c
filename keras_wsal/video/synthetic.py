"""Synthetic videos with planted truth: moving shapes, hard cuts between scenes, a known frame rate.

Tests, demos and benchmarks write these with OpenCV's `cv2.VideoWriter` instead of shipping
video files: every scene has its own textured background and a disc moving at a constant
velocity, and a hard cut (a new scene) starts at each frame listed in `cuts`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from keras_wsal.errors import VideoError

_FOURCC = {".avi": "MJPG", ".mp4": "mp4v"}


def synthetic_frame(
    index: int, *, cuts: Sequence[int] = (), size: tuple[int, int] = (160, 120), seed: int = 0
) -> np.ndarray:
    """Frame `index` of the synthetic video, as uint8 RGB `[H, W, 3]`.

    The scene of frame `index` is the number of cuts `<= index`; a scene's background (a colour
    gradient under random rectangles) and its disc's colour, start and velocity are drawn from
    `seed` and the scene number, so frames of one scene differ only by the disc's motion.
    """
    width, height = size
    scene = int(np.searchsorted(np.asarray(sorted(cuts), dtype=np.int64), index, side="right"))
    rng = np.random.default_rng([seed, scene])
    low, high = rng.integers(0, 256, size=(2, 3))
    ramp = np.linspace(0.0, 1.0, width)[None, :, None]
    image = np.broadcast_to(low + (high - low) * ramp, (height, width, 3)).astype(np.uint8).copy()
    for _ in range(6):
        x0, x1 = np.sort(rng.integers(0, width, 2))
        y0, y1 = np.sort(rng.integers(0, height, 2))
        image[y0 : y1 + 1, x0 : x1 + 1] = rng.integers(0, 256, 3)
    start = rng.uniform([0.2 * width, 0.2 * height], [0.8 * width, 0.8 * height])
    velocity = rng.uniform(-2.0, 2.0, 2)
    first = sorted([0, *[c for c in cuts if c <= index]])[-1]
    centre = start + velocity * (index - first)
    centre = np.abs((centre % (2 * np.array([width, height]))) - np.array([width, height]))
    radius = max(3, min(width, height) // 8)
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    cv2.circle(image, (int(centre[0]), int(centre[1])), radius, colour, thickness=-1)
    return image


def write_synthetic_video(
    path: str | os.PathLike,
    *,
    num_frames: int,
    fps: float = 25.0,
    size: tuple[int, int] = (160, 120),
    cuts: Sequence[int] = (),
    seed: int = 0,
) -> Path:
    """Write a synthetic video of `num_frames` frames; see `synthetic_frame`.

    Args:
        path: `.avi` (Motion-JPEG) or `.mp4` (MPEG-4 Part 2, `mp4v`).
        num_frames: number of frames (>= 0; 0 writes a video with no frames).
        fps: frame rate written to the container.
        size: `(width, height)` in pixels.
        cuts: frame indices where a new scene starts (hard cuts).
        seed: the seed of the scenes' content.

    Returns:
        The path written.
    """
    path = Path(path)
    fourcc = _FOURCC.get(path.suffix.lower())
    if fourcc is None:
        raise ValueError(f"path must end with one of {sorted(_FOURCC)}, got {path}")
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), float(fps), tuple(size))
    if not writer.isOpened():
        raise VideoError(f"OpenCV cannot write video {path} with codec {fourcc}")
    try:
        for index in range(num_frames):
            rgb = synthetic_frame(index, cuts=cuts, size=size, seed=seed)
            writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    return path
