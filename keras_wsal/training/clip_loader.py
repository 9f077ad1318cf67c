"""Loading the snippets of chosen clips of a video for end-to-end training: decoding only the
frames they need, flow stacks computed on the fly, TSN's cropping, the backbone's preprocessing."""

from __future__ import annotations

import os
import threading

import numpy as np

from keras_wsal.backbones import preprocess_input
from keras_wsal.errors import VideoError
from keras_wsal.proposals import segment_frames
from keras_wsal.training.tsn_sampling import CROP_SCALES, multi_scale_crop
from keras_wsal.video.flow import (
    DEFAULT_BOUND,
    STACK_LENGTH,
    compute_flow,
    create_flow_estimator,
    flow_stack_indices,
    quantize_flow,
)
from keras_wsal.video.reader import open_video

# Requested frames closer than this are decoded in one pass instead of seeking again.
_MERGE_GAP = 32


class VideoClipLoader:
    """The snippets of chosen clips of a video, as `UntrimmedNetVideo` inputs `[N, K, S, S, C]`.

    Decodes only the frames the snippets need (windows of nearby frames are decoded in one
    pass; PyAV seeks between them), resized to `frame_size` on the shorter side; for
    `stream="flow"` computes the 5 flows around each snippet's frame (`flow` method, quantised
    with bound 20); crops with `multi_scale_crop`; applies `preprocess_input`. Thread safe (one
    flow estimator per thread).

    Args:
        stream: `"rgb"` or `"flow"`.
        backbone: the backbone name (chooses `preprocess_input`).
        num_segments: `K`, snippets per clip.
        frame_size: the shorter side frames are resized to (TSN: 256).
        input_size: `S`, the side of the snippets (TSN: 224).
        crop_scales: `multi_scale_crop`'s scales.
        flow, dis_preset: the flow method (`"dis"` or `"tvl1"`) and DIS preset.
    """

    def __init__(
        self,
        *,
        stream: str = "rgb",
        backbone: str = "bn_inception",
        num_segments: int = 3,
        frame_size: int = 256,
        input_size: int = 224,
        crop_scales: tuple[float, ...] = CROP_SCALES,
        flow: str = "dis",
        dis_preset: str = "medium",
    ):
        self.stream = stream
        self.backbone = backbone
        self.num_segments = num_segments
        self.frame_size = frame_size
        self.input_size = input_size
        self.crop_scales = tuple(crop_scales)
        self.flow = flow
        self.dis_preset = dis_preset
        self._local = threading.local()

    def _flow_estimator(self):
        if not hasattr(self._local, "estimator"):
            self._local.estimator = create_flow_estimator(self.flow, dis_preset=self.dis_preset)
        return self._local.estimator

    def __call__(
        self,
        path: str | os.PathLike,
        clips: np.ndarray,
        num_frames: int,
        rng: np.random.Generator | None = None,
    ) -> np.ndarray:
        """The preprocessed snippets of `clips` of the video at `path`, float32 `[N, K, S, S, C]`.

        Args:
            path: the video.
            clips: int `[N, 2]` clips `[begin, end)` in frames of the video.
            num_frames: the video's number of frames (indices are clamped to it).
            rng: random snippet frames and crop (training); `None`: segment centres and the
                centre crop (test time).

        Raises:
            VideoError: the video cannot be decoded, or has fewer than 2 frames for flow.
        """
        centres = segment_frames(clips, self.num_segments, rng)
        reader = open_video(path)
        if self.stream == "rgb":
            frames = _read_frames(reader, np.unique(centres), self.frame_size)
            snippets = np.stack([frames[int(c)] for c in centres.ravel()])
        else:
            if num_frames < 2:
                raise VideoError(
                    f"video {path} has {num_frames} frame(s): optical flow needs at least 2"
                )
            flow_indices = flow_stack_indices(centres, num_frames - 1)
            needed = np.unique(np.concatenate([flow_indices.ravel(), flow_indices.ravel() + 1]))
            frames = _read_frames(reader, needed, self.frame_size)
            estimator = self._flow_estimator()
            flows = {
                int(j): quantize_flow(
                    compute_flow(frames[int(j)], frames[int(j) + 1], estimator=estimator),
                    DEFAULT_BOUND,
                )
                for j in np.unique(flow_indices)
            }
            snippets = np.stack(
                [
                    np.concatenate([flows[int(j)] for j in stack], axis=-1)
                    for stack in flow_indices.reshape(-1, STACK_LENGTH)
                ]
            )
        snippets = snippets.reshape(*centres.shape, *snippets.shape[1:])
        cropped = multi_scale_crop(snippets, self.input_size, rng, self.crop_scales)
        return preprocess_input(cropped, self.backbone, self.stream)


def _read_frames(reader, indices: np.ndarray, frame_size: int) -> dict[int, np.ndarray]:
    """Frames `indices` (sorted, unique) of `reader`'s video, resized; nothing else is kept.

    Runs of indices less than `_MERGE_GAP` apart are decoded in one pass. An index past the
    last frame that could be decoded in its pass gets that pass's nearest earlier frame (a
    container's frame count may exceed the decodable frames by a few).
    """
    fps = reader.fps
    frames: dict[int, np.ndarray] = {}
    breaks = np.flatnonzero(np.diff(indices) >= _MERGE_GAP) + 1
    for window in np.split(indices, breaks):
        start = max(0.0, (window[0] - 0.5) / fps)
        end = (window[-1] + 0.5) / fps
        wanted = {int(i) for i in window}
        decoded = {}
        for frame in reader.frames(start=start, end=end, size=frame_size):
            if frame.index in wanted:
                decoded[frame.index] = frame.image
        if not decoded:
            raise VideoError(
                f"video {reader.path}: frames {window[0]}..{window[-1]} could not be decoded"
            )
        available = np.asarray(sorted(decoded))
        for index in wanted:
            if index not in decoded:
                position = max(int(np.searchsorted(available, index)) - 1, 0)
                decoded[index] = decoded[int(available[position])]
        frames.update(decoded)
    return frames
