"""Argument types shared by the subcommands: one-line errors for malformed values."""

from __future__ import annotations

import argparse


def float_list(text: str) -> list[float]:
    """'0.1,0.2,0.3' → [0.1, 0.2, 0.3]."""
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}"
        ) from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one number")
    return values


def _int_at_least(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"expected an integer ≥ {low}, got {value}")
    return value


def positive_int(text: str) -> int:
    return _int_at_least(text, 1)


def non_negative_int(text: str) -> int:
    return _int_at_least(text, 0)


def optional_length(text: str) -> int | None:
    """A positive int, or 'none' / '0' for no limit."""
    if text.lower() in ("none", "0"):
        return None
    return positive_int(text)


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number ≥ 0, got {text}")
    return value


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


def add_detection_rule_arguments(parser: argparse.ArgumentParser) -> None:
    """`--rule` and one option per setting of `DetectionRule` (`keras-wsal detect`, `export`)."""
    from keras_wsal.inference.detection import SEGMENT_SCORES, THRESHOLD_MODES, VIDEO_SCORE_FUSIONS
    from keras_wsal.inference.detection_rule import CLASS_SCORES, RULE_NAMES

    parser.add_argument(
        "--rule",
        choices=("default", "paper", *[r for r in RULE_NAMES if r != "default"]),
        default="default",
        help="the model's measured default, its paper's rule, or a rule by name; the options below "
        "change one setting of it",
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


def rule_overrides(args: argparse.Namespace) -> dict:
    """The rule settings given on the command line, by `DetectionRule` / `PostProcessing` field."""
    return {
        field: getattr(args, option)
        for option, field in _OVERRIDES.items()
        if getattr(args, option) is not None
    }


def check_rule_arguments(args: argparse.Namespace) -> None:
    """Check the detection options before anything is loaded: a one-line DataError if wrong."""
    from keras_wsal.errors import DataError
    from keras_wsal.inference.detection_rule import DetectionRule

    try:
        DetectionRule.check_options(args.rule, **rule_overrides(args))
    except ValueError as error:
        raise DataError(f"detection options: {error}") from None


def rule_from_args(args: argparse.Namespace, model):
    """The model's rule named by `--rule`, with every option given overriding its setting."""
    from keras_wsal.errors import DataError
    from keras_wsal.inference import DetectionRule

    try:
        return DetectionRule.resolve(model, args.rule, **rule_overrides(args))
    except ValueError as error:
        raise DataError(f"detection options: {error}") from None
