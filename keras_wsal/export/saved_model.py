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

A model on clips of raw frames, `UntrimmedNetVideo` (backbone inside, one stream), takes its
snippets as decoded uint8 images instead of features; the backbone's preprocessing
(`keras_wsal.backbones.preprocess_input_ops`) runs inside the graph:

- `serving_default`: `frames` uint8 `[batch, clips, K, S, S, 3]` (an RGB model: one RGB frame
  per segment of each clip) or `flow` uint8 `[batch, clips, K, S, S, 10]` (a flow model: the
  stack of 5 quantised flows, x and y alternating, of each segment, as
  `keras_wsal.video.quantize_flow` stores them), K = the model's segments per clip, S = its
  input size; and `length` int32 `[batch]`, the valid clips → the same four outputs, one step
  per clip;
- `detect`: those inputs and `clip_start`, `clip_end` float32 `[batch, clips]`, the seconds each
  clip covers (a client has them: it chose the clips, e.g. shot-based proposals of varying
  length, to decode their frames) → the same outputs as above; a segment is a run of
  consecutive detected clips, from the start of its first clip to the end of its last, so the
  clips must come in time order. `--min-duration` compares that span in seconds.

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
# A model on clips: its uint8 snippets input, by modality, and the clips' times of `detect`.
CLIP_INPUTS = {"rgb": "frames", "flow": "flow"}
CLIP_TIMES = ("clip_start", "clip_end")
SIGNATURES = ("serving_default", "detect", "class_names", "labels")
RULES = ("untrimmednet", "wsgn")
_INPUT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


@dataclasses.dataclass(frozen=True)
class DetectionSettings:
    """The detection rule baked into the `detect` signature (see `padded_detections`).

    Attributes:
        rule: "untrimmednet" (threshold `snippet_scores` where `selection` >= the attention
            threshold) or "wsgn" (threshold `detection_scores`).
        feature_fps: snippets per second (times are snippet index / feature_fps); None for a
            model on clips, whose `detect` signature takes each clip's times.
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
    feature_fps: float | None
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
        feature_fps: float | None,
        *,
        rule: str = "auto",
        threshold: float | None = None,
        relative: bool | None = None,
        class_threshold: float | None = 0.1,
        min_duration: float | None = None,
        attention_threshold: float = 1e-4,
        max_detections: int = 100,
    ) -> DetectionSettings:
        """The graph's detection rule for `model`, its paper's rule, overridden by the options given.

        `rule="auto"` picks the model's paper rule (`keras_wsal.inference.DetectionRule.for_model(
        model, "paper")`): UntrimmedNet's for soft selection (absolute threshold 0.5 where the
        attention is >= 1e-4), WSGN's otherwise (0.5 of each class's maximum, segments of at least
        1 s). The graph computes one threshold and mean segment scores: `keras-wsal detect`'s
        default rule (several thresholds, outer-inner scores, NMS) is not in the graph.

        Raises:
            ExportError: an option out of range (naming it), or a rule the graph cannot compute.
        """
        from keras_wsal.inference import DetectionRule

        try:
            named = (
                DetectionRule.for_model(model, "paper")
                if rule == "auto"
                else DetectionRule.named(rule)
            )
            if named.name not in RULES:
                raise ValueError(
                    f"the exported graph computes the rules {RULES}; got {named.name!r}"
                )
            return cls(
                rule=named.name,
                feature_fps=feature_fps,
                relative=(named.threshold_mode == "relative") if relative is None else relative,
                min_duration=named.post.min_duration if min_duration is None else min_duration,
                threshold=named.thresholds[0] if threshold is None else threshold,
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
        run_or_model: a run folder of `keras-wsal train` or of `train_end_to_end`, a `.keras`
            file, or a keras_wsal model (`UntrimmedNet`, `WSGN`, `UntrimmedNetVideo`).
        out_dir: the model's base path (TF Serving's `--model_base_path`), created if needed.
        version: the version to write; by default one more than the highest existing version
            (1 in a new folder). An existing version is never replaced.
        classes: the class names in output order; by default the run's `classes.json`.
        feature_fps: snippets per second of the features; by default the run's dataset's
            (`config.json` → `DATA/meta.json`). Not for an `UntrimmedNetVideo`: its `detect`
            signature takes each clip's times (module docstring).
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
    if _takes_clips(model):
        if feature_fps is not None:
            raise ExportError(
                f"feature_fps: a model on clips ({type(model).__name__}) has no feature rate; its "
                f"`detect` signature takes each clip's seconds ({', '.join(CLIP_TIMES)})"
            )
    elif feature_fps is None:
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
            **_input_settings(model),
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


def _takes_clips(model) -> bool:
    """Whether `model` is a model on clips of raw frames (`UntrimmedNetVideo`)."""
    from keras_wsal.models import UntrimmedNetVideo

    return isinstance(model, UntrimmedNetVideo)


def _snippet_shape(model) -> tuple[int, ...]:
    """`(K, S, S, C)`: the snippets of one clip of a model on clips."""
    return (model.num_segments, *model.backbone.input_shape[1:])


def _input_settings(model) -> dict:
    """What the export settings record of the model's inputs."""
    if _takes_clips(model):
        return {
            "backbone": model.backbone_name,
            "snippets": {CLIP_INPUTS[model.modality]: list(_snippet_shape(model))},
        }
    return {"feature_dims": dict(model.feature_dims)}


def _input_specs(model, *, clip_times: bool) -> dict:
    """A signature's input specs by name (module docstring), `detect`'s with `clip_times`.

    Each stream's features, or a model on clips' uint8 snippets (and, with `clip_times`, the
    clips' seconds); then `length`.
    """
    import tensorflow as tf

    if _takes_clips(model):
        name = CLIP_INPUTS[model.modality]
        specs = {name: tf.TensorSpec([None, None, *_snippet_shape(model)], tf.uint8, name=name)}
        if clip_times:
            specs |= {t: tf.TensorSpec([None, None], tf.float32, name=t) for t in CLIP_TIMES}
    else:
        specs = {
            stream: tf.TensorSpec([None, None, dim], tf.float32, name=stream)
            for stream, dim in model.feature_dims.items()
        }
    specs[LENGTH_INPUT] = tf.TensorSpec([None], tf.int32, name=LENGTH_INPUT)
    return specs


def _checked_inputs(inputs, model) -> dict:
    """A signature's inputs after the checks a request can fail, and the model's `mask`.

    The signature declares the shapes, but TF Serving feeds a request's tensors without checking
    them; without these checks a wrong D fails deep inside a MatMul. Every computation depends on
    the checks, so a bad request fails with their message, which names the input.
    """
    import tensorflow as tf

    clips = _takes_clips(model)
    first = CLIP_INPUTS[model.modality] if clips else next(iter(model.feature_dims))
    length = inputs[LENGTH_INPUT]
    shape = tf.shape(inputs[first])
    steps = f"the clips dimension of `{first}`" if clips else "the time dimension of the features"
    checks = [
        tf.debugging.assert_equal(
            tf.size(length),
            shape[0],
            message="`length` must hold one value per video (the batch size)",
        ),
        tf.debugging.assert_greater_equal(length, 1, message="`length` must be >= 1"),
        tf.debugging.assert_less_equal(length, shape[1], message=f"`length` must be <= {steps}"),
    ]
    if clips:
        snippet = _snippet_shape(model)
        checks.append(
            tf.debugging.assert_equal(
                shape[2:],
                snippet,
                message=f"`{first}` must be uint8 snippets [batch, clips, "
                f"{', '.join(str(d) for d in snippet)}]",
            )
        )
        times = [t for t in CLIP_TIMES if t in inputs]
        for name in times:
            checks.append(
                tf.debugging.assert_equal(
                    tf.shape(inputs[name]),
                    shape[:2],
                    message=f"`{name}` must be seconds [batch, clips], as `{first}`",
                )
            )
        if times:
            with tf.control_dependencies(checks):
                valid = tf.sequence_mask(length, shape[1])
                start, end = (tf.boolean_mask(inputs[t], valid) for t in CLIP_TIMES)
                checks.append(
                    tf.debugging.assert_less(
                        start,
                        end,
                        message="`clip_end` must be > `clip_start` for every valid clip",
                    )
                )
    else:
        for stream, dim in model.feature_dims.items():
            checks.append(
                tf.debugging.assert_equal(
                    tf.shape(inputs[stream])[2],
                    dim,
                    message=f"`{stream}` must have {dim} features per snippet "
                    f"([batch, time, {dim}])",
                )
            )
            checks.append(
                tf.debugging.assert_equal(
                    tf.shape(inputs[stream])[:2],
                    shape[:2],
                    message=f"`{stream}` must have the batch and time dimensions of `{first}`",
                )
            )
    with tf.control_dependencies(checks):
        checked = {name: tf.identity(value) for name, value in inputs.items()}
        checked["mask"] = tf.sequence_mask(length, shape[1])
    return checked


def _model_inputs(checked: dict, model) -> dict:
    """The model's input dict from checked signature inputs (snippets preprocessed in-graph)."""
    from keras_wsal.backbones import preprocess_input_ops

    if _takes_clips(model):
        snippets = checked[CLIP_INPUTS[model.modality]]
        return {
            model.modality: preprocess_input_ops(snippets, model.backbone_name, model.modality),
            "mask": checked["mask"],
        }
    return {name: checked[name] for name in [*model.feature_dims, "mask"]}


def _serving_module(model, classes: list[str], detection: DetectionSettings):
    """A `tf.Module` with the signatures' `tf.function`s, and the signatures by name."""
    import tensorflow as tf

    from keras_wsal.export.detection import padded_detections

    names = tf.constant(classes, tf.string)

    def snippet_outputs(checked):
        outputs = model.snippet_outputs(_model_inputs(checked, model), training=False)
        return {name: tf.cast(outputs[name], tf.float32) for name in SNIPPET_OUTPUTS}

    def label_of(class_index):
        # -1 is the class of a padding row of `detect`; its label is "".
        check = tf.debugging.assert_greater_equal(
            class_index, -1, message=f"`{CLASS_INPUT}` must be >= -1 (-1: padding, label '')"
        )
        with tf.control_dependencies([check]):
            found = tf.gather(names, tf.maximum(class_index, 0))
        return tf.where(class_index >= 0, found, "")

    @tf.function(input_signature=[_input_specs(model, clip_times=False)])
    def serve(inputs):
        return snippet_outputs(_checked_inputs(inputs, model))

    @tf.function(input_signature=[_input_specs(model, clip_times=True)])
    def detect(inputs):
        checked = _checked_inputs(inputs, model)
        outputs = snippet_outputs(checked)
        if detection.rule == "untrimmednet":
            curve = outputs["snippet_scores"]
            eligible = tf.cast(outputs["selection"], tf.float64) >= detection.attention_threshold
        else:
            curve, eligible = outputs["detection_scores"], None
        segments = padded_detections(
            outputs["video_scores"],
            curve,
            checked[LENGTH_INPUT],
            eligible=eligible,
            step_times=tuple(checked[t] for t in CLIP_TIMES) if _takes_clips(model) else None,
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
    from keras_wsal.training.run_folder import CHECKPOINT_DIR, MODEL_FILE

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
    """An ExportError unless `model` is a keras_wsal model on snippet features or on clips.

    A model on snippet features is built here if needed; one on clips is built when constructed.
    """
    if _takes_clips(model):
        return
    missing = [
        a for a in ("snippet_outputs", "feature_dims", "num_classes") if not hasattr(model, a)
    ]
    if missing:
        raise ExportError(
            f"{type(model).__name__}: export takes a keras_wsal model on snippet features "
            f"(UntrimmedNet, WSGN) or on clips of frames (UntrimmedNetVideo); this model has no "
            f"{', '.join(missing)}"
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
