"""TensorFlow SavedModel export for TensorFlow Serving (`keras-wsal export`).

- `export_saved_model(run, "saved_models/NAME")`: a new version `saved_models/NAME/VERSION/` with
  the `serving_default`, `detect` and `class_names` signatures, and `saved_models/NAME/keras/
  VERSION.keras`;
- `padded_detections`: a `keras_wsal.inference.DetectionRule` in TensorFlow ops, as the `detect`
  signature runs it (the same rule object as `keras-wsal detect`);
- `signatures`: the signatures' inputs, outputs and in-graph request checks;
- `versions`: the folder layout TF Serving polls (`next_version`, `existing_versions`);
- `predict_request`: the JSON body of a TF Serving REST `:predict` request;
- `describe_signatures`: a SavedModel's signatures with their dtypes and shapes.
"""

from keras_wsal.export.detection import padded_detections
from keras_wsal.export.rest import predict_request
from keras_wsal.export.saved_model import export_rule, export_saved_model
from keras_wsal.export.signatures import DETECTION_OUTPUTS, SNIPPET_OUTPUTS, describe_signatures
from keras_wsal.export.versions import existing_versions, next_version, version_number

__all__ = [
    "DETECTION_OUTPUTS",
    "SNIPPET_OUTPUTS",
    "describe_signatures",
    "existing_versions",
    "export_rule",
    "export_saved_model",
    "next_version",
    "padded_detections",
    "predict_request",
    "version_number",
]
