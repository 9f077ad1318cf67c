"""`keras-wsal evaluate`: detection mAP of a result file against annotations."""

from __future__ import annotations

import argparse
import json
import sys
import warnings

from keras_wsal.evaluation.detection import (
    DEFAULT_TIOU_THRESHOLDS,
    PROTOCOLS,
    check_tiou_thresholds,
    evaluate_detection,
)

HELP = "detection mAP of an ActivityNet result JSON (ActivityNet or THUMOS14 protocol)"
DESCRIPTION = """\
Evaluate temporal detections (ActivityNet result JSON, as written by `keras-wsal detect`) against
ActivityNet-style annotations, at several tIoU thresholds, the way the benchmarks' own code does:

  activitynet  ActivityNet's eval_detection.py: matched when tIoU >= threshold, interpolated AP
  thumos14     THUMOS14's TH14evalDet.m: matched when overlap > threshold, detections on
               "Ambiguous" ground truth ignored, non-interpolated AP

The same detections score differently under the two; papers report both.

examples:
  keras-wsal evaluate --ground-truth DATA/annotations.json --predictions results.json --subset test
  keras-wsal evaluate --ground-truth annotations.json --predictions results.json \\
      --protocol thumos14 --tiou 0.3,0.4,0.5,0.6,0.7 --per-class
  keras-wsal evaluate --ground-truth annotations.json --predictions results.json --json > map.json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `keras-wsal evaluate`."""
    parser.add_argument(
        "--ground-truth",
        required=True,
        metavar="ANNOTATIONS_JSON",
        help="ActivityNet-style annotations (a dataset's annotations.json)",
    )
    parser.add_argument(
        "--predictions",
        required=True,
        metavar="RESULTS_JSON",
        help='detections: {"results": {VIDEO: [{"label", "score", "segment"}]}}',
    )
    parser.add_argument(
        "--subset", help="evaluate only the videos of this subset (case-insensitive), e.g. test"
    )
    parser.add_argument(
        "--tiou",
        type=_thresholds,
        default=list(DEFAULT_TIOU_THRESHOLDS),
        metavar="T1,T2,...",
        help="comma-separated tIoU thresholds in (0, 1] (default: 0.1,0.2,...,0.7)",
    )
    parser.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="activitynet",
        help="matching and AP rules (default: activitynet)",
    )
    parser.add_argument(
        "--per-class", action="store_true", help="also print each class's AP (table output)"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help='print one JSON object {"protocol", "tiou", "mAP", "average_mAP", "per_class_AP", '
        '"subset", "num_videos"} (mAP as fractions) instead of a table',
    )


def run(args: argparse.Namespace) -> int:
    """Evaluate and print the table or the JSON object; warnings go to stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        evaluation = evaluate_detection(
            args.ground_truth,
            args.predictions,
            protocol=args.protocol,
            tiou_thresholds=args.tiou,
            subset=args.subset,
        )
    for warning in caught:
        print(f"keras-wsal evaluate: warning: {warning.message}", file=sys.stderr)
    if args.json:
        payload = evaluation.to_dict()
        payload.update(subset=evaluation.subset, num_videos=evaluation.num_videos)
        print(json.dumps(payload, indent=2))
        return 0
    subset = "all videos" if evaluation.subset is None else f"subset {evaluation.subset}"
    print(
        f"protocol {evaluation.protocol}, {subset}: {evaluation.num_videos} videos, "
        f"{len(evaluation.per_class_AP)} classes"
    )
    print(f"{'tIoU':>6}  {'mAP (%)':>8}")
    for threshold, value in zip(evaluation.tiou, evaluation.mAP, strict=True):
        print(f"{threshold:>6.2f}  {100 * value:>8.2f}")
    print(f"{'avg':>6}  {100 * evaluation.average_mAP:>8.2f}")
    if args.per_class:
        width = max(len(label) for label in evaluation.per_class_AP)
        print()
        print(f"{'AP (%)':<{width}}  " + "  ".join(f"{t:>6.2f}" for t in evaluation.tiou))
        for label, values in evaluation.per_class_AP.items():
            print(f"{label:<{width}}  " + "  ".join(f"{100 * v:>6.2f}" for v in values))
    return 0


def _thresholds(text: str) -> list[float]:
    """`--tiou` parser: comma-separated numbers in (0, 1]."""
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
        return check_tiou_thresholds(values)
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated tIoU thresholds in (0, 1], e.g. 0.3,0.5,0.7; got {text!r} "
            f"({error})"
        ) from None
