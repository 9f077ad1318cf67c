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

HELP = "detection mAP (ActivityNet or THUMOS14 protocol) or recognition mAP and top-k of results"
DESCRIPTION = """\
Evaluate temporal detections (ActivityNet result JSON, as written by `keras-wsal detect`) against
ActivityNet-style annotations, at several tIoU thresholds, the way the benchmarks' own code does:

  activitynet  ActivityNet's eval_detection.py: matched when tIoU >= threshold, interpolated AP
  thumos14     THUMOS14's TH14evalDet.m: matched when overlap > threshold, detections on
               "Ambiguous" ground truth ignored, non-interpolated AP

The same detections score differently under the two; papers report both.

--protocol charades scores a Charades localisation submission (`VIDEO FRAME S_1 ... S_C` lines, 25
time points per video, as `keras-wsal detect --charades` writes it) the way Charades_v1_localize.m
does; the ground truth may be the Charades CSV itself (Charades_v1_test.csv).

--task recognition scores video-level results instead ({"results": {VIDEO: [{"label", "score"}]}},
as `keras-wsal detect --recognition` writes them): video mAP (THUMOS's non-interpolated class AP)
and ActivityNet's top-1 and top-3 hit rates.

examples:
  keras-wsal evaluate --ground-truth DATA/annotations.json --predictions results.json --subset test
  keras-wsal evaluate --ground-truth annotations.json --predictions results.json \\
      --protocol thumos14 --tiou 0.3,0.4,0.5,0.6,0.7 --per-class
  keras-wsal evaluate --ground-truth annotations.json --predictions results.json --json > map.json
  keras-wsal evaluate --ground-truth annotations.json --predictions scores.json --task recognition
  keras-wsal evaluate --ground-truth Charades_v1_test.csv --predictions points.txt \
      --protocol charades
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
        choices=(*PROTOCOLS, "charades"),
        default="activitynet",
        help="matching and AP rules (default: activitynet)",
    )
    parser.add_argument(
        "--task",
        choices=("detection", "recognition"),
        default="detection",
        help="what the predictions are: temporal detections or video-level class scores",
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
    if args.task == "recognition":
        return _run_recognition(args)
    if args.protocol == "charades":
        return _run_charades(args)
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


def _run_charades(args: argparse.Namespace) -> int:
    from pathlib import Path

    from keras_wsal.evaluation import charades_localization_map
    from keras_wsal.formats.charades import charades_annotations, read_charades_submission

    ground_truth = args.ground_truth
    if Path(ground_truth).suffix.lower() == ".csv":
        ground_truth, skipped = charades_annotations(ground_truth, args.subset or "test")
        if skipped:
            print(
                f"keras-wsal evaluate: warning: {args.ground_truth}: {skipped} actions end "
                "before they start and are left out",
                file=sys.stderr,
            )
    scores, classes = read_charades_submission(args.predictions)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = charades_localization_map(ground_truth, scores, classes, subset=args.subset)
    for message in dict.fromkeys(str(w.message) for w in caught):
        print(f"keras-wsal evaluate: warning: {message}", file=sys.stderr)
    if args.json:
        print(json.dumps({"protocol": "charades", **result.to_dict()}, indent=2))
        return 0
    print(f"protocol charades (25 time points per video): {len(result.per_class_AP)} classes")
    print(f"localisation mAP (%)  {100 * result.mAP:.2f}")
    if args.per_class:
        for label, value in result.per_class_AP.items():
            print(f"{label}  {100 * value:>6.2f}")
    return 0


def _run_recognition(args: argparse.Namespace) -> int:
    from keras_wsal.evaluation import evaluate_recognition, recognition_hit_rates

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        average = evaluate_recognition(args.ground_truth, args.predictions, subset=args.subset)
        hits = recognition_hit_rates(args.ground_truth, args.predictions, (1, 3), args.subset)
    for message in dict.fromkeys(str(w.message) for w in caught):
        print(f"keras-wsal evaluate: warning: {message}", file=sys.stderr)
    if args.json:
        payload = {
            "task": "recognition",
            "mAP": average.mAP,
            "top1": hits[1],
            "top3": hits[3],
            "per_class_AP": average.per_class_AP,
            "subset": args.subset,
        }
        print(json.dumps(payload, indent=2))
        return 0
    where = "all videos" if args.subset is None else f"subset {args.subset}"
    print(f"recognition, {where}: {len(average.per_class_AP)} classes")
    print(f"video mAP (%)  {100 * average.mAP:.2f}")
    print(f"top-1 (%)      {100 * hits[1]:.2f}")
    print(f"top-3 (%)      {100 * hits[3]:.2f}")
    if args.per_class:
        width = max(len(label) for label in average.per_class_AP)
        for label, value in average.per_class_AP.items():
            print(f"{label:<{width}}  {100 * value:>6.2f}")
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
