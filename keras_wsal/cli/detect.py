"""`keras-wsal detect`: temporal detections of a trained model, as ActivityNet result JSON."""

from __future__ import annotations

import argparse

from keras_wsal.cli._arguments import float_list, non_negative_float, positive_int

HELP = "detect actions in time with a trained model (ActivityNet result JSON)"
DESCRIPTION = """\
Run a trained model over every video of DATASET's subset and write its detections as
{"results": {VIDEO: [{"label", "score", "segment": [start_s, end_s]}]}}.

Rules: "untrimmednet" (attention >= 1e-4, class score >= 0.5; soft UntrimmedNet), "wsgn"
(g ⊙ softmax(h_cls) >= threshold × the class maximum, segments >= 1 s); "auto" picks by model.
Several --thresholds are unioned; --nms suppresses overlapping segments of a class.

examples:
  keras-wsal detect --data thumos14 --subset test --model runs/wsgn --out runs/wsgn/test.json
  keras-wsal detect --data thumos14 --subset test --model runs/wsgn --out r.json \\
      --thresholds 0.3,0.5,0.7 --nms 0.5 --segment-score outer_inner --save-snippets runs/wsgn/snippets
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from keras_wsal.inference import DETECTION_RULES, SEGMENT_SCORES, VIDEO_SCORE_FUSIONS

    parser.add_argument("--data", required=True, help="the dataset folder")
    parser.add_argument("--subset", required=True, help="the subset to detect on (e.g. test)")
    parser.add_argument("--model", required=True, help="a run folder of `keras-wsal train` or a .keras file")
    parser.add_argument("--out", required=True, help="the result JSON to write")
    parser.add_argument("--rule", choices=DETECTION_RULES, default="auto")
    parser.add_argument("--thresholds", type=float_list, default=None, help="e.g. 0.5 or 0.3,0.5,0.7")
    scale = parser.add_mutually_exclusive_group()
    scale.add_argument("--relative", dest="relative", action="store_true", default=None)
    scale.add_argument("--absolute", dest="relative", action="store_false")
    parser.add_argument("--class-threshold", type=float, default=0.1, help="video score to localise a class")
    parser.add_argument("--class-top-k", type=positive_int, default=None)
    parser.add_argument("--min-duration", type=non_negative_float, default=None, help="seconds")
    parser.add_argument("--segment-score", choices=SEGMENT_SCORES, default="mean")
    parser.add_argument("--video-score-fusion", choices=VIDEO_SCORE_FUSIONS, default="none")
    parser.add_argument("--nms", type=non_negative_float, default=None, help="tIoU threshold of temporal NMS")
    parser.add_argument("--batch-size", type=positive_int, default=1)
    parser.add_argument("--save-snippets", metavar="DIR", default=None, help="also write DIR/VIDEO.npz")


def post_processing_from_args(args, rule: str):
    from keras_wsal.errors import DataError
    from keras_wsal.inference import PostProcessing

    min_duration = args.min_duration if args.min_duration is not None else (1.0 if rule == "wsgn" else 0.0)
    try:
        return PostProcessing(
            class_threshold=args.class_threshold,
            class_top_k=args.class_top_k,
            min_duration=min_duration,
            segment_score=args.segment_score,
            video_score_fusion=args.video_score_fusion,
            nms_threshold=args.nms,
        )
    except ValueError as error:
        raise DataError(str(error)) from None


def run(args) -> int:
    from pathlib import Path

    from keras_wsal.datasets import FeatureDataset
    from keras_wsal.inference import (
        detect_video,
        predict_videos,
        resolve_rule,
        write_detection_results,
    )
    from keras_wsal.plotting import save_snippet_outputs
    from keras_wsal.training import load_run_model

    dataset = FeatureDataset(args.data)
    model, classes = load_run_model(args.model)
    if classes is not None and list(classes) != list(dataset.classes):
        from keras_wsal.errors import DataError

        raise DataError(f"the model was trained on classes {classes}, dataset {args.data} has {dataset.classes}")
    rule = resolve_rule(model, args.rule)
    post = post_processing_from_args(args, rule)
    detections = {}
    for outputs in predict_videos(model, dataset, args.subset, batch_size=args.batch_size):
        detections[outputs.video] = detect_video(
            outputs, rule, dataset.feature_fps, dataset.classes, args.thresholds, args.relative, post
        )
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
    print(f"{total} detections in {len(detections)} videos ({rule} rule) → {args.out}")
    return 0
