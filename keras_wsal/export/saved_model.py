"""A trained keras_wsal model as a TensorFlow SavedModel for TensorFlow Serving.

`export_saved_model(run, "saved_models/NAME")` writes `saved_models/NAME/VERSION/` (the layout
of `keras_wsal.export.versions`) with four signatures, every input and output named:

- `serving_default`: the snippet features of each stream, float32 `[batch, time, D]` (named
  like the model's streams: `features`, or `rgb` and `flow`), and `length` int32 `[batch]`, the
  valid snippets of each video (the first `length[b]`; the rest is padding) →
  float32 `video_scores [batch, C]`, `snippet_scores`, `detection_scores [batch, time, C]` and
  `selection [batch, time, C or 1]`, 0 at padded snippets (as `model.snippet_outputs`; float32
  also for a mixed-precision model);
- `detect`: the same inputs → `video_scores` and the segments of each video as padded tensors
  (`keras_wsal.export.padded_detections`): `start`, `end` (seconds), `score` float32
  `[batch, N]`, `class` int32 `[batch, N]`, `label` string `[batch, N]`, `count` int32
  `[batch]`; rows from `count[b]` on are padding (class -1, label "");
- `class_names`: no input → `class_names` string `[C]`, the label of each class index (gRPC
  and Python clients; TF Serving's REST API cannot call a signature without inputs);
- `labels`: `class_index` int32 `[n]` → `label` string `[n]` (-1 → ""), the same lookup for
  REST clients.

`length` is a required input: TF Serving's Predict API rejects a request that does not feed
every input of a signature, and a SavedModel signature has no per-request default; a client with
one unpadded video sends its number of snippets. Each `length[b]` must be in [1, time] (a
request outside that range fails with an error that names `length`).

The class names also travel as the asset `assets/classes.txt` (one per line, in index order),
and the export settings as `assets/keras_wsal_export.json`. The same model is written for Keras
users as `NAME/keras/VERSION.keras`, outside the version directory that TF Serving loads.

The signatures are `tf.function`s of a `tf.Module` saved with `tf.saved_model.save`, rather than
`keras.export.ExportArchive`: the module carries the class-names asset, which an ExportArchive
can only hold through its private attributes. Like ExportArchive, the module tracks the
`tf.Variable`s the traced functions capture (not the Keras model): a SavedModel that tracks
Keras 3 variables only through the model loads in TF2 but, loaded the way TF Serving loads it
(restore the variables into a session, then run the signature), it reads uninitialised variables.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

from keras_wsal.errors import DataError, ExportError
from keras_wsal.export.versions import check_new_version, next_version, publish, staging_directory

SNIPPET_OUTPUTS = ("video_scores", "snippet_scores", "detection_scores", "selection")
DETECTION_OUTPUTS = ("video_scores", "start", "end", "class", "label", "score", "count")
CLASSES_ASSET = "classes.txt"
SETTINGS_ASSET = "keras_wsal_export.json"
LENGTH_INPUT = "length"
CLASS_INPUT = "class_index"
SIGNATURES = ("serving_default", "detect", "class_names", "labels")
RULES = ("untrimmednet", "wsgn")
_INPUT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


@dataclasses.dataclass(frozen=True)
class DetectionSettings:
    """The detection rule baked into the `detect` signature (see `padded_detections`).

    Attributes:
        rule: "untrimmednet" (threshold `snippet_scores` where `selection` >= the attention
            threshold) or "wsgn" (threshold `detection_scores`).
        feature_fps: snippets per second (times are snippet index / feature_fps).
        relative: the threshold is relative to each class's maximum over the video.
        min_duration: drop segments shorter than this many seconds.
        threshold: θ, absolute or relative.
        class_threshold: localise classes whose video score is >= this (None: every class).
        attention_threshold: the UntrimmedNet rule's background removal on `selection`.
        max_detections: N, the segments returned per video.

    Raises:
        ValueError: a setting out of range (naming it).
    """

    rule: str
    feature_fps: float
    relative: bool
    min_duration: float
    threshold: float = 0.5
    class_threshold: float | None = 0.1
    attention_threshold: float = 1e-4
    max_detections: int = 100

    def __post_init__(self):
        from keras_wsal.export.detection import check_detection_options

        if self.rule not in RULES:
            raise ValueError(f"rule must be one of {RULES}; got {self.rule!r}")
        check_detection_options(**self.padded_detections_options())
        value = self.attention_threshold
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ValueError(f"attention_threshold must be a number >= 0; got {value!r}")

    @classmethod
    def for_model(
        cls,
        model,
        feature_fps: float,
        *,
        rule: str = "auto",
        threshold: float | None = None,
        relative: bool | None = None,
        class_threshold: float | None = 0.1,
        min_duration: float | None = None,
        attention_threshold: float = 1e-4,
        max_detections: int = 100,
    ) -> DetectionSettings:
        """The defaults of `keras-wsal detect` for `model`, overridden by the options given.

        `rule="auto"` picks UntrimmedNet's rule for soft selection and WSGN's otherwise
        (`keras_wsal.inference.resolve_rule`). UntrimmedNet's rule: absolute threshold 0.5, no
        minimum duration; WSGN's: 0.5 of each class's maximum, segments of at least 1 s.

        Raises:
            ExportError: an option out of range (naming it).
        """
        from keras_wsal.inference import resolve_rule

        try:
            rule = resolve_rule(model, rule)
            wsgn = rule == "wsgn"
            return cls(
                rule=rule,
                feature_fps=feature_fps,
                relative=wsgn if relative is None else relative,
                min_duration=(1.0 if wsgn else 0.0) if min_duration is None else min_duration,
                threshold=0.5 if threshold is None else threshold,
                class_threshold=class_threshold,
                attention_threshold=attention_threshold,
                max_detections=max_detections,
            )
        except ValueError as error:
            raise ExportError(str(error)) from None

    def padded_detections_options(self) -> dict:
        """The keyword arguments of `padded_detections` (all but the tensors and `eligible`)."""
        return {
            "feature_fps": self.feature_fps,
            "threshold": self.threshold,
            "relative": self.relative,
            "class_threshold": self.class_threshold,
            "min_duration": self.min_duration,
            "max_detections": self.max_detections,
        }


def export_saved_model(
    run_or_model,
    out_dir: str | os.PathLike,
    *,
    version: int | None = None,
    classes: Sequence[str] | None = None,
    feature_fps: float | None = None,
    max_detections: int = 100,
    rule: str = "auto",
    threshold: float | None = None,
    relative: bool | None = None,
    class_threshold: float | None = 0.1,
    min_duration: float | None = None,
    attention_threshold: float = 1e-4,
) -> Path:
    """Export a trained model as `out_dir/VERSION/` (a SavedModel) and `out_dir/keras/VERSION.keras`.

    Args:
        run_or_model: a run folder of `keras-wsal train`, a `.keras` file, or a keras_wsal model
            (`UntrimmedNet`, `WSGN`).
        out_dir: the model's base path (TF Serving's `--model_base_path`), created if needed.
        version: the version to write; by default one more than the highest existing version
            (1 in a new folder). An existing version is never replaced.
        classes: the class names in output order; by default the run's `classes.json`.
        feature_fps: snippets per second of the features; by default the run's dataset's
            (`config.json` → `DATA/meta.json`).
        max_detections: N, the segments the `detect` signature returns per video.
        rule, threshold, relative, class_threshold, min_duration, attention_threshold: the
            detection rule of the `detect` signature (`DetectionSettings.for_model`).

    Returns:
        The version directory written.

    Raises:
        ExportError: no model in the run folder, no class names or feature rate to be found,
            an existing version, a bad option; on any error no version directory is left behind.
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        raise ExportError(
            f"SavedModel export needs the TensorFlow backend of Keras; KERAS_BACKEND is "
            f"{keras.backend.backend()!r}"
        )
    model, run_classes, run_dir = _resolve_model(run_or_model)
    classes = _check_classes(classes if classes is not None else run_classes, model)
    if feature_fps is None:
        feature_fps = _run_feature_fps(run_dir)
    detection = DetectionSettings.for_model(
        model,
        feature_fps,
        rule=rule,
        threshold=threshold,
        relative=relative,
        class_threshold=class_threshold,
        min_duration=min_duration,
        attention_threshold=attention_threshold,
        max_detections=max_detections,
    )
    base = Path(out_dir)
    version = next_version(base) if version is None else check_new_version(base, version)
    with staging_directory(base) as staging:
        assets = staging / "assets"
        assets.mkdir()
        (assets / CLASSES_ASSET).write_text(
            "".join(f"{name}\n" for name in classes), encoding="utf-8"
        )
        settings = {
            "model": type(model).__name__,
            "feature_dims": dict(model.feature_dims),
            "classes": list(classes),
            "detection": dataclasses.asdict(detection),
            "source": None if run_dir is None else str(run_or_model),
        }
        (assets / SETTINGS_ASSET).write_text(
            json.dumps(settings, indent=1) + "\n", encoding="utf-8"
        )
        _write_saved_model(model, classes, detection, assets, staging / "saved_model")
        model.save(staging / "model.keras")
        return publish(staging / "saved_model", staging / "model.keras", base, version)


def describe_signatures(saved_model_dir: str | os.PathLike) -> str:
    """The signatures of a SavedModel as TF Serving sees them: names, dtypes and shapes.

    One block per signature (the `serve` tag set), inputs then outputs, sorted by name; a
    shape's -1 is a dimension of any size.
    """
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    path = Path(saved_model_dir) / "saved_model.pb"
    proto = saved_model_pb2.SavedModel()
    try:
        proto.ParseFromString(path.read_bytes())
    except FileNotFoundError:
        raise ExportError(f"{path}: no SavedModel here") from None
    lines = []
    for meta_graph in proto.meta_graphs:
        for name, signature in sorted(meta_graph.signature_def.items()):
            if name.startswith("__"):
                continue
            lines.append(f"signature {name!r}:")
            for kind, tensors in (("input ", signature.inputs), ("output", signature.outputs)):
                for key, info in sorted(tensors.items()):
                    dtype = tf.dtypes.as_dtype(info.dtype).name
                    shape = (
                        "unknown rank"
                        if info.tensor_shape.unknown_rank
                        else ("[" + ", ".join(str(d.size) for d in info.tensor_shape.dim) + "]")
                    )
                    lines.append(f"  {kind}  {key:<16} {dtype:<8} {shape}")
    return "\n".join(lines)


def _checked_model_inputs(inputs, feature_dims: dict):
    """The model's inputs (features and mask from `length`), after checks a request can fail.

    The signature declares each stream's D, but TF Serving feeds a request's tensors without
    checking their shapes against it; without these checks a wrong D fails deep inside a MatMul.
    Every computation depends on the checks, so a bad request fails with their message, which
    names the input.
    """
    import tensorflow as tf

    streams = list(feature_dims)
    length = inputs[LENGTH_INPUT]
    shape = tf.shape(inputs[streams[0]])
    checks = [
        tf.debugging.assert_equal(
            tf.size(length),
            shape[0],
            message="`length` must hold one value per video (the batch size)",
        ),
        tf.debugging.assert_greater_equal(length, 1, message="`length` must be >= 1"),
        tf.debugging.assert_less_equal(
            length, shape[1], message="`length` must be <= the time dimension of the features"
        ),
    ]
    for stream, dim in feature_dims.items():
        checks.append(
            tf.debugging.assert_equal(
                tf.shape(inputs[stream])[2],
                dim,
                message=f"`{stream}` must have {dim} features per snippet ([batch, time, {dim}])",
            )
        )
        checks.append(
            tf.debugging.assert_equal(
                tf.shape(inputs[stream])[:2],
                shape[:2],
                message=f"`{stream}` must have the batch and time dimensions of `{streams[0]}`",
            )
        )
    with tf.control_dependencies(checks):
        checked = {stream: tf.identity(inputs[stream]) for stream in streams}
        checked["mask"] = tf.sequence_mask(length, shape[1])
    return checked


def _serving_module(model, classes: list[str], detection: DetectionSettings):
    """A `tf.Module` with the signatures' `tf.function`s, and the signatures by name."""
    import tensorflow as tf

    from keras_wsal.export.detection import padded_detections

    specs = {
        stream: tf.TensorSpec([None, None, dim], tf.float32, name=stream)
        for stream, dim in model.feature_dims.items()
    }
    specs[LENGTH_INPUT] = tf.TensorSpec([None], tf.int32, name=LENGTH_INPUT)
    names = tf.constant(classes, tf.string)

    def snippet_outputs(inputs):
        checked = _checked_model_inputs(inputs, model.feature_dims)
        outputs = model.snippet_outputs(checked, training=False)
        return {name: tf.cast(outputs[name], tf.float32) for name in SNIPPET_OUTPUTS}

    def label_of(class_index):
        # -1 is the class of a padding row of `detect`; its label is "".
        check = tf.debugging.assert_greater_equal(
            class_index, -1, message=f"`{CLASS_INPUT}` must be >= -1 (-1: padding, label '')"
        )
        with tf.control_dependencies([check]):
            found = tf.gather(names, tf.maximum(class_index, 0))
        return tf.where(class_index >= 0, found, "")

    @tf.function(input_signature=[specs])
    def serve(inputs):
        return snippet_outputs(inputs)

    @tf.function(input_signature=[specs])
    def detect(inputs):
        outputs = snippet_outputs(inputs)
        if detection.rule == "untrimmednet":
            curve = outputs["snippet_scores"]
            eligible = tf.cast(outputs["selection"], tf.float64) >= detection.attention_threshold
        else:
            curve, eligible = outputs["detection_scores"], None
        segments = padded_detections(
            outputs["video_scores"],
            curve,
            inputs[LENGTH_INPUT],
            eligible=eligible,
            **detection.padded_detections_options(),
        )
        label = label_of(segments["class"])
        return {"video_scores": outputs["video_scores"], "label": label, **segments}

    @tf.function(input_signature=[])
    def class_names():
        return {"class_names": names}

    @tf.function(input_signature=[{CLASS_INPUT: tf.TensorSpec([None], tf.int32, name=CLASS_INPUT)}])
    def labels(inputs):
        class_index = inputs[CLASS_INPUT]
        check = tf.debugging.assert_less(
            class_index,
            len(classes),
            message=f"`{CLASS_INPUT}` must be < {len(classes)} (the classes)",
        )
        with tf.control_dependencies([check]):
            return {"label": label_of(class_index)}

    module = tf.Module(name="keras_wsal_serving")
    module.serve, module.detect, module.class_names, module.labels = (
        serve,
        detect,
        class_names,
        labels,
    )
    signatures = {
        "serving_default": serve.get_concrete_function(),
        "detect": detect.get_concrete_function(),
        "class_names": class_names.get_concrete_function(),
        "labels": labels.get_concrete_function(),
    }
    # The tf.Variables the traced functions read, tracked directly (module docstring).
    captured = {}
    for function in signatures.values():
        for variable in function.variables:
            captured.setdefault(id(variable), variable)
    module.model_variables = list(captured.values())
    return module, signatures


def _write_saved_model(
    model, classes, detection: DetectionSettings, assets: Path, path: Path
) -> None:
    """The SavedModel of `_serving_module` at `path`, with the files in `assets` as its assets."""
    import tensorflow as tf

    module, signatures = _serving_module(model, classes, detection)
    module.assets = [tf.saved_model.Asset(str(file)) for file in sorted(assets.iterdir())]
    tf.saved_model.save(module, str(path), signatures=signatures)


def _resolve_model(run_or_model):
    """(model, class names or None, run folder or None) from a model, a run folder or a file."""
    import keras

    from keras_wsal.training import load_run_model
    from keras_wsal.training.trainer import CHECKPOINT_DIR, MODEL_FILE

    if isinstance(run_or_model, keras.Model):
        model, classes, run_dir = run_or_model, None, None
    else:
        path = Path(run_or_model)
        if path.is_dir() and not (path / MODEL_FILE).exists():
            hint = (
                f"it has {CHECKPOINT_DIR}/ but no final model: finish the training by running "
                "`keras-wsal train` again with the same --out"
                if (path / CHECKPOINT_DIR).is_dir()
                else "expected a run folder of `keras-wsal train` or a .keras file"
            )
            raise ExportError(f"{path}: no trained model ({MODEL_FILE}) here; {hint}")
        if not path.exists():
            raise ExportError(f"{path}: no such run folder or .keras file")
        try:
            model, classes = load_run_model(path)
        except DataError as error:
            raise ExportError(str(error)) from None
        run_dir = path if path.is_dir() else path.parent
    _check_model(model)
    return model, classes, run_dir


def _check_model(model) -> None:
    """An ExportError unless `model` is a keras_wsal model on snippet features, built."""
    missing = [
        a for a in ("snippet_outputs", "feature_dims", "num_classes") if not hasattr(model, a)
    ]
    if missing:
        head = getattr(model, "head", None)
        hint = (
            f"; its `.head` ({type(head).__name__}) takes the backbone's features and can be exported"
            if hasattr(head, "feature_dims")
            else ""
        )
        raise ExportError(
            f"{type(model).__name__}: export takes a keras_wsal model on snippet features "
            f"(UntrimmedNet, WSGN); this model has no {', '.join(missing)}{hint}"
        )
    for stream in model.feature_dims:
        if stream == LENGTH_INPUT or not _INPUT_NAME.fullmatch(stream):
            raise ExportError(
                f"stream {stream!r} cannot name a signature input: expected a letter then letters, "
                f"digits or '_', and not {LENGTH_INPUT!r}"
            )
    if not model.built:
        model.build({stream: (None, None, dim) for stream, dim in model.feature_dims.items()})


def _check_classes(classes, model) -> list[str]:
    if classes is None:
        raise ExportError(
            "classes: no class names (a run folder has them in classes.json); pass the "
            f"{model.num_classes} names in output order"
        )
    classes = list(classes)
    if len(classes) != model.num_classes:
        raise ExportError(
            f"classes: the model predicts {model.num_classes} classes; got {len(classes)} names"
        )
    bad = [c for c in classes if not isinstance(c, str) or not c or "\n" in c or "\r" in c]
    if bad:
        raise ExportError(
            f"classes: every name must be a non-empty one-line string; got {bad[0]!r}"
        )
    if len(set(classes)) != len(classes):
        raise ExportError(f"classes: the names must be distinct; got {classes}")
    return classes


def _run_feature_fps(run_dir: Path | None) -> float:
    """The feature rate of the run's dataset (`config.json` → `DATA/meta.json`)."""
    from keras_wsal.datasets import FeatureDataset
    from keras_wsal.training import TrainConfig
    from keras_wsal.training.config import CONFIG_FILE

    if run_dir is None or not (run_dir / CONFIG_FILE).exists():
        raise ExportError(
            f"feature_fps: not given, and there is no run {CONFIG_FILE} to find the dataset's "
            "rate in; pass the features' snippets per second"
        )
    try:
        config = TrainConfig.load(run_dir)
        return float(FeatureDataset(config.data).feature_fps)
    except DataError as error:
        raise ExportError(
            f"feature_fps: not given, and the run's dataset cannot be read ({error}); pass the "
            "features' snippets per second"
        ) from None
