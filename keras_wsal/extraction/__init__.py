"""Two-stream snippet features of raw videos (`snippet_features`) and their extraction into a
feature dataset (`dataset_extraction`, `keras-wsal extract`)."""

from keras_wsal.extraction.dataset_extraction import (
    EXTRACTION_DIR,
    ExtractionReport,
    extract_dataset,
)
from keras_wsal.extraction.snippet_features import (
    ExtractionSettings,
    VideoFeatures,
    extract_video_features,
    make_streams,
)

__all__ = [
    "EXTRACTION_DIR",
    "ExtractionReport",
    "ExtractionSettings",
    "VideoFeatures",
    "extract_dataset",
    "extract_video_features",
    "make_streams",
]
