"""`keras-wsal export`: a trained model as a TensorFlow SavedModel version for TF Serving."""

from __future__ import annotations

import argparse

from keras_wsal.cli._arguments import (
    add_detection_rule_arguments,
    check_rule_arguments,
    positive_int,
    rule_overrides,
)

HELP = "export a trained model as a SavedModel for TensorFlow Serving (and a .keras file)"
DESCRIPTION = """\
Write RUN's model as OUT/VERSION/ (saved_model.pb, variables/, assets/classes.txt), the layout
`tensorflow_model_server --model_base_path=OUT` polls, and OUT/keras/VERSION.keras. VERSION is one
more than the highest existing version unless --version is given; an existing version is never
replaced. The new version is written to a hidden folder in OUT and renamed into place.

Signatures: serving_default (features [batch, time, D] per stream + length [batch] → video_scores,
snippet_scores, detection_scores, selection), detect (same inputs → padded start, end, class, label,
score and a count per video), class_names (no input) and labels (class_index → label). A model
with its backbone inside (a run of `keras_wsal.training.train_end_to_end`) takes uint8 `frames`
[batch, clips, segments, S, S, 3] (or `flow` stacks, 10 channels) + length instead of features;
its detect signature also takes each clip's clip_start / clip_end in seconds.
The detect signature applies the same detection rule as `keras-wsal detect` (--rule and the
options that override its settings are the same; the default is the model's measured rule).

examples:
  keras-wsal export runs/wsgn --out saved_models/wsgn
  keras-wsal export runs/wsgn --out saved_models/wsgn --version 7 --max-detections 50
  keras-wsal export runs/wsgn --out saved_models/wsgn --rule paper
  keras-wsal export runs/untrimmednet/model.keras --out saved_models/un --feature-fps 1.5625
"""


NEEDS_BACKEND = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "run",
        metavar="RUN",
        help="a run folder of `keras-wsal train` (or train_end_to_end), or a .keras file",
    )
    parser.add_argument(
        "--out", required=True, help="the model's base folder, e.g. saved_models/NAME"
    )
    parser.add_argument(
        "--version", type=positive_int, default=None, help="the version to write (default: next)"
    )
    parser.add_argument(
        "--feature-fps",
        type=float,
        default=None,
        help="snippets per second of the features (default: the run's dataset meta.json)",
    )
    add_detection_rule_arguments(parser)


def run(args) -> int:
    from keras_wsal.export import describe_signatures, export_saved_model
    from keras_wsal.export.versions import KERAS_DIR
    from keras_wsal.utils.atomic_files import check_output_location

    check_rule_arguments(args)
    check_output_location(args.out, folder=True)
    version_dir = export_saved_model(
        args.run,
        args.out,
        version=args.version,
        feature_fps=args.feature_fps,
        rule=args.rule,
        **rule_overrides(args),
    )
    print(f"SavedModel → {version_dir}")
    print(f"Keras model → {version_dir.parent / KERAS_DIR / f'{version_dir.name}.keras'}")
    print(describe_signatures(version_dir))
    return 0
