"""Feature datasets for weakly supervised action localisation.

One on-disk format (`DATASET/annotations.json`, `meta.json`, `features/[STREAM/]VIDEO.npy`; see
`keras_wsal.datasets.feature_dataset`), its reader (`FeatureDataset`) and writers, importers from
the W-TALC and ActivityNet layouts, a synthetic generator with planted action instances, and the
`tf.data` pipelines that train from video-level labels only.
"""

from keras_wsal.datasets.clip_sampling import ClipSampling
from keras_wsal.datasets.feature_dataset import FeatureDataset, GroundTruthSegment
from keras_wsal.datasets.importers import ImportReport, import_activitynet, import_wtalc
from keras_wsal.datasets.pipeline import (
    make_inference_dataset,
    make_training_dataset,
    make_training_dataset_from_weak_labels,
)
from keras_wsal.datasets.synthetic import THUMOS14_LIKE, make_synthetic_dataset
from keras_wsal.datasets.synthetic_plan import SyntheticDirections, synthetic_directions
from keras_wsal.datasets.temporal_augmentation import TemporalAugmentation
from keras_wsal.datasets.weak_labels import WeakLabels, weak_labels_from_names
from keras_wsal.datasets.writers import (
    write_annotations,
    write_dataset,
    write_dataset_by_video,
    write_features,
    write_json,
    write_meta,
)

__all__ = [
    "ClipSampling",
    "FeatureDataset",
    "GroundTruthSegment",
    "ImportReport",
    "SyntheticDirections",
    "WeakLabels",
    "import_activitynet",
    "import_wtalc",
    "make_inference_dataset",
    "THUMOS14_LIKE",
    "TemporalAugmentation",
    "make_synthetic_dataset",
    "make_training_dataset",
    "make_training_dataset_from_weak_labels",
    "synthetic_directions",
    "weak_labels_from_names",
    "write_annotations",
    "write_dataset",
    "write_features",
    "write_json",
    "write_meta",
    "write_dataset_by_video",
]
