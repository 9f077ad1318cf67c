"""`keras-wsal detect`: temporal detections of a trained model, as ActivityNet result JSON."""

from __future__ import annotations

import argparse

from keras_wsal.cli._arguments import float_list, non_negative_float, positive_int

HELP = "detect actions in time with a trained model (ActivityNet result JSON)"
DESCRIPTION = """\
Run a trained model over every video of DATASET's subset and write its detections as
{"results": {VIDEO: [{"label", "score", "segment": [start_s, end_s]}]}}.

--rule default (the default) is the model's measured best rule: for WSGN, Naive, Supervised and
UntrimmedNet, the class probabilities softmax(h_cls) smoothed over 3 snippets, classes whose
top-1/8 mean is >= 0.1, thresholds 0.1..0.9 of each class's maximum unioned, outer-inner segment
scores × the class score, NMS at tIoU 0.3, at most 200 segments per video (UntrimmedNet: class
scores from its video prediction); for W-TALC its own rule.
--rule paper is the model's paper rule: "untrimmednet" (attention >= 1e-4, class score >= 0.5;
soft UntrimmedNet), "wsgn" (g ⊙ softmax(h_cls) >= 0.5 × the class maximum, segments >= 1 s) or
"wtalc" (logits >= min + 0.5 (max - min), classes with top-k logit >= 0, runs >= 2 snippets,
score max + 0.7 × top-k logit). Each option below overrides one setting of the chosen rule.

examples:
  keras-wsal detect --data thumos14 --subset test --model runs/wsgn --out runs/wsgn/test.json
  keras-wsal detect --data thumos14 --subset test --model runs/wsgn --out r.json --rule paper
  keras-wsal detect --data thumos14 --subset test --model runs/wsgn --out r.json \\
      --thresholds 0.3,0.5,0.7 --nms 0.5 --segment-score outer_inner --save-snippets runs/wsgn/snippets
"""

# CLI option → DetectionRule / PostProcessing field it overrides.
_OVERRIDES = {
    "thresholds": "thresholds",
    "threshold_mode": "threshold_mode",
    "smoothing": "smoothing",
    "class_score": "class_score",
    "class_threshold": "class_threshold",
    "class_top_k": "class_top_k",
    "min_duration": "min_duration",
    "segment_score": "segment_score",
    "video_score_fusion": "video_score_fusion",
    "nms": "nms_threshold",
    "max_detections": "max_detections",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from keras_wsal.inference.detection import SEGMENT_SCORES, THRESHOLD_MODES, VIDEO_SCORE_FUSIONS
    from keras_wsal.inference.detection_rule import CLASS_SCORES, RULE_NAMES

    parser.add_argument("--data", required=True, help="the dataset folder")
    parser.add_argument("--subset", required=True, help="the subset to detect on (e.g. test)")
    parser.add_argument(
        "--model", required=True, help="a run folder of `keras-wsal train` or a .keras file"
    )
    parser.add_argument("--out", required=True, help="the result JSON to write")
    parser.add_argument(
        "--rule",
        choices=("default", "paper", *[r for r in RULE_NAMES if r != "default"]),
        default="default",
        help="the model's measured default, its paper's rule, or a rule by name (default: default)",
    )
    parser.add_argument(
        "--thresholds", type=float_list, default=None, help="e.g. 0.5 or 0.3,0.5,0.7"
    )
    parser.add_argument(
        "--threshold-mode",
        choices=THRESHOLD_MODES,
        default=None,
        help="absolute, relative (θ × the class maximum) or range (min + θ (max − min))",
    )
    parser.add_argument(
        "--smoothing", type=positive_int, default=None, help="moving-average width (odd)"
    )
    parser.add_argument(
        "--class-score", choices=CLASS_SCORES, default=None, help="what chooses classes"
    )
    parser.add_argument(
        "--class-threshold", type=float, default=None, help="class score to localise a class"
    )
    parser.add_argument("--class-top-k", type=positive_int, default=None)
    parser.add_argument("--min-duration", type=non_negative_float, default=None, help="seconds")
    parser.add_argument("--segment-score", choices=SEGMENT_SCORES, default=None)
    parser.add_argument("--video-score-fusion", choices=VIDEO_SCORE_FUSIONS, default=None)
    parser.add_argument(
        "--nms", type=non_negative_float, default=None, help="tIoU threshold of temporal NMS"
    )
    parser.add_argument(
        "--max-detections", type=positive_int, default=None, help="segments per video"
    )
    parser.add_argument("--batch-size", type=positive_int, default=1)
    parser.add_argument(
        "--save-snippets", metavar="DIR", default=None, help="also write DIR/VIDEO.npz"
    )


def rule_from_args(args, model):
    """The model's rule named by `--rule`, with every option given overriding its setting."""
    from keras_wsal.errors import DataError
    from keras_wsal.inference import DetectionRule

    try:
        if args.rule in ("default", "paper"):
            rule = DetectionRule.for_model(model, args.rule)
        else:
            rule = DetectionRule.named(args.rule)
        changes = {
            field: getattr(args, option)
            for option, field in _OVERRIDES.items()
            if getattr(args, option) is not None
        }
        return rule.replace(**changes) if changes else rule
    except ValueError as error:
        raise DataError(f"detection options: {error}") from None


def run(args) -> int:
    from pathlib import Path

    from keras_wsal.datasets import FeatureDataset
    from keras_wsal.errors import DataError
    from keras_wsal.formats.snippet_outputs import save_snippet_outputs
    from keras_wsal.inference import predict_videos, write_detection_results
    from keras_wsal.training import load_run_model

    dataset = FeatureDataset(args.data)
    model, classes = load_run_model(args.model)
    if classes is not None and list(classes) != list(dataset.classes):
        raise DataError(
            f"the model was trained on classes {classes}, dataset {args.data} has {dataset.classes}"
        )
    rule = rule_from_args(args, model)
    detections = {}
    for outputs in predict_videos(model, dataset, args.subset, batch_size=args.batch_size):
        detections[outputs.video] = rule.detect(outputs, dataset.feature_fps, dataset.classes)
        if args.save_snippets:
            save_snippet_outputs(
                Path(args.save_snippets) / f"{outputs.video}.npz",
                outputs.snippet_scores,
                outputs.selection,
                dataset.feature_fps,
                dataset.classes,
            )
    write_detection_results(args.out, detections)
    total = sum(len(d) for d in detections.values())
    print(f"{total} detections in {len(detections)} videos ({rule.name} rule) → {args.out}")
    return 0
