"""The file formats of keras_wsal, each parsed and written in one place.

| file | module |
| --- | --- |
| `annotations.json` (ActivityNet style: subsets, durations, labelled segments) | `annotations` |
| `meta.json` of a feature dataset (feature rate, streams, sizes, classes) | `dataset_meta` |
| a feature dataset's folders and `.npy` files | `dataset_layout` |
| detection and recognition results (ActivityNet's submission JSON) | `results` |
| per-snippet outputs (`.npz`, `keras-wsal detect --save-snippets`) | `snippet_outputs` |
| the JSON reading and field checks they share, with one message style | `json_files` |
"""

from keras_wsal.formats.annotations import (
    AMBIGUOUS,
    GroundTruth,
    VideoGroundTruth,
    VideoRecord,
    load_ground_truth,
    parse_database,
    parse_segments,
    resolve_classes,
    subset_matches,
    videos_of_subset,
)

__all__ = [
    "AMBIGUOUS",
    "GroundTruth",
    "VideoGroundTruth",
    "VideoRecord",
    "load_ground_truth",
    "parse_database",
    "parse_segments",
    "resolve_classes",
    "subset_matches",
    "videos_of_subset",
]
