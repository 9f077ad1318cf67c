"""`keras-wsal extract`: two-stream snippet features of a folder of videos, as a feature dataset."""

from __future__ import annotations

import argparse
import sys

from keras_wsal.cli._arguments import positive_int

HELP = "extract rgb and flow snippet features of raw videos into a feature dataset"
DESCRIPTION = """\
Decode every video of VIDEOS_DIR (resampled to --frame-rate, resized to --frame-size), cut it into
snippets of --snippet-frames frames, and run the spatial stream (the snippet's centre frame) and the
temporal stream (5 stacked optical flows, DIS or TV-L1) of --backbone on each snippet. DATASET
receives features/rgb/VIDEO.npy, features/flow/VIDEO.npy, meta.json and annotations.json (the
videos in --subset, no annotations; videos it already lists keep their entries), which
`keras-wsal train` and `keras-wsal detect` read.

Run it again to resume: finished videos are skipped. A video that fails (corrupt, too short) is
reported in DATASET/extraction/failures.json and the others go on; the exit status is 1 when any
video failed. --shard I/N extracts sorted(videos)[I::N], so N processes or machines share a folder.

Weights: --weights takes a .keras or .weights.h5 of the backbone, or the released BN-Inception
ImageNet state_dict (.pth, .npz), which also initialises the temporal stream (TSN cross-modality).
Without weights the backbones are random: such features only serve tests.

examples:
  keras-wsal extract videos/ my_dataset --weights bn_inception.pth
  keras-wsal extract videos/ my_dataset --recipe paper --weights bn_inception.pth --shard 0/4
  keras-wsal extract videos/ my_dataset --backbone resnet50 --weights rgb.weights.h5 \\
      --flow-weights flow.weights.h5 --frame-rate 30 --snippet-frames 15
"""


def _shard(text: str) -> tuple[int, int]:
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected I/N such as 0/4, got {text!r}") from None
    if count < 1 or not 0 <= index < count:
        raise argparse.ArgumentTypeError(f"expected I/N with 0 <= I < N, got {text!r}")
    return index, count


def _frame_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected WIDTHxHEIGHT such as 340x256, got {text!r}"
        ) from None
    if width < 1 or height < 1:
        raise argparse.ArgumentTypeError(f"expected a positive WIDTHxHEIGHT, got {text!r}")
    return width, height


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text}")
    return value


NEEDS_BACKEND = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from keras_wsal.backbones.catalog import BACKBONES
    from keras_wsal.training.recipes import EXTRACTION_RECIPES
    from keras_wsal.video.flow import DIS_PRESETS, FLOW_METHODS

    parser.add_argument("videos_dir", metavar="VIDEOS_DIR", help="the folder of videos")
    parser.add_argument("dataset", metavar="DATASET", help="the dataset folder to write")
    parser.add_argument(
        "--recipe",
        choices=tuple(EXTRACTION_RECIPES),
        default="default",
        help="where unset --flow, --frame-rate and --snippet-frames come from: "
        + "; ".join(
            f"{name}: " + ", ".join(f"{key} {value:g}" if isinstance(value, float) else
                                    f"{key} {value}" for key, value in values.items())
            for name, values in EXTRACTION_RECIPES.items()
        ),
    )  # fmt: skip
    parser.add_argument(
        "--flow", choices=FLOW_METHODS, default=None, help="optical flow method; the recipe's"
    )
    parser.add_argument("--dis-preset", choices=sorted(DIS_PRESETS), default="medium")
    parser.add_argument("--backbone", choices=BACKBONES, default="bn_inception")
    parser.add_argument("--weights", default=None, help="spatial stream weights (and see above)")
    parser.add_argument("--flow-weights", default=None, help="temporal stream weights")
    parser.add_argument(
        "--frame-rate",
        type=_positive_float,
        default=None,
        help="frames per second; the recipe's",
    )
    parser.add_argument(
        "--snippet-frames", type=positive_int, default=None, help="frames per snippet; the recipe's"
    )
    parser.add_argument("--frame-size", type=_frame_size, default=(340, 256), help="WIDTHxHEIGHT")
    parser.add_argument("--crop", type=positive_int, default=224, help="centre crop side (pixels)")
    parser.add_argument(
        "--batch-size", type=positive_int, default=32, help="snippets per forward pass"
    )
    parser.add_argument(
        "--workers", type=positive_int, default=None, help="flow threads (default: CPUs)"
    )
    parser.add_argument(
        "--subset", default="test", help="subset of the new videos in annotations.json"
    )
    parser.add_argument(
        "--shard", type=_shard, default=(0, 1), metavar="I/N", help="extract sorted(videos)[I::N]"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


class _ProgressBar:
    """`[#####-----] 3/10 videos  NAME: STATUS` on stderr, redrawn in place on a terminal."""

    def __init__(self, total: int, quiet: bool):
        self.total, self.done, self.quiet = total, 0, quiet
        self.interactive = sys.stderr.isatty()

    def __call__(self, video: str, status: str) -> None:
        self.done += 1
        if self.quiet:
            return
        filled = round(20 * self.done / max(self.total, 1))
        bar = "#" * filled + "-" * (20 - filled)
        line = f"[{bar}] {self.done}/{self.total} videos  {video}: {status}"
        end = "" if self.interactive and self.done < self.total else "\n"
        print(("\r\033[K" if self.interactive else "") + line, end=end, file=sys.stderr, flush=True)


def run(args) -> int:
    from keras_wsal.errors import VideoError
    from keras_wsal.extraction import ExtractionSettings, extract_dataset, make_streams
    from keras_wsal.training.recipes import EXTRACTION_RECIPES
    from keras_wsal.video import find_videos, shard_videos

    recipe = EXTRACTION_RECIPES[args.recipe]
    for field, recipe_value in recipe.items():
        given = getattr(args, field)
        if given is None:
            setattr(args, field, recipe_value)
        elif given != recipe_value and not args.quiet:
            print(
                f"--{field.replace('_', '-')} {given} overrides the {args.recipe} recipe's "
                f"{recipe_value}",
                flush=True,
            )
    try:
        settings = ExtractionSettings(
            frame_rate=args.frame_rate,
            snippet_frames=args.snippet_frames,
            frame_size=args.frame_size,
            crop=args.crop,
            flow=args.flow,
            dis_preset=args.dis_preset,
            backbone=args.backbone,
            batch_size=args.batch_size,
            workers=args.workers,
        )
    except ValueError as error:
        raise VideoError(str(error)) from None
    names = shard_videos(list(find_videos(args.videos_dir)), args.shard)
    if not names:
        raise VideoError(
            f"no videos to extract in {args.videos_dir} (shard {args.shard[0]}/{args.shard[1]})"
        )
    rgb_model, flow_model, weights = make_streams(settings, args.weights, args.flow_weights)
    for stream, name in weights.items():
        if name is None and not args.quiet:
            print(
                f"keras-wsal extract: warning: no {stream.replace('_', ' ')}: random backbone",
                file=sys.stderr,
            )
    report = extract_dataset(
        args.videos_dir,
        args.dataset,
        rgb_model,
        flow_model,
        settings,
        subset=args.subset,
        shard=args.shard,
        extra_meta=weights,
        on_video=_ProgressBar(len(names), args.quiet),
    )
    for video, reason in report.failures.items():
        print(f"keras-wsal extract: failed: {video}: {reason}", file=sys.stderr)
    print(f"keras-wsal extract: {report.summary()}")
    return 1 if report.failures else 0
