"""Decode videos frame by frame, with exact timestamps, behind one small reader interface.

`open_video(path)` returns a `VideoReader` that knows the video's frame rate, frame count,
duration and frame size; `VideoReader.frames(...)` is a generator that decodes the video once,
from the start (or from a seek point), and yields the frames selected by a sampling rate or a
stride as uint8 RGB arrays `[H, W, 3]`, resized on request. Only the frame being yielded is
held in memory, so hour-long videos stream in bounded memory.

PyAV (FFmpeg's libraries) is the primary backend: it gives each frame's presentation timestamp
`pts × time_base`. OpenCV's `cv2.VideoCapture` is the fallback when PyAV cannot open a file.
Every failure (missing path, unreadable or truncated container, no video stream, no frames,
zero or missing frame rate, a decoding error) raises `keras_wsal.errors.VideoError` naming
the file.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from keras_wsal.errors import VideoError
from keras_wsal.video.backends import CannotOpen, OpenCVSource, PyAVSource

BACKENDS = ("auto", "pyav", "opencv")

Size = int | tuple[int, int] | None


class Frame(NamedTuple):
    """One decoded video frame.

    Attributes:
        index: 0-based position of the frame in presentation order. When decoding starts at
            the beginning of the video this is the frame's decode position; after a seek
            (`start > 0` with PyAV) it is `round(time * fps)`, which equals the decode position
            for constant-frame-rate videos.
        time: presentation time in seconds, `(pts - stream start) × time_base`.
        image: uint8 RGB array `[H, W, 3]`.
    """

    index: int
    time: float
    image: np.ndarray


def resize_frame(image: np.ndarray, size: Size) -> np.ndarray:
    """Resize an `[H, W, C]` image.

    Args:
        image: array `[H, W, C]` (or `[H, W]`).
        size: `None` keeps the image; an int `N` scales the shorter side to `N` keeping the
            aspect ratio (the longer side rounded to the nearest pixel); a pair `(W, H)`
            resizes to exactly that width and height (e.g. `(340, 256)` as in TSN).

    Returns:
        The resized image (area interpolation when shrinking, bilinear when enlarging).
    """
    if size is None:
        return image
    height, width = image.shape[:2]
    if isinstance(size, int | np.integer):
        if size <= 0:
            raise ValueError(f"size must be a positive int or a (width, height) pair, got {size}")
        scale = size / min(height, width)
        target = (max(1, round(width * scale)), max(1, round(height * scale)))
    else:
        target = tuple(int(v) for v in size)
        if len(target) != 2 or min(target) <= 0:
            raise ValueError(f"size must be a positive int or a (width, height) pair, got {size}")
    if target == (width, height):
        return image
    shrinking = target[0] * target[1] < width * height
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(image, target, interpolation=interpolation)


class VideoReader:
    """Read one video: its metadata, and its frames as a stream.

    Args:
        path: the video file (any format FFmpeg reads).
        backend: `"auto"` (PyAV, falling back to OpenCV when PyAV cannot open the file),
            `"pyav"` or `"opencv"`.

    Attributes:
        path: the video file.
        backend: the backend in use, `"pyav"` or `"opencv"`.
        fps: the average frame rate (frames per second; PyAV's `average_rate`).
        width, height: the decoded frame size in pixels.
        frame_count: the number of frames (from the container header, or counted by demuxing
            when the header has none).
        duration: seconds (the stream's duration, else the container's, else
            `frame_count / fps`).

    Raises:
        VideoError: the path is missing or unreadable, the file is not a video, it has no video
            stream, or its frame rate is zero or missing.

    Example:
    >>> reader = open_video("match.mp4")
    >>> for frame in reader.frames(fps=2.0, size=256):
    ...     frame.time, frame.image.shape   # 0.0, (256, 341, 3); 0.5, ...
    """

    def __init__(self, path: str | os.PathLike, *, backend: str = "auto"):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.path = Path(path)
        if not self.path.is_file():
            what = "is not a file" if self.path.exists() else "does not exist"
            raise VideoError(f"video {self.path} {what}")
        if not os.access(self.path, os.R_OK):
            raise VideoError(f"video {self.path} is not readable (permission denied)")
        self._source = self._open_source(backend)
        self.backend = self._source.name
        self.fps = self._source.fps
        self.width = self._source.width
        self.height = self._source.height
        self._frame_count = None

    def _open_source(self, backend: str) -> PyAVSource | OpenCVSource:
        if backend == "opencv":
            return OpenCVSource(self.path)
        try:
            return PyAVSource(self.path)
        except CannotOpen as pyav_error:
            if backend == "pyav":
                raise
            try:
                return OpenCVSource(self.path)
            except VideoError:
                raise VideoError(str(pyav_error)) from None

    @property
    def frame_count(self) -> int:
        if self._frame_count is None:
            self._frame_count = self._source.count_frames()
        return self._frame_count

    @property
    def duration(self) -> float:
        if self._source.duration:
            return self._source.duration
        return self.frame_count / self.fps

    def __repr__(self) -> str:
        return (
            f"VideoReader({str(self.path)!r}, backend={self.backend!r}, fps={self.fps:g}, "
            f"size={self.width}x{self.height})"
        )

    def frames(
        self,
        *,
        fps: float | None = None,
        stride: int | None = None,
        size: Size = None,
        start: float = 0.0,
        end: float | None = None,
    ) -> Iterator[Frame]:
        """Decode the video once and yield the selected frames, in time order.

        Sampling (at most one of `fps` and `stride`):
        - neither: every frame.
        - `stride=s`: the frames whose index is a multiple of `s` (0, s, 2s, ...).
        - `fps=r`: one frame per target time `t_k = k / r` (k = 0, 1, ..., the grid is anchored
          at time 0, not at `start`), namely the first frame with `time >= t_k - 0.5 / fps_video`
          (the frame nearest to `t_k`, ties to the earlier one). When `r` exceeds the video's
          frame rate a frame is yielded once per target it serves. Targets after the last frame
          yield nothing, so a video of duration `D` gives about `D * r` frames.

        Args:
            fps: sampling rate in frames per second (> 0).
            stride: keep every `stride`-th frame (>= 1).
            size: see `resize_frame`: `None`, the shorter side in pixels, or `(W, H)`.
            start: seconds; frames (or targets) before it are skipped (PyAV seeks to it).
            end: seconds; frames (or targets) at or after it are not yielded.

        Yields:
            `Frame(index, time, image)` with `image` uint8 RGB `[H, W, 3]`.

        Raises:
            VideoError: a frame cannot be decoded; a decode from the start to the end of the
                file gives fewer frames than the container declares (PyAV; more than 2 frames
                and 1% missing: a truncated or corrupt file; raised after the decodable frames
                were yielded);
                or no frame lies in `[start, end)`.
        """
        if fps is not None and stride is not None:
            raise ValueError("give at most one of fps and stride")
        if fps is not None and not fps > 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        if stride is not None and (int(stride) != stride or stride < 1):
            raise ValueError(f"stride must be an int >= 1, got {stride}")
        if start < 0 or (end is not None and end <= start):
            raise ValueError(f"need 0 <= start < end, got start={start}, end={end}")
        return self._frames(fps, stride, size, start, end)

    def _frames(self, fps, stride, size, start, end) -> Iterator[Frame]:
        # Half a source frame period: the frame nearest a sampling target is the first one
        # whose time is at least the target minus this.
        tolerance = 0.5 / self.fps
        epsilon = 1e-6
        next_target = math.ceil(start * fps - epsilon) if fps is not None else 0
        decoded_count = 0
        yielded = False
        for decoded in self._source.decode(start):
            decoded_count += 1
            if fps is None:
                if decoded.time < start - epsilon or (stride and decoded.index % stride):
                    continue
                if end is not None and decoded.time >= end - epsilon:
                    break
                repeats = 1
            else:
                if end is not None and next_target / fps >= end - epsilon:
                    break
                repeats = 0
                while next_target / fps <= decoded.time + tolerance and (
                    end is None or next_target / fps < end - epsilon
                ):
                    repeats += 1
                    next_target += 1
                if repeats == 0:
                    continue
            image = resize_frame(decoded.to_rgb(), size)
            for _ in range(repeats):
                yielded = True
                yield Frame(decoded.index, decoded.time, image)
        if not yielded:
            window = f" in [{start}, {end}) s" if start > 0 or end is not None else ""
            raise VideoError(f"video {self.path} has no frames{window}")
        declared = self._source.header_frames if self._source.exact_header else 0
        full_decode = start == 0 and end is None
        if full_decode and declared > 0 and decoded_count < declared - max(2, declared // 100):
            raise VideoError(
                f"video {self.path} is truncated or corrupt: its header declares {declared} "
                f"frames but only {decoded_count} could be decoded"
            )

    def __iter__(self) -> Iterator[Frame]:
        return self.frames()


def open_video(path: str | os.PathLike, *, backend: str = "auto") -> VideoReader:
    """Open a video for reading; see `VideoReader`."""
    return VideoReader(path, backend=backend)


def frames_dataset(
    paths,
    *,
    fps: float | None = None,
    stride: int | None = None,
    size: Size = None,
    cycle_length: int = 2,
    deterministic: bool = True,
):
    """A `tf.data.Dataset` of the frames of several videos, decoded in parallel.

    Each video is decoded by its own `VideoReader.frames` generator
    (`tf.data.Dataset.from_generator`); `interleave` runs `cycle_length` of them at a time on
    parallel threads. Memory stays bounded by the prefetched frames, whatever the video length.

    Args:
        paths: video files.
        fps, stride, size: the sampling and resizing of `VideoReader.frames`.
        cycle_length: how many videos are decoded at the same time.
        deterministic: keep the order (video by video blocks interleaved round-robin); `False`
            lets faster videos go first.

    Returns:
        A dataset of dicts `{"path": tf.string, "index": tf.int64, "time": tf.float64,
        "image": tf.uint8 [H, W, 3]}` (H and W are static only when `size` is a pair).
        A `VideoError` in one video stops the iteration with that error's message.
    """
    import tensorflow as tf

    paths = [str(Path(p)) for p in paths]
    if not paths:
        raise ValueError("paths is empty: expected at least one video")
    if isinstance(size, tuple):
        image_shape = (size[1], size[0], 3)
    else:
        image_shape = (None, None, 3)
    signature = {
        "path": tf.TensorSpec((), tf.string),
        "index": tf.TensorSpec((), tf.int64),
        "time": tf.TensorSpec((), tf.float64),
        "image": tf.TensorSpec(image_shape, tf.uint8),
    }

    def generate(path):
        path = path.decode() if isinstance(path, bytes) else str(path)
        reader = VideoReader(path)
        for frame in reader.frames(fps=fps, stride=stride, size=size):
            yield {"path": path, "index": frame.index, "time": frame.time, "image": frame.image}

    def one_video(path):
        return tf.data.Dataset.from_generator(generate, output_signature=signature, args=(path,))

    return tf.data.Dataset.from_tensor_slices(paths).interleave(
        one_video,
        cycle_length=cycle_length,
        block_length=1,
        num_parallel_calls=cycle_length,
        deterministic=deterministic,
    )
