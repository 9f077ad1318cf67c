"""`keras-wsal train`: train a model on a feature dataset from video-level labels."""

from __future__ import annotations

import argparse
import sys

from keras_wsal.cli._arguments import (
    non_negative_float,
    non_negative_int,
    optional_length,
    positive_int,
)

HELP = "train UntrimmedNet, WSGN or the Naive baseline on a feature dataset"
DESCRIPTION = """\
Train a model on DATASET's subset from video-level labels only (segment boundaries are never read).
RUN_DIR receives config.json, classes.json, checkpoints/, logs/ (TensorBoard) and model.keras.
Run the same command again after an interruption to resume from the last checkpoint.

examples:
  keras-wsal train --data thumos14 --subset validation --model wsgn --out runs/wsgn
  keras-wsal train --data thumos14 --subset validation --model wsgn --norms zloc,gloc \\
      --casl 1.0 --epochs 80 --precision mixed_float16 --out runs/zloc_gloc_casl
  keras-wsal train --data thumos14 --subset validation --model untrimmednet-soft --out runs/unet
  TF_CONFIG='{"cluster": {"worker": ["host1:2222", "host2:2222"]}, "task": {"type": "worker", \\
      "index": 0}}' keras-wsal train --strategy multi-worker ...   (one process per machine)
"""


NEEDS_BACKEND = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from keras_wsal.models import MODEL_NAMES
    from keras_wsal.proposals.snippet_proposals import SNIPPET_PROPOSAL_METHODS
    from keras_wsal.training.config import OPTIMIZERS, STRATEGIES
    from keras_wsal.training.precision import PRECISIONS
    from keras_wsal.training.recipes import RECIPE_NAMES

    parser.add_argument("--data", required=True, help="the dataset folder")
    parser.add_argument("--subset", required=True, help="the subset to train on (e.g. validation)")
    parser.add_argument("--model", required=True, choices=MODEL_NAMES)
    parser.add_argument("--out", required=True, metavar="RUN_DIR", help="the run folder")
    parser.add_argument(
        "--recipe",
        choices=RECIPE_NAMES,
        default="default",
        help="where unset options come from: 'default' (measured best, see README) or 'paper'",
    )
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=positive_int, default=None, help="default: the recipe's")
    length.add_argument(
        "--steps", type=positive_int, default=None, help="training steps; default: the recipe's"
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=None,
        help="global batch size (videos per step); default: the recipe's",
    )
    parser.add_argument(
        "--accumulation-steps",
        type=positive_int,
        default=None,
        help="steps whose gradients make one update (an update sees batch size × this many "
        "videos); default: the recipe's",
    )
    parser.add_argument(
        "--max-length",
        type=optional_length,
        default=750,
        help="snippets per training video (none = all)",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="auto: mixed_float16 on GPUs with tensor cores, mixed_bfloat16 on CPUs with "
        "bfloat16 instructions, else float32 (the choice is printed and saved)",
    )
    parser.add_argument(
        "--norms",
        default=None,
        help="WSGN's frame selection subset, e.g. zloc,gloc ('' for none); default: "
        "zloc,gloc,sloc for wsgn, none for supervised",
    )
    parser.add_argument(
        "--casl",
        type=non_negative_float,
        default=None,
        help="CASL loss weight (0 = off); default: the recipe's",
    )
    parser.add_argument(
        "--casl-pairs",
        type=non_negative_int,
        default=None,
        help="W-TALC's pairing: each batch begins with this many pairs of videos sharing a "
        "class and CASL compares only them (0 = every two videos of a batch); default: the "
        "recipe's",
    )
    parser.add_argument(
        "--frame-stride",
        type=non_negative_int,
        default=None,
        help="WSGN's temporal augmentation: train on the features interpolated at every Nth "
        "video frame from a random start among the first 15 (0 = the snippets as they are); "
        "default: the recipe's",
    )
    parser.add_argument(
        "--frames-per-snippet",
        type=float,
        default=None,
        help="video frames per snippet feature, for --frame-stride; default: the dataset's "
        "(from `keras-wsal extract`), else 16 (I3D)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--optimizer", choices=OPTIMIZERS, default=None, help="default: the recipe's"
    )
    parser.add_argument("--learning-rate", type=float, default=None, help="default: the recipe's")
    parser.add_argument("--weight-decay", type=non_negative_float, default=5e-4)
    parser.add_argument(
        "--dropout", type=non_negative_float, default=None, help="default: the recipe's"
    )
    parser.add_argument(
        "--validation-fraction",
        type=non_negative_float,
        default=None,
        help="share of the training videos held out to pick the best checkpoint from video labels "
        "(0 = keep the last); default: the recipe's",
    )
    parser.add_argument(
        "--fusion",
        choices=("late", "concat"),
        default=None,
        help="two-stream fusion (default: the model's)",
    )
    parser.add_argument(
        "--k-ratio",
        type=float,
        default=None,
        help="UntrimmedNet hard and W-TALC: top-k fraction; default: the model's",
    )
    parser.add_argument(
        "--lr-step",
        type=non_negative_int,
        default=None,
        help="updates between ÷10 learning-rate decays (0 = constant); default: the recipe's",
    )
    parser.add_argument(
        "--clips",
        type=non_negative_int,
        default=None,
        help="clip proposals sampled per video per step, each the mean of 3 snippets "
        "(UntrimmedNet's paper input; 0 = every snippet); default: the recipe's",
    )
    parser.add_argument(
        "--proposals",
        choices=SNIPPET_PROPOSAL_METHODS,
        default=None,
        help="clip proposals from the features, with --clips; default: the recipe's",
    )
    parser.add_argument(
        "--stream",
        default=None,
        help="train on this one stream of a two-stream dataset (UntrimmedNet's paper recipe "
        "trains rgb and flow apart; then fuse them with `keras-wsal fuse`); default: all",
    )
    parser.add_argument(
        "--checkpoint-every",
        type=positive_int,
        default=None,
        help="steps between checkpoints (default: one epoch, at most 100 checkpoints in a run)",
    )
    parser.add_argument("--strategy", choices=STRATEGIES, default="auto")
    parser.add_argument(
        "--jit-compile",
        choices=("auto", "on", "off"),
        default="auto",
        help="XLA for the train step",
    )
    parser.add_argument(
        "--skip-bad", action="store_true", help="skip videos with bad feature files"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def config_from_args(args):
    from keras_wsal.training import TrainConfig

    jit = {"auto": "auto", "on": True, "off": False}[args.jit_compile]
    return TrainConfig(
        data=args.data,
        subset=args.subset,
        model=args.model,
        out=args.out,
        recipe=args.recipe,
        epochs=args.epochs,
        steps=args.steps,
        batch_size=args.batch_size,
        accumulation_steps=args.accumulation_steps,
        max_length=args.max_length,
        precision=args.precision,
        norms=args.norms,
        casl=args.casl,
        seed=args.seed,
        optimizer=args.optimizer,
        learning_rate=args.learning_rate,
        weight_decay=args.weight_decay,
        dropout=args.dropout,
        validation_fraction=args.validation_fraction,
        fusion=args.fusion,
        k_ratio=args.k_ratio,
        lr_step=args.lr_step,
        clips=args.clips,
        proposals=args.proposals,
        stream=args.stream,
        casl_pairs=args.casl_pairs,
        frame_stride=args.frame_stride,
        frames_per_snippet=args.frames_per_snippet,
        checkpoint_every=args.checkpoint_every,
        strategy=args.strategy,
        jit_compile=jit,
        skip_bad=args.skip_bad,
    )


def run(args) -> int:
    from keras_wsal.errors import DataError
    from keras_wsal.training import train
    from keras_wsal.training.precision import with_resolved_precision

    try:
        config = config_from_args(args)
    except ValueError as error:
        raise DataError(str(error)) from None
    config, precision_note = with_resolved_precision(config)
    if precision_note:
        print(precision_note, flush=True)
    batches = f"batches of {config.batch_size}" + (
        f" × {config.accumulation_steps} accumulated" if config.accumulation_steps > 1 else ""
    )
    print(
        f"training {config.model} (recipe {config.recipe!r}): {config.optimizer} at "
        f"{config.learning_rate:g}, "
        + (f"{config.steps} steps" if config.steps is not None else f"{config.epochs} epochs")
        + f", {batches}, dropout {config.dropout:g}, CASL {config.casl:g}, held out "
        f"{config.validation_fraction:g}"
        + (f", ÷10 every {config.lr_step} updates" if config.lr_step else "")
        + (
            f", {config.clips} {config.proposals} clips of 3 snippets per video"
            if config.clips
            else ""
        )
        + (f", stream {config.stream!r} only" if config.stream else "")
        + (
            f", every {config.frame_stride}th frame from a random start"
            if config.frame_stride
            else ""
        )
        + (f", CASL on {config.casl_pairs} paired videos" if config.casl_pairs else ""),
        flush=True,
    )
    for field, (value, recipe_value) in config.recipe_overrides().items():
        given = value if field == "length" else f"--{field.replace('_', '-')} {value}"
        print(f"  {given} overrides the {config.recipe} recipe's {recipe_value}", flush=True)
    # A progress bar on a terminal; one line per round when the output goes to a file or a pipe.
    result = train(config, verbose=0 if args.quiet else (1 if sys.stdout.isatty() else 2))
    chosen = (
        f"; kept round {result.selection['round']} (held-out video mAP "
        f"{100 * result.selection['held_out_mAP']:.1f} %)"
        if result.selection
        else ""
    )
    print(
        f"trained {config.model} for {result.steps} steps{chosen}; model: "
        f"{result.run_dir / 'model.keras'}"
    )
    return 0
