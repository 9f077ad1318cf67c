"""`keras-wsal detect`: temporal detections of a trained model, as ActivityNet result JSON."""

from __future__ import annotations

import argparse

from keras_wsal.cli._arguments import (
    add_detection_rule_arguments,
    check_rule_arguments,
    positive_int,
    rule_from_args,
)

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
      --thresholds 0.3,0.5,0.7 --nms 0.5 --segment-score outer_inner \\
      --save-snippets runs/wsgn/snippets
"""


NEEDS_BACKEND = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="the dataset folder")
    parser.add_argument("--subset", required=True, help="the subset to detect on (e.g. test)")
    parser.add_argument(
        "--model", required=True, help="a run folder of `keras-wsal train` or a .keras file"
    )
    parser.add_argument("--out", required=True, help="the result JSON to write")
    add_detection_rule_arguments(parser)
    parser.add_argument("--batch-size", type=positive_int, default=1)
    parser.add_argument(
        "--save-snippets", metavar="DIR", default=None, help="also write DIR/VIDEO.npz"
    )


def run(args) -> int:
    from pathlib import Path

    from keras_wsal.datasets import FeatureDataset
    from keras_wsal.errors import DataError
    from keras_wsal.formats.snippet_outputs import save_snippet_outputs
    from keras_wsal.inference import predict_videos, write_detection_results
    from keras_wsal.training import load_run_model
    from keras_wsal.utils.atomic_files import check_output_location

    check_rule_arguments(args)
    check_output_location(args.out)
    if args.save_snippets:
        check_output_location(args.save_snippets, folder=True)
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
