"""Shot-based clip proposals (UntrimmedNet §3.1, "shot-based sampling").

1. A HOG descriptor per frame (`frame_hog`: scikit-image `hog` of the frame converted to
   grayscale and downscaled to 80x60; 9 orientations, 8x8-pixel cells, 2x2-cell blocks,
   L2-Hys block normalisation; 1944 values).
2. The change between adjacent frames (`hog_differences`): the mean absolute difference of their
   descriptors, `d_t = mean_j |h_t[j] - h_{t-1}[j]|` for `t = 1..T-1` (the mean rather than the
   sum, so that the scale does not depend on the descriptor's length).
3. A shot change before frame `t` where `d_t > threshold` (`detect_shots`). The threshold is
   either absolute or automatic and robust to the video's motion level:
   `max(median(d) + k · 1.4826 · MAD(d), min_threshold)` with `MAD(d) = median(|d - median(d)|)`
   (1.4826 · MAD estimates the standard deviation of the within-shot changes; the floor stops
   noise from splitting nearly static videos).
4. Clips of `K = 300` frames inside each shot (`shot_proposals`); a shot's leftover shorter than
   `K` is dropped, as in the paper, unless asked for.

The paper gives no threshold value. The automatic one asks a change to stand `k = 8` robust
standard deviations above the video's typical frame-to-frame change, so that it adapts to how
much the camera and the actors move: a cut changes most of the HOG cells at once, motion within
a shot a few. The floor `0.02` keeps a nearly static video, whose changes are all noise, one
shot. Give an absolute `threshold` (`detect_shots`, `EndToEndConfig.shot_threshold`) to
override it.

Frames are 0-based and ranges half-open, `[begin, end)`.
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np
from skimage.feature import hog

HOG_SIZE = (80, 60)
MAD_TO_SIGMA = 1.4826


def frame_hog(image: np.ndarray, *, size: tuple[int, int] = HOG_SIZE) -> np.ndarray:
    """The HOG descriptor of one frame (uint8 RGB `[H, W, 3]` or gray `[H, W]`), float64 `[D]`.

    The frame is converted to grayscale and resized to `size = (width, height)` first.
    """
    if image.ndim == 3:
        image = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    gray = cv2.resize(image, tuple(size), interpolation=cv2.INTER_AREA)
    return hog(
        gray,
        orientations=9,
        pixels_per_cell=(8, 8),
        cells_per_block=(2, 2),
        block_norm="L2-Hys",
        feature_vector=True,
    )


def hog_differences(
    frames: Iterable[np.ndarray], *, size: tuple[int, int] = HOG_SIZE
) -> np.ndarray:
    """`d_t = mean |HOG(frame_t) - HOG(frame_{t-1})|` for `t = 1..T-1`, float64 `[T - 1]`.

    Streams: only the previous frame's descriptor is kept, whatever the video length.

    Raises:
        ValueError: `frames` is empty.
    """
    differences = []
    previous = None
    for image in frames:
        current = frame_hog(image, size=size)
        if previous is not None:
            differences.append(float(np.mean(np.abs(current - previous))))
        previous = current
    if previous is None:
        raise ValueError("frames is empty: shot detection needs at least one frame")
    return np.asarray(differences, dtype=np.float64)


def automatic_threshold(
    differences: np.ndarray, *, k: float = 8.0, min_threshold: float = 0.02
) -> float:
    """`max(median(d) + k · 1.4826 · MAD(d), min_threshold)`; `min_threshold` for no `d`."""
    differences = np.asarray(differences, dtype=np.float64)
    if differences.size == 0:
        return float(min_threshold)
    median = np.median(differences)
    mad = np.median(np.abs(differences - median))
    return float(max(median + k * MAD_TO_SIGMA * mad, min_threshold))


def detect_shots(
    differences: np.ndarray,
    *,
    threshold: float | None = None,
    k: float = 8.0,
    min_threshold: float = 0.02,
) -> np.ndarray:
    """Split a video into shots where adjacent frames differ more than a threshold.

    Args:
        differences: `hog_differences` of a video of `T = len(differences) + 1` frames.
        threshold: an absolute threshold on `d_t`; `None` (default) uses
            `automatic_threshold(differences, k=k, min_threshold=min_threshold)`.
        k, min_threshold: the automatic threshold's parameters.

    Returns:
        int64 array `[S, 2]` of shots `[begin, end)` tiling `[0, T)`: a new shot begins at every
        frame `t` with `d_t > threshold`. A video with no change above it is one shot.
    """
    differences = np.asarray(differences, dtype=np.float64)
    if differences.ndim != 1 or not np.all(np.isfinite(differences)):
        raise ValueError("differences must be a 1-D array of finite values")
    if threshold is None:
        threshold = automatic_threshold(differences, k=k, min_threshold=min_threshold)
    num_frames = differences.size + 1
    changes = np.flatnonzero(differences > threshold) + 1
    edges = np.concatenate([[0], changes, [num_frames]]).astype(np.int64)
    return np.stack([edges[:-1], edges[1:]], axis=1)


def shot_proposals(
    shots: np.ndarray, *, clip_frames: int = 300, keep_remainder: bool = False
) -> np.ndarray:
    """Clips of `K = clip_frames` consecutive frames inside each shot.

    The paper's clips of a shot `s = (s_b, s_e)` are
    `C(s) = {(s_b + (i - 1) K, s_b + i K) : s_b + i K < s_e}`: whole clips of `K` frames from
    the shot's beginning. In half-open ranges, clip `i` is `[s_b + (i - 1) K, s_b + i K)` and
    is kept when it fits in the shot, `s_b + i K <= s_e` (the paper's strict `<` would also
    drop a clip that ends exactly at the shot's end).

    The paper's rule drops the last `(s_e - s_b) mod K` frames of every shot, and so every shot
    shorter than `K` frames; so does this function by default. With `keep_remainder=True` those
    frames form one more, shorter clip `[s_b + m K, s_e)`, so that every frame lies in exactly
    one clip. A video whose shots are all shorter than `K` would get no clip at all: it gets its
    shots' leftovers instead, so that every video can be trained on.

    Args:
        shots: int array `[S, 2]` of shots `[begin, end)` (`detect_shots`), `S >= 1`.
        clip_frames: `K >= 1` (the paper: 300).
        keep_remainder: see above.

    Returns:
        int64 array `[N, 2]` of clips `[begin, end)`, in time order, `N >= 1`.
    """
    shots = np.asarray(shots, dtype=np.int64).reshape(-1, 2)
    if clip_frames < 1:
        raise ValueError(f"clip_frames must be >= 1, got {clip_frames}")
    if len(shots) == 0:
        raise ValueError("shots is empty: a video has at least one shot")
    if np.any(shots[:, 1] <= shots[:, 0]):
        raise ValueError("every shot must have end > begin")
    clips = []
    for begin, end in shots:
        starts = np.arange(begin, end - clip_frames + 1, clip_frames, dtype=np.int64)
        clips.extend((start, start + clip_frames) for start in starts)
        covered = begin + starts.size * clip_frames
        if keep_remainder and covered < end:
            clips.append((covered, end))
    if not clips:
        return shot_proposals(shots, clip_frames=clip_frames, keep_remainder=True)
    return np.asarray(clips, dtype=np.int64).reshape(-1, 2)
