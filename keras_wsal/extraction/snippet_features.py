"""Two-stream snippet features of raw videos, written as a keras_wsal feature dataset.

Each video is decoded once, resampled to `frame_rate` frames per second and resized to
`frame_size` (TSN: 340x256). Snippet `t` is the resampled frames `[t S, (t + 1) S)` (`S =
snippet_frames`), so it covers `[t / feature_fps, (t + 1) / feature_fps)` seconds with
`feature_fps = frame_rate / S`, as the dataset format defines; a video of `N` resampled frames
has `T = ceil(N / S)` snippets (the last one may be shorter).

For snippet `t` with centre frame `c = t S + S // 2` (clamped to the last frame):
- rgb: the spatial stream on frame `c`, centre-cropped to `crop x crop`;
- flow: the temporal stream on the stack of the `L = 5` flows `c - L // 2, ..., c - L // 2 + L - 1`
  (flow `j` goes from frame `j` to frame `j + 1`; indices clamped to the video), quantised to
  uint8 with bound 20 as TSN stores them, centre-cropped like the frame.

Only the frames of the snippets in progress are held in memory, whatever the video length.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras
import numpy as np

from keras_wsal.backbones import STREAM_CHANNELS, make_backbone, preprocess_input
from keras_wsal.errors import VideoError
from keras_wsal.video.flow import DEFAULT_BOUND, STACK_LENGTH, FlowPool, flow_stack_indices
from keras_wsal.video.reader import open_video

_STATE_DICT_SUFFIXES = (".pth", ".pt", ".tar", ".npz")


@dataclass(frozen=True)
class ExtractionSettings:
    """How snippets are sampled and fed to the two streams.

    Attributes:
        frame_rate: frames per second every video is resampled to.
        snippet_frames: `S`, resampled frames per snippet (>= 2).
        frame_size: `(width, height)` the frames are resized to.
        crop: the side of the centre crop the backbones see (<= both frame sides).
        flow: `"dis"` or `"tvl1"`.
        dis_preset: the DIS preset.
        flow_bound: the flow quantisation bound in pixels.
        backbone: the backbone name (`keras_wsal.backbones.BACKBONES`).
        batch_size: snippets per forward pass (does not change the features).
        workers: flow threads (default: the number of CPUs; does not change the features).
    """

    frame_rate: float = 25.0
    snippet_frames: int = 16
    frame_size: tuple[int, int] = (340, 256)
    crop: int = 224
    flow: str = "dis"
    dis_preset: str = "medium"
    flow_bound: float = DEFAULT_BOUND
    backbone: str = "bn_inception"
    batch_size: int = field(default=32, compare=False)
    workers: int | None = field(default=None, compare=False)

    def __post_init__(self):
        if not self.frame_rate > 0:
            raise ValueError(f"frame_rate must be > 0, got {self.frame_rate}")
        if self.snippet_frames < 2:
            raise ValueError(f"snippet_frames must be >= 2, got {self.snippet_frames}")
        if self.crop < 1 or self.crop > min(self.frame_size):
            raise ValueError(
                f"crop must be in [1, {min(self.frame_size)}] (the shorter side of frame_size "
                f"{self.frame_size}), got {self.crop}"
            )
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")

    @property
    def feature_fps(self) -> float:
        """Snippets per second, `frame_rate / snippet_frames`."""
        return self.frame_rate / self.snippet_frames

    def describe(self) -> dict:
        """The settings that determine the features (for `meta.json`)."""
        settings = asdict(self)
        for key in ("batch_size", "workers"):
            settings.pop(key)
        settings["frame_size"] = list(self.frame_size)
        return settings


@dataclass
class VideoFeatures:
    """The features of one video: `rgb` `[T, D1]`, `flow` `[T, D2]`, and what was decoded."""

    rgb: np.ndarray
    flow: np.ndarray
    duration: float
    fps: float
    num_frames: int


def _centre_crop(image: np.ndarray, crop: int) -> np.ndarray:
    height, width = image.shape[:2]
    top, left = (height - crop) // 2, (width - crop) // 2
    return image[top : top + crop, left : left + crop]


class _SnippetBatcher:
    """Collects snippet inputs and runs the two backbones on full batches."""

    def __init__(self, models, preprocess: Callable, batch_size: int):
        self._models = models
        self._preprocess = preprocess
        self._batch_size = batch_size
        self._pending = {"rgb": [], "flow": []}
        self._features = {"rgb": [], "flow": []}

    def add(self, rgb: np.ndarray, flow: np.ndarray) -> None:
        self._pending["rgb"].append(rgb)
        self._pending["flow"].append(flow)
        if len(self._pending["rgb"]) >= self._batch_size:
            self.flush()

    def flush(self) -> None:
        for stream, inputs in self._pending.items():
            if inputs:
                batch = self._preprocess(np.stack(inputs), stream)
                output = self._models[stream](batch, training=False)
                self._features[stream].append(np.asarray(output, dtype=np.float32))
        self._pending = {"rgb": [], "flow": []}

    def result(self) -> dict[str, np.ndarray]:
        self.flush()
        return {stream: np.concatenate(parts) for stream, parts in self._features.items()}


def extract_video_features(
    path: str | os.PathLike,
    rgb_model,
    flow_model,
    settings: ExtractionSettings,
) -> VideoFeatures:
    """The rgb and flow snippet features of one video (see the module docstring).

    Args:
        path: the video.
        rgb_model: the spatial stream `[B, crop, crop, 3] -> [B, D1]`, a Keras model (called
            as `model(batch, training=False)`).
        flow_model: the temporal stream `[B, crop, crop, 2 L] -> [B, D2]`, likewise.
        settings: the sampling; `settings.backbone` chooses the input preprocessing.

    Raises:
        VideoError: the video cannot be read, or is shorter than one snippet.
    """
    reader = open_video(path)
    size, length, crop = settings.snippet_frames, STACK_LENGTH, settings.crop
    batcher = _SnippetBatcher(
        {"rgb": rgb_model, "flow": flow_model},
        lambda inputs, stream: preprocess_input(inputs, settings.backbone, stream),
        settings.batch_size,
    )
    frames: dict[int, np.ndarray] = {}
    flows: dict[int, np.ndarray] = {}
    pool = FlowPool(
        settings.flow,
        dis_preset=settings.dis_preset,
        bound=settings.flow_bound,
        workers=settings.workers,
    )

    def first_flow(snippet: int) -> int:
        return snippet * size + size // 2 - length // 2

    def finish(snippet: int, last_frame: int) -> None:
        """Run snippet `snippet`; frames up to `last_frame` (the video's last if known) exist."""
        centre = snippet * size + size // 2
        needed = [int(j) for j in flow_stack_indices(centre, last_frame, length)]
        centre = min(centre, last_frame)
        futures = {
            j: pool.submit(frames[j], frames[j + 1]) for j in sorted(set(needed)) if j not in flows
        }
        flows.update({j: future.result() for j, future in futures.items()})
        stack = np.concatenate([flows[j] for j in needed], axis=-1)
        batcher.add(_centre_crop(frames[centre], crop), _centre_crop(stack, crop))

    count = 0
    next_snippet = 0
    with pool:
        for frame in reader.frames(fps=settings.frame_rate, size=settings.frame_size):
            frames[count] = frame.image
            count += 1
            # A snippet is complete once the second frame of its last flow has arrived.
            while first_flow(next_snippet) + length < count:
                finish(next_snippet, count - 1)
                next_snippet += 1
                # Keep what later snippets may use: from their first flow or centre frame, and
                # the last two frames, which the last snippets' clamped flows use.
                keep = min(max(first_flow(next_snippet), 0), next_snippet * size, count - 2)
                for old in [k for k in frames if k < keep]:
                    del frames[old]
                for old in [j for j in flows if j < keep]:
                    del flows[old]
        if count < size:
            raise VideoError(
                f"video {reader.path} has {count} frames at {settings.frame_rate:g} fps: shorter "
                f"than one snippet ({size} frames)"
            )
        while next_snippet < math.ceil(count / size):
            finish(next_snippet, count - 1)
            next_snippet += 1
    features = batcher.result()
    return VideoFeatures(
        rgb=features["rgb"],
        flow=features["flow"],
        duration=reader.duration,
        fps=reader.fps,
        num_frames=count,
    )


def make_streams(
    settings: ExtractionSettings,
    weights: str | os.PathLike | None = None,
    flow_weights: str | os.PathLike | None = None,
    seed: int = 0,
):
    """The spatial and temporal backbones for `settings`, with their weights.

    The temporal stream takes `flow_weights`; without them, a BN-Inception `state_dict` given as
    `weights` initialises it too (TSN's cross-modality initialisation), and any other `weights`
    leave it randomly initialised. A random initialisation is seeded by `seed` (each stream's
    network is built after `keras.utils.set_random_seed(seed + i)`), so an extraction that is
    stopped and resumed gives the same features to the same video; the seed is recorded.

    Returns:
        `(rgb_model, flow_model, description)`, `description` naming the weights files and, when
        a stream is random, the seed (for `meta.json`).
    """
    if flow_weights is None and weights is not None:
        if Path(weights).suffix in _STATE_DICT_SUFFIXES:
            flow_weights = weights
    models = {}
    for index, (stream, stream_weights) in enumerate((("rgb", weights), ("flow", flow_weights))):
        channels = STREAM_CHANNELS[stream]
        keras.utils.set_random_seed(seed + index)
        models[stream] = make_backbone(
            settings.backbone,
            stream=stream,
            input_shape=(settings.crop, settings.crop, channels),
            weights=stream_weights,
        )
    # Absolute paths: `keras-wsal detect VIDEOS --model RUN` loads the same files again.
    description = {
        "rgb_weights": str(Path(weights).resolve()) if weights is not None else None,
        "flow_weights": str(Path(flow_weights).resolve()) if flow_weights is not None else None,
    }
    if weights is None or flow_weights is None:
        description["random_init_seed"] = seed
    return models["rgb"], models["flow"], description
