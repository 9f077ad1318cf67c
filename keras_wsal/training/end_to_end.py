"""End-to-end training of UntrimmedNet on raw videos: the backbone and the heads learn jointly.

The pipeline of one training sample (UntrimmedNet §3.1, §5.2; TSN for the snippets):

1. Clip proposals of the video, computed once before training (`keras_wsal.proposals`):
   shot-based (HOG differences, clips of `clip_frames = 300` frames inside each shot; the
   paper's default) or uniform (`uniform_clips` equal clips). Frames are the video's own,
   0-based, ranges half-open.
2. `num_clips = 7` of them drawn at random (without replacement when the video has enough; the
   draw is completed with replacement otherwise), in time order.
3. Per clip, TSN's snippet sampling (`segment_frames`): the clip is cut into `num_segments = 3`
   equal segments and one frame is drawn in each.
4. Decoding of only those frames (`keras_wsal.video`; frames resized to `frame_size` on the
   shorter side); for the temporal stream, the stack of the 5 DIS flows around each drawn
   frame, computed on the fly and quantised as TSN stores them (the convention of
   `keras_wsal.video.extraction`: flows `c - 2 .. c + 2`, clamped to the video).
5. TSN's corner cropping and scale jittering (`multi_scale_crop`), one crop per sample, then
   `keras_wsal.backbones.preprocess_input`.

`UntrimmedNetVideo` maps the `[N, K, S, S, C]` snippets of a video to its prediction; the
loss is UntrimmedNet's eq. 5 (`UntrimmedNetLoss`) on video-level labels only: the annotations'
segments are never read.

The recipe (§5.2) is the default: SGD with momentum 0.9, batch 256 videos (reached by gradient
accumulation of micro-batches, `gradient_accumulation_steps` of the Keras optimizer), learning
rate 0.001 ÷ 10 every 4,000 updates for 10,000 updates (spatial stream) and 0.005 ÷ 10 every
6,000 updates for 18,000 updates (temporal stream), dropout 0.8 / 0.7, partial BN, weight decay
5e-4, ImageNet weights for both streams (the temporal one by TSN's cross-modality
initialisation).

A run folder holds:

```
RUN_DIR/
  config.json              the EndToEndConfig
  classes.json             the class names, in the order of the model's outputs
  checkpoints/             model + optimizer every `checkpoint_every` updates (resumable)
  history.json             the mean loss of each round of `checkpoint_every` updates
  model.keras              the trained UntrimmedNetVideo
  backbone_STREAM.weights.h5   its backbone, for `keras-wsal extract --weights/--flow-weights`
  head.keras               its heads, an UntrimmedNet on STREAM snippet features
```

Started again on the same folder with the same settings (only `iterations` may grow), training
goes on from the last checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import threading
from pathlib import Path

import cv2
import keras
import numpy as np
import tensorflow as tf

from keras_wsal.backbones import (
    BACKBONES,
    STREAM_CHANNELS,
    STREAM_DROPOUT,
    cross_modality_init,
    load_backbone_weights,
    make_backbone,
    preprocess_input,
)
from keras_wsal.datasets._schema import parse_database, read_json, resolve_classes
from keras_wsal.datasets.weak_labels import weak_labels_from_names
from keras_wsal.errors import DataError, VideoError
from keras_wsal.losses import UntrimmedNetLoss
from keras_wsal.models import UntrimmedNetVideo
from keras_wsal.proposals import (
    HOG_SIZE,
    detect_shots,
    hog_differences,
    shot_proposals,
    uniform_proposals,
)
from keras_wsal.training.run_folder import (
    CHECKPOINT_DIR,
    CLASSES_FILE,
    HISTORY_FILE,
    MODEL_FILE,
    CheckpointEveryRound,
    check_resumable,
    save_atomically,
    save_config,
)
from keras_wsal.utils.atomic_files import atomic_write_text
from keras_wsal.video.extraction import find_videos
from keras_wsal.video.flow import (
    DEFAULT_BOUND,
    DIS_PRESETS,
    FLOW_METHODS,
    STACK_LENGTH,
    compute_flow,
    create_flow_estimator,
    quantize_flow,
)
from keras_wsal.video.reader import open_video

logger = logging.getLogger(__name__)

CROP_SCALES = (1.0, 0.875, 0.75, 0.66)
PROPOSAL_METHODS = ("shot", "uniform")
# UntrimmedNet §5.2, per stream: initial learning rate, updates between ÷10 decays, updates.
PAPER_SCHEDULES = {
    "rgb": {"learning_rate": 0.001, "lr_step": 4000, "iterations": 10000},
    "flow": {"learning_rate": 0.005, "lr_step": 6000, "iterations": 18000},
}
BACKBONE_FILE = "backbone_{}.weights.h5"
HEAD_FILE = "head.keras"
# Requested frames closer than this are decoded in one pass instead of seeking again.
_MERGE_GAP = 32


def segment_frames(
    clips: np.ndarray, num_segments: int, rng: np.random.Generator | None = None
) -> np.ndarray:
    """TSN's snippet sampling: one frame in each of `K` equal segments of every clip.

    For a clip `[b, e)` of `L = e - b` frames, segment `k` is `[b + k L / K, b + (k + 1) L / K)`
    and its frame is

        f_k = b + floor((k + u_k) L / K),   u_k ~ U[0, 1) (training),  u_k = 1/2 (`rng=None`),

    the segment's centre at test time. A clip shorter than `K` frames repeats frames.

    Args:
        clips: int `[N, 2]` clips `[begin, end)` with `end > begin`.
        num_segments: `K >= 1`.
        rng: the random generator; `None` samples the centres.

    Returns:
        int64 `[N, K]` frame indices, each in its clip.
    """
    clips = np.asarray(clips, dtype=np.int64).reshape(-1, 2)
    if num_segments < 1:
        raise ValueError(f"num_segments must be >= 1, got {num_segments}")
    if np.any(clips[:, 1] <= clips[:, 0]):
        raise ValueError(f"every clip must have end > begin, got {clips.tolist()}")
    lengths = (clips[:, 1] - clips[:, 0])[:, None]
    if rng is None:
        offsets = np.full((len(clips), num_segments), 0.5)
    else:
        offsets = rng.random((len(clips), num_segments))
    positions = np.arange(num_segments)[None, :] + offsets
    frames = clips[:, :1] + np.floor(positions * lengths / num_segments).astype(np.int64)
    return np.minimum(frames, clips[:, 1:] - 1)


def multi_scale_crop(
    images: np.ndarray,
    input_size: int,
    rng: np.random.Generator | None = None,
    scales: tuple[float, ...] = CROP_SCALES,
    max_distort: int = 1,
) -> np.ndarray:
    """TSN's corner cropping and scale jittering (`GroupMultiScaleCrop`), one crop for all images.

    With `B = min(H, W)`, the crop sides are `round_down(B · s)` for `s` in `scales` (TSN:
    {256, 224, 192, 168} for `B = 256`), a side within 2 pixels of `input_size` snapped to it.
    A crop `(w, h)` takes its width and height from scales at most `max_distort` apart in the
    list, uniformly among those pairs; its position is one of 5, uniformly: the 4 corners and
    the centre (`(i Δw, j Δh)` for `(i, j)` in (0, 0), (4, 0), (0, 4), (4, 4), (2, 2), with
    `Δ = (image side - crop side) // 4`). The crop is resized to `input_size x input_size`
    (bilinear). With `rng=None` (test time): the centre square of side `min(input_size, B)`.

    Args:
        images: uint8 or float `[..., H, W, C]` (frames or flow stacks of one sample).
        input_size: the output side.
        rng: the random generator; `None` gives the centre crop.
        scales, max_distort: see above.

    Returns:
        `[..., input_size, input_size, C]`, the dtype of `images`.
    """
    images = np.asarray(images)
    if images.ndim < 3:
        raise ValueError(f"images must be [..., H, W, C], got shape {images.shape}")
    if input_size < 1:
        raise ValueError(f"input_size must be >= 1, got {input_size}")
    height, width = images.shape[-3:-1]
    if rng is None:
        w = h = min(input_size, height, width)
        left, top = (width - w) // 2, (height - h) // 2
    else:
        base = min(height, width)
        sides = [int(base * scale) for scale in scales]
        sides = [input_size if abs(side - input_size) < 3 else side for side in sides]
        pairs = [
            (sides[j], sides[i])
            for i in range(len(sides))
            for j in range(len(sides))
            if abs(i - j) <= max_distort
        ]
        w, h = pairs[rng.integers(len(pairs))]
        step_w, step_h = (width - w) // 4, (height - h) // 4
        i, j = ((0, 0), (4, 0), (0, 4), (4, 4), (2, 2))[rng.integers(5)]
        left, top = i * step_w, j * step_h
    crops = images[..., top : top + h, left : left + w, :]
    flat = crops.reshape(-1, h, w, images.shape[-1])
    size = (input_size, input_size)
    resized = [
        cv2.resize(np.ascontiguousarray(crop), size, interpolation=cv2.INTER_LINEAR)
        for crop in flat
    ]
    # cv2.resize drops a trailing axis of size 1.
    out = np.stack(resized).reshape(*images.shape[:-3], input_size, input_size, images.shape[-1])
    return out.astype(images.dtype, copy=False)


class VideoClipLoader:
    """The snippets of chosen clips of a video, as `UntrimmedNetVideo` inputs `[N, K, S, S, C]`.

    Decodes only the frames the snippets need (windows of nearby frames are decoded in one
    pass; PyAV seeks between them), resized to `frame_size` on the shorter side; for
    `modality="flow"` computes the 5 flows around each snippet's frame (`flow` method, quantised
    with bound 20); crops with `multi_scale_crop`; applies `preprocess_input`. Thread safe (one
    flow estimator per thread).

    Args:
        modality: `"rgb"` or `"flow"`.
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
        modality: str = "rgb",
        backbone: str = "bn_inception",
        num_segments: int = 3,
        frame_size: int = 256,
        input_size: int = 224,
        crop_scales: tuple[float, ...] = CROP_SCALES,
        flow: str = "dis",
        dis_preset: str = "medium",
    ):
        self.modality = modality
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
        if self.modality == "rgb":
            frames = _read_frames(reader, np.unique(centres), self.frame_size)
            snippets = np.stack([frames[int(c)] for c in centres.ravel()])
        else:
            if num_frames < 2:
                raise VideoError(
                    f"video {path} has {num_frames} frame(s): optical flow needs at least 2"
                )
            # Flow j goes from frame j to frame j + 1; a stack takes flows c - 2 .. c + 2.
            first = centres[..., None] - STACK_LENGTH // 2 + np.arange(STACK_LENGTH)
            flow_indices = np.clip(first, 0, num_frames - 2)
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
        return preprocess_input(cropped, self.backbone, self.modality)


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


@dataclasses.dataclass(frozen=True)
class _TrainingVideo:
    name: str
    path: Path
    num_frames: int
    proposals: np.ndarray


def _video_proposals(
    path: Path, method: str, clip_frames: int, uniform_clips: int
) -> _TrainingVideo:
    """Open a video and compute its clip proposals (shot-based: decodes it once at HOG size)."""
    reader = open_video(path)
    if method == "shot":
        differences = hog_differences(frame.image for frame in reader.frames(size=HOG_SIZE))
        num_frames = differences.size + 1
        proposals = shot_proposals(detect_shots(differences), clip_frames=clip_frames)
    else:
        num_frames = reader.frame_count
        proposals = uniform_proposals(num_frames, min(uniform_clips, num_frames))
    return _TrainingVideo(path.stem, path, num_frames, proposals)


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


@dataclasses.dataclass
class EndToEndConfig:
    """What `train_end_to_end` does; saved as the run folder's `config.json`.

    `None` fields take the paper's value for `modality` (UntrimmedNet §5.2): learning rate
    0.001 / 0.005, decayed ÷10 every 4,000 / 6,000 updates, 10,000 / 18,000 updates, dropout
    0.8 / 0.7 (spatial / temporal).

    Attributes:
        videos: the folder of videos (`keras_wsal.video.find_videos`: a video is named by its
            file name without suffix).
        annotations: an ActivityNet-style annotations JSON; only each video's subset and labels
            are read (`"segment"`s never). The classes are its sorted labels, "Ambiguous" excluded.
        subset: the subset to train on; every one of its videos must be in `videos`.
        out: the run folder.
        modality: `"rgb"` (spatial stream) or `"flow"` (temporal stream).
        mode: `"soft"` or `"hard"` selection.
        backbone: one of `keras_wsal.backbones.BACKBONES`.
        weights: the backbone's ImageNet (RGB) weights, a local file (`load_backbone_weights`);
            the flow stream gets them by TSN's cross-modality initialisation. None: random.
        proposals: `"shot"` or `"uniform"` clip proposals.
        clip_frames: `K` of shot-based proposals (frames per clip; the paper: 300).
        uniform_clips: the number of uniform proposals per video (at most its frame count).
        num_clips: clips sampled per video per step (the paper: 7).
        num_segments: snippets per clip (TSN: 3).
        frame_size: the shorter side frames are resized to before cropping (TSN: 256).
        input_size: the side of the backbone's input (224).
        crop_scales: scale jittering's crop scales (TSN: 1, .875, .75, .66).
        flow, dis_preset: the optical flow method and DIS preset (temporal stream).
        batch_size: videos per update (the paper: 256).
        micro_batch_size: videos per forward/backward pass; `batch_size / micro_batch_size`
            passes are accumulated per update (must divide `batch_size`).
        iterations: updates (optimizer steps of `batch_size` videos).
        learning_rate, lr_step: the initial rate and the updates between ÷10 decays.
        momentum: SGD momentum.
        dropout: dropout on the clip features.
        weight_decay: coupled L2 weight decay on every trainable kernel.
        partial_bn: TSN's partial BN.
        k_ratio: hard selection's top-k fraction (None: 0.5, the paper's k = floor(N / 2)).
        checkpoint_every: updates between checkpoints and history entries.
        seed: seeds the weights, the sampling and the augmentation.
        workers: videos loaded in parallel (default: the number of CPUs).
        skip_bad: leave out videos that are missing or cannot be read (logged) instead of
            stopping.
        jit_compile: XLA for the train step ("auto", True or False).
        run_eagerly: run the train step op by op (debugging; faster than tracing for a few
            steps of a tiny model).
    """

    videos: str
    annotations: str
    subset: str
    out: str
    modality: str = "rgb"
    mode: str = "soft"
    backbone: str = "bn_inception"
    weights: str | None = None
    proposals: str = "shot"
    clip_frames: int = 300
    uniform_clips: int = 40
    num_clips: int = 7
    num_segments: int = 3
    frame_size: int = 256
    input_size: int = 224
    crop_scales: tuple[float, ...] = CROP_SCALES
    flow: str = "dis"
    dis_preset: str = "medium"
    batch_size: int = 256
    micro_batch_size: int = 8
    iterations: int | None = None
    learning_rate: float | None = None
    lr_step: int | None = None
    momentum: float = 0.9
    dropout: float | None = None
    weight_decay: float = 5e-4
    partial_bn: bool = True
    k_ratio: float | None = None
    checkpoint_every: int = 500
    seed: int = 0
    workers: int | None = None
    skip_bad: bool = False
    jit_compile: str | bool = "auto"
    run_eagerly: bool = False

    def __post_init__(self):
        for field in ("videos", "annotations", "out"):
            setattr(self, field, str(getattr(self, field)))
        if self.weights is not None:
            self.weights = str(self.weights)
        self.crop_scales = tuple(float(s) for s in self.crop_scales)

        def fail(field, expected):
            raise ValueError(
                f"end-to-end training config: `{field}` must be {expected}; received {getattr(self, field)!r}."
            )

        choices = {
            "modality": tuple(PAPER_SCHEDULES),
            "mode": ("soft", "hard"),
            "backbone": BACKBONES,
            "proposals": PROPOSAL_METHODS,
            "flow": FLOW_METHODS,
            "dis_preset": tuple(DIS_PRESETS),
            "jit_compile": ("auto", True, False),
        }
        for field, allowed in choices.items():
            if getattr(self, field) not in allowed:
                fail(field, f"one of {allowed}")
        for field in (
            "clip_frames",
            "uniform_clips",
            "num_clips",
            "num_segments",
            "frame_size",
            "input_size",
            "batch_size",
            "micro_batch_size",
            "checkpoint_every",
        ):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                fail(field, "an int ≥ 1")
        for field in ("iterations", "lr_step", "workers"):
            value = getattr(self, field)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                fail(field, "an int ≥ 1 or None")
        if self.batch_size % self.micro_batch_size:
            fail("micro_batch_size", f"a divisor of batch_size={self.batch_size}")
        if self.frame_size < self.input_size:
            fail("frame_size", f"≥ input_size={self.input_size}")
        if not self.crop_scales or not all(0 < s <= 1 for s in self.crop_scales):
            fail("crop_scales", "a non-empty list of scales in (0, 1]")
        if self.learning_rate is not None and not (
            math.isfinite(self.learning_rate) and self.learning_rate > 0
        ):
            fail("learning_rate", "a finite float > 0 or None")
        if not 0 <= self.momentum < 1:
            fail("momentum", "in [0, 1)")
        if self.dropout is not None and not 0 <= self.dropout < 1:
            fail("dropout", "in [0, 1) or None")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            fail("weight_decay", "a finite float ≥ 0")
        if self.k_ratio is not None and not 0 < self.k_ratio <= 1:
            fail("k_ratio", "in (0, 1] or None")
        schedule = PAPER_SCHEDULES[self.modality]
        for field in ("learning_rate", "lr_step", "iterations"):
            if getattr(self, field) is None:
                setattr(self, field, schedule[field])
        if self.dropout is None:
            self.dropout = STREAM_DROPOUT[self.modality]

    @property
    def accumulation_steps(self) -> int:
        """Forward/backward passes per update, `batch_size / micro_batch_size`."""
        return self.batch_size // self.micro_batch_size

    def to_dict(self) -> dict:
        config = dataclasses.asdict(self)
        config["crop_scales"] = list(self.crop_scales)
        return config

    def save(self, folder: str | os.PathLike) -> Path:
        """Write `folder/config.json` atomically."""
        return save_config(folder, self.to_dict())


@dataclasses.dataclass
class EndToEndResult:
    """What `train_end_to_end` produced: the run folder, the model, updates done, loss history."""

    run_dir: Path
    model: keras.Model
    steps: int
    history: dict


def _training_videos(config: EndToEndConfig):
    """The subset's videos with their proposals, the classes and the multi-hot labels."""
    source = config.annotations
    records = parse_database(read_json(Path(source)), source)
    classes = resolve_classes(records, None, source)
    if not classes:
        raise DataError(f"{source}: no labels, so no classes to train on")
    names = sorted(video for video, record in records.items() if record.subset == config.subset)
    if not names:
        subsets = sorted({record.subset for record in records.values()})
        raise DataError(
            f'{source}: subset "{config.subset}" has no videos; the subsets are {subsets}'
        )
    files = find_videos(config.videos)
    missing = [name for name in names if name not in files]
    if missing and not config.skip_bad:
        raise DataError(
            f"{len(missing)} video(s) of subset {config.subset!r} in {source} are not in {config.videos}: "
            f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}"
        )
    videos = []
    for name in names:
        if name in missing:
            logger.warning("skipping video %s: not in %s", name, config.videos)
            continue
        try:
            video = _video_proposals(
                files[name], config.proposals, config.clip_frames, config.uniform_clips
            )
            if config.modality == "flow" and video.num_frames < 2:
                raise VideoError(
                    f"video {video.path} has {video.num_frames} frame: optical flow needs 2"
                )
            videos.append(video)
        except VideoError as error:
            if not config.skip_bad:
                raise
            logger.warning("skipping video %s: %s", name, error)
    if not videos:
        raise DataError(f"every video of subset {config.subset!r} is missing or unreadable")
    weak = weak_labels_from_names(classes, {v.name: records[v.name].labels for v in videos})
    return videos, classes, weak.multi_hot


def _training_dataset(config: EndToEndConfig, videos, labels: np.ndarray, loader, start_round: int):
    """An endless `tf.data` pipeline of micro-batches `({modality: [b, N, K, S, S, C]}, [b, C])`.

    Sample `n = e V + p` (V videos) is the video at position `p` of epoch `e`'s order
    `permutation(seed, r, e)`, `r` the round training starts from (0, or the round a resumed
    run goes on with); it draws its clips, snippets and crop from `default_rng([seed, r, n])`,
    so the stream does not depend on the number of parallel workers.
    """
    seed = (config.seed, start_round)

    def load(key):
        epoch, position = divmod(int(key), len(videos))
        video = int(np.random.default_rng([*seed, epoch]).permutation(len(videos))[position])
        rng = np.random.default_rng([*seed, int(key)])
        entry = videos[video]
        clips = sample_clips(entry.proposals, config.num_clips, rng)
        snippets = loader(entry.path, clips, entry.num_frames, rng)
        return snippets.astype(np.float32), labels[video]

    channels = STREAM_CHANNELS[config.modality]
    shape = (config.num_clips, config.num_segments, config.input_size, config.input_size, channels)

    def load_tensors(key):
        snippets, label = tf.numpy_function(load, [key], (tf.float32, tf.float32))
        inputs = {config.modality: tf.ensure_shape(snippets, shape)}
        return inputs, tf.ensure_shape(label, labels.shape[1:])

    return (
        tf.data.Dataset.counter()
        .map(
            load_tensors,
            num_parallel_calls=config.workers or os.cpu_count() or 1,
            deterministic=True,
        )
        .batch(config.micro_batch_size, drop_remainder=True)
        .prefetch(1)
    )


def _initialise_backbone(model: UntrimmedNetVideo, weights: str | None) -> None:
    """ImageNet (RGB) `weights` for the spatial stream; for the temporal one by TSN's
    cross-modality initialisation (`keras_wsal.backbones.cross_modality_init`)."""
    if weights is None:
        return
    if model.modality == "rgb":
        load_backbone_weights(model.backbone, weights)
    else:
        size = model.input_size
        rgb = make_backbone(
            model.backbone_name, modality="rgb", input_shape=(size, size, 3), weights=weights
        )
        cross_modality_init(rgb, model.backbone)


class _StopAfterUpdates(keras.callbacks.Callback):
    """Ends `fit` once the optimizer has made `updates` updates (a round may end early)."""

    def __init__(self, updates: int):
        super().__init__()
        self.updates = updates

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) >= self.updates:
            self.model.stop_training = True


def _save_run_files(model, out: Path) -> None:
    """model.keras, the backbone's weights and the head model, each replaced atomically."""
    files = {
        MODEL_FILE: model.save,
        BACKBONE_FILE.format(model.modality): model.backbone.save_weights,
        HEAD_FILE: model.head.save,
    }
    save_atomically(out, files)


def train_end_to_end(config: EndToEndConfig, verbose="auto", callbacks=()) -> EndToEndResult:
    """Train an `UntrimmedNetVideo` on a folder of videos and write the run folder `config.out`.

    See the module docstring for the sampling, the recipe and the run folder.

    Args:
        config: the run's settings.
        verbose: Keras' `fit` verbosity.
        callbacks: extra Keras callbacks (a Keras step is one micro-batch).

    Returns:
        An `EndToEndResult`; `steps` counts updates.

    Raises:
        DataError: the annotations are malformed, the subset is empty, a video is missing or
            unreadable (without `skip_bad`), or `config.out` holds a different run.
        VideoError: a video cannot be read (without `skip_bad`).
    """
    out = Path(config.out)
    check_resumable(out, config.to_dict(), growable=("iterations",))
    videos, classes, labels = _training_videos(config)
    out.mkdir(parents=True, exist_ok=True)
    config.save(out)
    atomic_write_text(out / CLASSES_FILE, json.dumps(classes, indent=1) + "\n")

    keras.utils.set_random_seed(config.seed)
    model = UntrimmedNetVideo(
        len(classes),
        modality=config.modality,
        backbone=config.backbone,
        input_size=config.input_size,
        num_segments=config.num_segments,
        mode=config.mode,
        k_ratio=config.k_ratio if config.mode == "hard" else None,
        dropout=config.dropout,
        partial_bn=config.partial_bn,
        weight_decay=config.weight_decay,
    )
    _initialise_backbone(model, config.weights)
    accumulation = config.accumulation_steps
    # Keras schedules count forward/backward passes, not updates.
    schedule = keras.optimizers.schedules.ExponentialDecay(
        config.learning_rate,
        decay_steps=config.lr_step * accumulation,
        decay_rate=0.1,
        staircase=True,
    )
    optimizer = keras.optimizers.SGD(
        schedule,
        momentum=config.momentum,
        gradient_accumulation_steps=accumulation if accumulation > 1 else None,
    )
    model.compile(
        optimizer=optimizer,
        loss=UntrimmedNetLoss(),
        jit_compile=config.jit_compile,
        run_eagerly=config.run_eagerly,
    )
    model.build(None)
    optimizer.build(model.trainable_variables)
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
    manager = tf.train.CheckpointManager(checkpoint, str(out / CHECKPOINT_DIR), max_to_keep=2)
    if manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        logger.info("resuming from %s", manager.latest_checkpoint)
    done = int(optimizer.iterations.numpy())
    initial_round = done // config.checkpoint_every
    rounds = math.ceil(config.iterations / config.checkpoint_every)

    loader = VideoClipLoader(
        modality=config.modality,
        backbone=config.backbone,
        num_segments=config.num_segments,
        frame_size=config.frame_size,
        input_size=config.input_size,
        crop_scales=config.crop_scales,
        flow=config.flow,
        dis_preset=config.dis_preset,
    )
    round_callback = CheckpointEveryRound(manager, out / HISTORY_FILE)
    if done < config.iterations:
        dataset = _training_dataset(config, videos, labels, loader, initial_round)
        model.fit(
            dataset,
            epochs=rounds,
            initial_epoch=initial_round,
            steps_per_epoch=config.checkpoint_every * accumulation,
            callbacks=[round_callback, _StopAfterUpdates(config.iterations), *callbacks],
            shuffle=False,  # the pipeline shuffles
            verbose=verbose,
        )
    _save_run_files(model, out)
    history = {"loss": [entry.get("loss") for entry in round_callback.losses]}
    return EndToEndResult(out, model, int(optimizer.iterations.numpy()), history)


__all__ = [
    "CROP_SCALES",
    "EndToEndConfig",
    "EndToEndResult",
    "PAPER_SCHEDULES",
    "PROPOSAL_METHODS",
    "VideoClipLoader",
    "multi_scale_crop",
    "sample_clips",
    "segment_frames",
    "train_end_to_end",
]
