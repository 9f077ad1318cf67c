"""The decoding backends behind `VideoReader`: PyAV (FFmpeg's libraries, exact timestamps) and
OpenCV's `cv2.VideoCapture` (the fallback). Each yields `DecodedFrame`s whose RGB image is only
converted when asked for."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from keras_wsal.errors import VideoError


class CannotOpen(VideoError):
    """PyAV cannot open the file at all: the case in which OpenCV is tried instead."""


class DecodedFrame(NamedTuple):
    index: int
    time: float
    to_rgb: Callable[[], np.ndarray]


class PyAVSource:
    """Metadata and decoding of one video with PyAV."""

    name = "pyav"
    # The container's frame count (when it has one) is exact: a shortfall means lost frames.
    exact_header = True

    def __init__(self, path: Path):
        import av

        self._av = av
        self.path = path
        try:
            container = av.open(str(path), metadata_errors="ignore")
        except av.error.FFmpegError as error:
            raise CannotOpen(f"cannot open video {path}: {error}") from error
        try:
            with container:
                if not container.streams.video:
                    raise VideoError(f"video {path} has no video stream")
                stream = container.streams.video[0]
                rate = stream.average_rate
                self.fps = checked_fps(rate, path)
                self.width = stream.codec_context.width
                self.height = stream.codec_context.height
                self.time_base = stream.time_base
                self.start_pts = stream.start_time or 0
                self.header_frames = stream.frames
                if stream.duration:
                    self.duration = float(stream.duration * stream.time_base)
                elif container.duration:
                    self.duration = container.duration / av.time_base
                else:
                    self.duration = None
        except av.error.FFmpegError as error:
            raise VideoError(f"cannot read video {path}: {error}") from error

    def count_frames(self) -> int:
        if self.header_frames > 0:
            return self.header_frames
        # Containers such as Matroska store no frame count: count the packets (no decoding).
        try:
            with self._av.open(str(self.path), metadata_errors="ignore") as container:
                stream = container.streams.video[0]
                return sum(1 for packet in container.demux(stream) if packet.size > 0)
        except self._av.error.FFmpegError as error:
            raise VideoError(f"cannot read video {self.path}: {error}") from error

    def decode(self, start: float) -> Iterator[DecodedFrame]:
        av = self._av
        # One converter for the whole stream: a frame's own `to_ndarray(format=...)` builds a new
        # swscale context each time, several times slower than the conversion itself.
        reformatter = av.video.reformatter.VideoReformatter()
        try:
            with av.open(str(self.path), metadata_errors="ignore") as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                sought = start > 0
                if sought:
                    offset = self.start_pts + int(start / self.time_base)
                    container.seek(offset, stream=stream, backward=True)
                for position, frame in enumerate(container.decode(stream)):
                    if frame.pts is None:
                        time = position / self.fps
                    else:
                        # time_base is a Fraction, so the product is exact before rounding.
                        time = float((frame.pts - self.start_pts) * self.time_base)
                    index = round(time * self.fps) if sought else position
                    yield DecodedFrame(index, time, _pyav_to_rgb(frame, reformatter))
        except av.error.FFmpegError as error:
            raise VideoError(f"cannot decode video {self.path}: {error}") from error


def _pyav_to_rgb(frame, reformatter) -> Callable[[], np.ndarray]:
    return lambda: reformatter.reformat(frame, format="rgb24").to_ndarray()


class OpenCVSource:
    """Metadata and decoding of one video with `cv2.VideoCapture` (the fallback backend)."""

    name = "opencv"
    # CAP_PROP_FRAME_COUNT may be estimated from the duration: no truncation check on it.
    exact_header = False

    def __init__(self, path: Path):
        self.path = path
        capture = self._open()
        try:
            self.fps = checked_fps(capture.get(cv2.CAP_PROP_FPS), path)
            self.width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
            self.height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
            self.header_frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
            self.duration = None
        finally:
            capture.release()

    def _open(self) -> cv2.VideoCapture:
        capture = cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            raise VideoError(f"cannot open video {self.path} with OpenCV")
        return capture

    def count_frames(self) -> int:
        if self.header_frames > 0:
            return self.header_frames
        capture = self._open()
        try:
            count = 0
            while capture.grab():
                count += 1
            return count
        finally:
            capture.release()

    def decode(self, start: float) -> Iterator[DecodedFrame]:
        # OpenCV seeks imprecisely, so frames before `start` are decoded and skipped by the caller.
        del start
        capture = self._open()
        try:
            position = 0
            while capture.grab():
                time = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
                yield DecodedFrame(position, time, _opencv_to_rgb(capture, self.path))
                position += 1
        finally:
            capture.release()


def _opencv_to_rgb(capture: cv2.VideoCapture, path: Path) -> Callable[[], np.ndarray]:
    def to_rgb() -> np.ndarray:
        ok, bgr = capture.retrieve()
        if not ok:
            raise VideoError(f"cannot decode a frame of video {path} with OpenCV")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    return to_rgb


def checked_fps(rate, path: Path) -> float:
    fps = float(rate) if rate is not None else 0.0
    if not math.isfinite(fps) or fps <= 0:
        raise VideoError(f"video {path} has no usable frame rate (got {rate}); expected fps > 0")
    return fps
