"""The file formats of keras_wsal, each parsed and written in one place.

| file | module |
| --- | --- |
| `annotations.json` (ActivityNet style: subsets, durations, labelled segments) | `annotations` |
| `meta.json` of a feature dataset (feature rate, streams, sizes, classes) | `dataset_meta` |
| a feature dataset's folders and `.npy` files | `dataset_layout` |
| detection and recognition results (ActivityNet's submission JSON) | `results` |
| per-snippet outputs (`.npz`, `keras-wsal detect --save-snippets`) | `snippet_outputs` |
| Charades' annotation CSV and localisation submission (`VIDEO FRAME S_1 ... S_C`) | `charades` |
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
from keras_wsal.formats.charades import (
    charades_annotations,
    read_charades_submission,
    write_charades_submission,
)

__all__ = [
    "AMBIGUOUS",
    "GroundTruth",
    "VideoGroundTruth",
    "VideoRecord",
    "charades_annotations",
    "load_ground_truth",
    "parse_database",
    "parse_segments",
    "read_charades_submission",
    "resolve_classes",
    "subset_matches",
    "videos_of_subset",
    "write_charades_submission",
]
