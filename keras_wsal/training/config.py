"""The training configuration: every choice a run makes, saved beside its checkpoints."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path

from keras_wsal.errors import DataError
from keras_wsal.models.names import MODEL_NAMES
from keras_wsal.proposals.snippet_proposals import SNIPPET_PROPOSAL_METHODS
from keras_wsal.training.precision import PRECISIONS
from keras_wsal.training.recipes import RECIPE_NAMES, recipe_for
from keras_wsal.training.run_folder import CONFIG_FILE, save_config
from keras_wsal.utils.arguments import is_int, is_real

STRATEGIES = ("auto", "default", "mirrored", "multi-worker")
OPTIMIZERS = ("adam", "sgd")


# The settings a recipe fills when they are not given (besides the training length).
RECIPE_FIELDS = (
    "optimizer",
    "learning_rate",
    "dropout",
    "casl",
    "validation_fraction",
    "batch_size",
    "accumulation_steps",
    "lr_step",
    "clips",
    "proposals",
    "k_ratio",
    "casl_pairs",
    "frame_stride",
)


@dataclasses.dataclass
class TrainConfig:
    """What `keras_wsal.training.train` does, and what `keras-wsal train` saves as `config.json`.

    The settings left None (optimizer, learning rate, training length, dropout, CASL weight,
    held-out share) come from the named `recipe` (`keras_wsal.training.recipes`): "default", the
    settings that measured best on `benchmarks/bench_quality.py`, or "paper". The saved config
    holds the values chosen. Weight decay 5e-4 (both papers) and the W-TALC maximum length of 750
    snippets per training video in both recipes.

    Attributes:
        data: the dataset folder (see `keras_wsal.datasets`).
        subset: the subset to train on.
        model: one of `keras_wsal.models.MODEL_NAMES`.
        out: the run folder.
        recipe: "default" or "paper" (`keras_wsal.training.recipes`).
        epochs: passes over the training subset (when `steps` is None).
        steps: training steps in all (batches); overrides `epochs`.
        batch_size: the global batch size (videos per step, over all replicas); None: the
            recipe's.
        max_length: the most snippets per training video (random crop); None keeps whole videos.
        precision: "auto" (resolved by `train` to the fastest policy of the machine and saved as
            chosen; `keras_wsal.training.precision`), "float32", "mixed_float16" (with dynamic
            loss scaling) or "mixed_bfloat16".
        norms: WSGN's frame selection subset, e.g. ("zloc", "gloc", "sloc"); None: the model's
            (`keras_wsal.models.default_norms`: the complete WSGN, none for "supervised").
        casl: weight of W-TALC's co-activity similarity loss (0 = off).
        seed: seeds weights, shuffling and crops.
        optimizer: "adam" or "sgd" (momentum 0.9); None picks the paper's for the model.
        learning_rate: None picks the paper's for the model.
        weight_decay: coupled L2 weight decay on every kernel.
        dropout: the model's dropout rate.
        validation_fraction: share of the training videos held out (seeded) to choose the
            checkpoint by their video-level mAP, from video labels only (0: keep the last).
        fusion: two-stream fusion, "late" or "concat"; None: the model's own (W-TALC concatenates,
            the others fuse late).
        k_ratio: top-k fraction for UntrimmedNet hard selection and W-TALC; None: the recipe's
            (the model's own 1/8, or 1/2 for UntrimmedNet's paper recipe, k = ⌊7/2⌋ of 7 clips).
        lr_step: updates between ÷10 decays of the learning rate (0: constant); None: the
            recipe's.
        clips: clip proposals sampled per video per step, each the mean of 3 snippets
            (`keras_wsal.datasets.ClipSampling`, UntrimmedNet §5.3), instead of (a crop of) every
            snippet; 0: off; None: the recipe's (7 in UntrimmedNet's paper recipe).
        proposals: "shot" or "uniform" clip proposals from the features (with `clips`); None:
            the recipe's.
        casl_pairs: W-TALC's CASL pairing: each batch begins with this many pairs of videos
            sharing a class and CASL compares only them; 0: every two videos of a batch that
            share a class; None: the recipe's (3 in W-TALC's paper recipe, else 0).
        frame_stride: WSGN's temporal augmentation (`keras_wsal.datasets.TemporalAugmentation`):
            train on the features interpolated at every `frame_stride`-th video frame from a
            random start among the first 15; 0: off; None: the recipe's (5 in WSGN's paper
            recipe). Detection reads the snippets as they are.
        frames_per_snippet: the video frames one snippet feature covers, for `frame_stride`;
            None: the dataset's (`meta.json`'s extraction record, from `keras-wsal extract`),
            else 16, I3D's.
        stream: train on this one stream of a two-stream dataset (UntrimmedNet trains its
            streams separately; fuse them with `keras_wsal.models.fuse_streams`); None: all.
        checkpoint_every: steps between checkpoints (None: one per epoch, at most 100 in all).
        strategy: "auto", "default", "mirrored" or "multi-worker" (reads TF_CONFIG).
        jit_compile: XLA compilation of the train step ("auto", True or False).
        skip_bad: leave out videos with missing or bad feature files (logged and counted).
        accumulation_steps: steps whose gradients are averaged into one update (an update then
            sees `batch_size × accumulation_steps` videos); None: the recipe's.
    """

    data: str
    subset: str
    model: str
    out: str
    recipe: str = "default"
    epochs: int | None = None
    steps: int | None = None
    batch_size: int | None = None
    max_length: int | None = 750
    precision: str = "auto"
    norms: tuple[str, ...] | None = None
    casl: float | None = None
    seed: int = 0
    optimizer: str | None = None
    learning_rate: float | None = None
    weight_decay: float = 5e-4
    dropout: float | None = None
    validation_fraction: float | None = None
    fusion: str | None = None
    k_ratio: float | None = None
    checkpoint_every: int | None = None
    strategy: str = "auto"
    jit_compile: str | bool = "auto"
    skip_bad: bool = False
    accumulation_steps: int | None = None
    lr_step: int | None = None
    clips: int | None = None
    proposals: str | None = None
    stream: str | None = None
    casl_pairs: int | None = None
    frame_stride: int | None = None
    frames_per_snippet: float | None = None

    def __post_init__(self):
        from keras_wsal.models.names import default_norms
        from keras_wsal.models.wsgn import parse_norms  # Keras: not needed by `--help`

        self.norms = parse_norms(default_norms(self.model) if self.norms is None else self.norms)
        # Absolute, so that the run is the same however its paths were written and its dataset
        # is found from any working directory (detect, export).
        self.data = os.path.abspath(os.path.expanduser(str(self.data)))
        self.out = os.path.abspath(os.path.expanduser(str(self.out)))
        if self.recipe not in RECIPE_NAMES:
            raise ValueError(
                f"training config: `recipe` must be one of {RECIPE_NAMES}; received "
                f"{self.recipe!r}."
            )
        if self.model in MODEL_NAMES:
            recipe = recipe_for(self.model, self.recipe, self.stream)
            given_length = self.epochs is not None or self.steps is not None
            for field in RECIPE_FIELDS:
                if getattr(self, field) is None:
                    setattr(self, field, getattr(recipe, field))
            if not given_length:
                self.epochs, self.steps = recipe.epochs, recipe.steps
        self._check()

    def _check(self):
        def fail(field, expected):
            raise ValueError(
                f"training config: `{field}` must be {expected}; received {getattr(self, field)!r}."
            )

        if self.model not in MODEL_NAMES:
            fail("model", f"one of {MODEL_NAMES}")
        if self.precision not in PRECISIONS:
            fail("precision", f"one of {PRECISIONS}")
        if self.strategy not in STRATEGIES:
            fail("strategy", f"one of {STRATEGIES}")
        if self.optimizer not in (None, *OPTIMIZERS):
            fail("optimizer", f"one of {OPTIMIZERS}")
        if self.fusion not in (None, "late", "concat"):
            fail("fusion", "'late', 'concat' or None (the model's own)")
        if self.epochs is not None and (not is_int(self.epochs) or self.epochs < 1):
            fail("epochs", "an int ≥ 1 or None")
        if self.steps is not None and (not is_int(self.steps) or self.steps < 1):
            fail("steps", "an int ≥ 1 or None")
        if not is_real(self.validation_fraction) or not 0.0 <= self.validation_fraction < 1.0:
            fail("validation_fraction", "a float in [0, 1)")
        if not is_int(self.batch_size) or self.batch_size < 1:
            fail("batch_size", "an int ≥ 1")
        if not is_int(self.accumulation_steps) or self.accumulation_steps < 1:
            fail("accumulation_steps", "an int ≥ 1")
        for field in ("lr_step", "clips", "casl_pairs", "frame_stride"):
            if not is_int(getattr(self, field)) or getattr(self, field) < 0:
                fail(field, "an int ≥ 0 (0: off)")
        if self.frames_per_snippet is not None and not (
            is_real(self.frames_per_snippet) and 0 < self.frames_per_snippet < math.inf
        ):
            fail("frames_per_snippet", "a finite float > 0 or None (the dataset's)")
        if self.clips and self.frame_stride:
            fail("frame_stride", "0 when `clips` is set (clips are made from the snippets)")
        if self.proposals not in SNIPPET_PROPOSAL_METHODS:
            fail("proposals", f"one of {SNIPPET_PROPOSAL_METHODS}")
        if self.stream is not None and (not isinstance(self.stream, str) or not self.stream):
            fail("stream", "a stream name or None")
        if self.max_length is not None and (not is_int(self.max_length) or self.max_length < 1):
            fail("max_length", "an int ≥ 1 or None")
        if self.checkpoint_every is not None and (
            not is_int(self.checkpoint_every) or self.checkpoint_every < 1
        ):
            fail("checkpoint_every", "an int ≥ 1 or None")
        if not is_int(self.seed) or not 0 <= self.seed < 2**32:
            fail("seed", "an int in [0, 2**32)")
        for field in ("casl", "weight_decay"):
            value = getattr(self, field)
            if not is_real(value) or not value >= 0 or math.isinf(value):
                fail(field, "a finite float ≥ 0")
        if not is_real(self.dropout) or not 0.0 <= self.dropout < 1.0:
            fail("dropout", "a float in [0, 1)")
        if self.learning_rate is not None and not (
            is_real(self.learning_rate)
            and self.learning_rate > 0
            and math.isfinite(self.learning_rate)
        ):
            fail("learning_rate", "a finite float > 0")
        if self.k_ratio is not None and not (is_real(self.k_ratio) and 0 < self.k_ratio <= 1):
            fail("k_ratio", "a float in (0, 1] or None")
        if self.jit_compile not in ("auto", True, False):
            fail("jit_compile", "'auto', True or False")
        if not isinstance(self.skip_bad, bool):
            fail("skip_bad", "True or False")

    def recipe_overrides(self) -> dict:
        """{option: (value, the recipe's value)} of the settings that differ from the recipe's;
        the training length is one entry, "length" ("80 epochs", "2000 steps")."""
        recipe = recipe_for(self.model, self.recipe, self.stream)
        differing = {
            field: (getattr(self, field), getattr(recipe, field))
            for field in RECIPE_FIELDS
            if getattr(self, field) != getattr(recipe, field)
        }
        length, recipe_length = (
            _length(self.epochs, self.steps),
            _length(recipe.epochs, recipe.steps),
        )
        if length != recipe_length:
            differing["length"] = (length, recipe_length)
        return differing

    def to_dict(self) -> dict:
        config = dataclasses.asdict(self)
        config["norms"] = list(self.norms)
        return config

    def save(self, folder: str | Path) -> Path:
        """Write `folder/config.json` atomically."""
        return save_config(folder, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        """Read a `config.json` written by `save` (a run folder or the file itself)."""
        path = Path(path)
        if path.is_dir():
            path = path / CONFIG_FILE
        try:
            values = json.loads(path.read_text())
        except FileNotFoundError:
            raise DataError(
                f"{path}: no training config here (is this a keras-wsal run folder?)"
            ) from None
        except json.JSONDecodeError as error:
            raise DataError(f"{path}: not valid JSON ({error})") from None
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - fields)
        if unknown:
            raise DataError(f"{path}: unknown training config fields {unknown}")
        try:
            return cls(**values)
        except (TypeError, ValueError) as error:
            raise DataError(f"{path}: {error}") from None


def _length(epochs: int | None, steps: int | None) -> str:
    return f"{steps} steps" if steps is not None else f"{epochs} epochs"
