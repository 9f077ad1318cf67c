"""Evaluation as the benchmarks' own code computes it.

- `evaluate_detection`: temporal detection mAP at several tIoU thresholds, under the
  "activitynet" protocol (ActivityNet's `eval_detection.py`) or the "thumos14" protocol (the
  THUMOS14 toolkit's `TH14evalDet.m`). The two differ by several points on the same detections.
- `evaluate_recognition`: video-level recognition mAP (THUMOS classification AP);
  `recognition_hit_rates`: ActivityNet's top-1 / top-3 hit rates.
- `charades_localization_map`: Charades localisation mAP over 25 time points per video, with
  `sample_snippet_scores` to read per-snippet scores at those points.
"""

from keras_wsal.evaluation.activitynet import activitynet_average_precision
from keras_wsal.evaluation.average_precision import (
    MeanAveragePrecision,
    interpolated_average_precision,
    precision_at_hits_average_precision,
)
from keras_wsal.evaluation.charades import (
    CHARADES_TIME_POINTS,
    charades_localization_map,
    charades_time_points,
    sample_snippet_scores,
)
from keras_wsal.evaluation.detection import (
    DEFAULT_TIOU_THRESHOLDS,
    PROTOCOLS,
    DetectionEvaluation,
    UnknownVideoWarning,
    evaluate_detection,
)
from keras_wsal.evaluation.recognition import evaluate_recognition, recognition_hit_rates
from keras_wsal.evaluation.thumos14 import thumos14_average_precision
from keras_wsal.evaluation.tiou import segment_tiou
from keras_wsal.formats.annotations import (
    AMBIGUOUS,
    GroundTruth,
    VideoGroundTruth,
    load_ground_truth,
)
from keras_wsal.formats.results import (
    DetectionResults,
    VideoDetections,
    load_detection_results,
    load_recognition_results,
)

__all__ = [
    "AMBIGUOUS",
    "CHARADES_TIME_POINTS",
    "DEFAULT_TIOU_THRESHOLDS",
    "PROTOCOLS",
    "DetectionEvaluation",
    "DetectionResults",
    "GroundTruth",
    "MeanAveragePrecision",
    "UnknownVideoWarning",
    "VideoDetections",
    "VideoGroundTruth",
    "activitynet_average_precision",
    "charades_localization_map",
    "charades_time_points",
    "evaluate_detection",
    "evaluate_recognition",
    "recognition_hit_rates",
    "interpolated_average_precision",
    "load_detection_results",
    "load_ground_truth",
    "load_recognition_results",
    "precision_at_hits_average_precision",
    "sample_snippet_scores",
    "segment_tiou",
    "thumos14_average_precision",
]
