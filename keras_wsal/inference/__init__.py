"""From per-snippet model outputs to video-level predictions (WSR) and temporal detections (WSD).

Everything here works on one video's NumPy arrays: `video_scores` and `ranked_labels` for
recognition; `DetectionRule` (every detection setting in one place, the rules by name and each
model's default), `untrimmednet_detections`, `wsgn_detections` and the shared `detect_segments`
pipeline for detection; `predict_videos` to run a trained model over a dataset;
`write_detection_results` (from `keras_wsal.formats.results`) for the ActivityNet result JSON that
`keras-wsal evaluate` reads.
"""

from typing import TYPE_CHECKING

from keras_wsal.utils.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from keras_wsal.formats.results import detection_results, write_detection_results
    from keras_wsal.inference.detection import (
        SEGMENT_SCORES,
        VIDEO_SCORE_FUSIONS,
        PostProcessing,
        detect_segments,
        group_snippets,
        outer_inner_score,
        select_classes,
        temporal_nms,
    )
    from keras_wsal.inference.detection_rule import (
        RULE_NAMES,
        DetectionRule,
        smooth_over_time,
    )
    from keras_wsal.inference.paper_detections import untrimmednet_detections, wsgn_detections
    from keras_wsal.inference.predict import (
        VideoOutputs,
        check_model_matches_dataset,
        predict_videos,
    )
    from keras_wsal.inference.recognition import (
        VIDEO_SCORE_METHODS,
        attention_pooling,
        ranked_labels,
        recognition_results,
        top_k_pooling,
        video_scores,
    )

__all__ = [
    "RULE_NAMES",
    "DetectionRule",
    "VideoOutputs",
    "check_model_matches_dataset",
    "predict_videos",
    "smooth_over_time",
    "SEGMENT_SCORES",
    "VIDEO_SCORE_FUSIONS",
    "VIDEO_SCORE_METHODS",
    "PostProcessing",
    "attention_pooling",
    "detect_segments",
    "detection_results",
    "group_snippets",
    "outer_inner_score",
    "ranked_labels",
    "recognition_results",
    "select_classes",
    "temporal_nms",
    "top_k_pooling",
    "untrimmednet_detections",
    "video_scores",
    "write_detection_results",
    "wsgn_detections",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__, __all__)
