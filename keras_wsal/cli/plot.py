"""`keras-wsal plot`: one video's ground truth, detections and per-snippet curves as PNG/SVG."""

from __future__ import annotations

import argparse
from pathlib import Path

from keras_wsal.plotting import PLOT_FORMATS

HELP = "draw one video's ground truth, detections, class scores and selection weights"
DESCRIPTION = """\
Draw one video on one time axis: its ground-truth segments (from DATASET/annotations.json), its
detections (from a result JSON, more opaque for higher scores) and, with --snippets, the
per-snippet class score curves and the selection-weight curve that `keras-wsal detect
--save-snippets DIR` saved as DIR/VIDEO.npz. The output format follows the extension (.png, .svg).

examples:
  keras-wsal plot --data DATA --video video_test_0000004 --results results.json \\
      --snippets snippets/ --out video_test_0000004.png
  keras-wsal plot --data DATA --video video_test_0000004 --results results.json \\
      --min-score 0.2 --labels CricketBowling,CricketShot --out cricket.svg
  keras-wsal plot --data DATA --video video_test_0000004 \\
      --snippets snippets/video_test_0000004.npz --out curves.png
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `keras-wsal plot`."""
    parser.add_argument(
        "--data", required=True, metavar="DATASET", help="dataset folder (reads annotations.json)"
    )
    parser.add_argument("--video", required=True, help="the video id to draw")
    parser.add_argument(
        "--results", metavar="RESULTS_JSON", help="detections (ActivityNet result JSON)"
    )
    parser.add_argument(
        "--snippets",
        metavar="DIR_OR_NPZ",
        help="per-snippet outputs: the folder of `detect --save-snippets` (reads VIDEO.npz) or "
        "one .npz file",
    )
    parser.add_argument(
        "--labels",
        type=_labels,
        metavar="L1,L2,...",
        help="labels to draw (default: the ground-truth labels, then the detected ones, at most 5)",
    )
    parser.add_argument(
        "--min-score",
        type=float,
        default=None,
        metavar="S",
        help="draw only detections scoring >= S (default: all)",
    )
    parser.add_argument(
        "--out", required=True, type=_output, metavar="FILE.png|FILE.svg", help="the picture"
    )
    parser.add_argument(
        "--title",
        default=None,
        help="what made the detections, after the video's name (default: the folder of "
        "--results or --snippets, e.g. the run)",
    )


def _source_name(args: argparse.Namespace) -> str | None:
    """The folder that holds the drawn results or curves (a run folder, typically)."""
    source = args.results or args.snippets
    if source is None:
        return None
    path = Path(source).resolve()
    return (path if path.is_dir() else path.parent).name or None


def run(args: argparse.Namespace) -> int:
    """Load the video's annotations, detections and curves; draw and save the picture."""
    from keras_wsal.errors import DataError
    from keras_wsal.formats.annotations import AMBIGUOUS, load_ground_truth
    from keras_wsal.formats.results import load_detection_results
    from keras_wsal.formats.snippet_outputs import load_snippet_outputs
    from keras_wsal.plotting import plot_video
    from keras_wsal.utils.atomic_files import check_output_location

    check_output_location(args.out)
    annotations_path = Path(args.data) / "annotations.json"
    truth = load_ground_truth(annotations_path)
    if args.video not in truth.videos:
        raise DataError(f"{annotations_path}: no video {args.video!r}")
    video = truth.videos[args.video]
    ground_truth = [
        {"label": label, "segment": segment.tolist()}
        for label, segment in zip(video.labels, video.segments, strict=True)
    ] + [{"label": AMBIGUOUS, "segment": segment.tolist()} for segment in video.ambiguous]
    detections = []
    if args.results is not None:
        found = load_detection_results(args.results, truth.labels).videos.get(args.video)
        if found is not None:
            detections = [
                {"label": label, "score": float(score), "segment": segment.tolist()}
                for label, score, segment in zip(
                    found.labels, found.scores, found.segments, strict=True
                )
                if args.min_score is None or score >= args.min_score
            ]
    outputs = None
    if args.snippets is not None:
        snippets = Path(args.snippets)
        outputs = load_snippet_outputs(
            snippets / f"{args.video}.npz" if snippets.is_dir() else snippets
        )
    plot_video(
        args.out,
        args.video,
        ground_truth,
        detections,
        None if outputs is None else outputs.snippet_scores,
        None if outputs is None else outputs.selection,
        None if outputs is None else outputs.feature_fps,
        None if outputs is None else outputs.classes,
        args.labels,
        duration=video.duration,
        title=args.title or _source_name(args),
    )
    print(f"wrote {args.out}")
    return 0


def _labels(text: str) -> list[str]:
    labels = [part.strip() for part in text.split(",") if part.strip()]
    if not labels:
        raise argparse.ArgumentTypeError(f"expected comma-separated labels; got {text!r}")
    return labels


def _output(text: str) -> Path:
    path = Path(text)
    if path.suffix.lower() not in PLOT_FORMATS:
        raise argparse.ArgumentTypeError(
            f"the picture must end with {' or '.join(PLOT_FORMATS)}; got {text!r}"
        )
    return path
