"""The settings of end-to-end UntrimmedNet training, with the paper's per-stream schedule."""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

from keras_wsal.backbones import BACKBONES, STREAM_DROPOUT
from keras_wsal.training.proposal_sampling import PROPOSAL_METHODS
from keras_wsal.training.recipes import PAPER_SCHEDULES
from keras_wsal.training.run_folder import save_config
from keras_wsal.training.tsn_sampling import CROP_SCALES
from keras_wsal.utils.arguments import is_int, is_real
from keras_wsal.video.flow import DIS_PRESETS, FLOW_METHODS


@dataclasses.dataclass
class EndToEndConfig:
    """What `train_end_to_end` does; saved as the run folder's `config.json`.

    `None` fields take the paper's value for `stream` (UntrimmedNet §5.2): learning rate
    0.001 / 0.005, decayed ÷10 every 4,000 / 6,000 updates, 10,000 / 18,000 updates, dropout
    0.8 / 0.7 (spatial / temporal).

    Attributes:
        videos: the folder of videos (`keras_wsal.video.find_videos`: a video is named by its
            file name without suffix).
        annotations: an ActivityNet-style annotations JSON; only each video's subset and labels
            are read (`"segment"`s never). The classes are its sorted labels, "Ambiguous" excluded.
        subset: the subset to train on; every one of its videos must be in `videos`.
        out: the run folder.
        stream: `"rgb"` (spatial stream) or `"flow"` (temporal stream).
        mode: `"soft"` or `"hard"` selection.
        backbone: one of `keras_wsal.backbones.BACKBONES`.
        weights: the backbone's ImageNet (RGB) weights, a local file (`load_backbone_weights`);
            the flow stream gets them by TSN's cross-modality initialisation. None: random.
        proposals: `"shot"` or `"uniform"` clip proposals.
        clip_frames: `K` of shot-based proposals (frames per clip; the paper: 300).
        shot_threshold: the HOG-difference threshold of a shot change; None: automatic
            (`keras_wsal.proposals.automatic_threshold`, the module's docstring says why).
        keep_remainder: keep each shot's leftover shorter than `clip_frames` as one more clip
            (the paper drops it; a video with no whole clip keeps its leftovers anyway).
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
    stream: str = "rgb"
    mode: str = "soft"
    backbone: str = "bn_inception"
    weights: str | None = None
    proposals: str = "shot"
    clip_frames: int = 300
    shot_threshold: float | None = None
    keep_remainder: bool = False
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
                f"end-to-end training config: `{field}` must be {expected}; received "
                f"{getattr(self, field)!r}."
            )

        choices = {
            "stream": tuple(PAPER_SCHEDULES),
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
            if not is_int(value, 1):
                fail(field, "an int ≥ 1")
        for field in ("iterations", "lr_step", "workers"):
            value = getattr(self, field)
            if value is not None and (not is_int(value, 1)):
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
        if self.shot_threshold is not None and not (
            is_real(self.shot_threshold)
            and math.isfinite(self.shot_threshold)
            and self.shot_threshold >= 0
        ):
            fail("shot_threshold", "a finite float ≥ 0 or None (automatic)")
        if not isinstance(self.keep_remainder, bool):
            fail("keep_remainder", "True or False")
        schedule = PAPER_SCHEDULES[self.stream]
        for field in ("learning_rate", "lr_step", "iterations"):
            if getattr(self, field) is None:
                setattr(self, field, schedule[field])
        if self.dropout is None:
            self.dropout = STREAM_DROPOUT[self.stream]

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
