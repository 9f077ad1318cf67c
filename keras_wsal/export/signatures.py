"""The signatures of an exported keras_wsal model, every input and output named:

- `serving_default`: the snippet features of each stream, float32 `[batch, time, D]` (named
  like the model's streams: `features`, or `rgb` and `flow`), and `length` int32 `[batch]`, the
  valid snippets of each video (the first `length[b]`; the rest is padding) →
  float32 `video_scores [batch, C]`, `snippet_scores`, `detection_scores [batch, time, C]` and
  `selection [batch, time, C or 1]`, 0 at padded snippets (as `model.snippet_outputs`; float32
  also for a mixed-precision model);
- `detect`: the same inputs → `video_scores` and the segments of each video under the export's
  `DetectionRule` (by default the model's, as `keras-wsal detect`), as padded tensors
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
  clips must come in time order. the rule's `min_duration` compares that span in seconds.

`length` is a required input: TF Serving's Predict API rejects a request that does not feed
every input of a signature, and a SavedModel signature has no per-request default; a client with
one unpadded video sends its number of snippets. Each `length[b]` must be in [1, time] (a
request outside that range fails with an error that names `length`).

The signatures are `tf.function`s of a `tf.Module` saved with `tf.saved_model.save`, rather than
`keras.export.ExportArchive`: the module carries the class-names asset, which an ExportArchive
can only hold through its private attributes. Like ExportArchive, the module tracks the
`tf.Variable`s the traced functions capture (not the Keras model): a SavedModel that tracks
Keras 3 variables only through the model loads in TF2 but, loaded the way TF Serving loads it
(restore the variables into a session, then run the signature), it reads uninitialised variables.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import tensorflow as tf

from keras_wsal.backbones import preprocess_input_ops
from keras_wsal.errors import ExportError
from keras_wsal.export.detection import padded_detections
from keras_wsal.inference.detection_rule import DetectionRule
from keras_wsal.models import UntrimmedNetVideo

SNIPPET_OUTPUTS = ("video_scores", "snippet_scores", "detection_scores", "selection")
DETECTION_OUTPUTS = ("video_scores", "start", "end", "class", "label", "score", "count")
LENGTH_INPUT = "length"
CLASS_INPUT = "class_index"
# A model on clips names its uint8 input after its stream.
CLIP_INPUTS = {"rgb": "frames", "flow": "flow"}
CLIP_TIMES = ("clip_start", "clip_end")
SIGNATURES = ("serving_default", "detect", "class_names", "labels")
INPUT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def takes_clips(model) -> bool:
    """Whether `model` is a model on clips of raw frames (`UntrimmedNetVideo`)."""
    return isinstance(model, UntrimmedNetVideo)


def snippet_shape(model) -> tuple[int, ...]:
    """`(K, S, S, C)`: the snippets of one clip of a model on clips."""
    return (model.num_segments, *model.backbone.input_shape[1:])


def input_settings(model) -> dict:
    """What the export settings record of the model's inputs."""
    if takes_clips(model):
        return {
            "backbone": model.backbone_name,
            "snippets": {CLIP_INPUTS[model.stream]: list(snippet_shape(model))},
        }
    return {"feature_dims": dict(model.feature_dims)}


def input_specs(model, *, clip_times: bool) -> dict:
    """A signature's input specs by name (module docstring), `detect`'s with `clip_times`.

    Each stream's features, or a model on clips' uint8 snippets (and, with `clip_times`, the
    clips' seconds); then `length`.
    """
    if takes_clips(model):
        name = CLIP_INPUTS[model.stream]
        specs = {name: tf.TensorSpec([None, None, *snippet_shape(model)], tf.uint8, name=name)}
        if clip_times:
            specs |= {t: tf.TensorSpec([None, None], tf.float32, name=t) for t in CLIP_TIMES}
    else:
        specs = {
            stream: tf.TensorSpec([None, None, dim], tf.float32, name=stream)
            for stream, dim in model.feature_dims.items()
        }
    specs[LENGTH_INPUT] = tf.TensorSpec([None], tf.int32, name=LENGTH_INPUT)
    return specs


def checked_inputs(inputs, model) -> dict:
    """A signature's inputs after the checks a request can fail, and the model's `mask`.

    The signature declares the shapes, but TF Serving feeds a request's tensors without checking
    them; without these checks a wrong D fails deep inside a MatMul. Every computation depends on
    the checks, so a bad request fails with their message, which names the input.
    """
    clips = takes_clips(model)
    first = CLIP_INPUTS[model.stream] if clips else next(iter(model.feature_dims))
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
        snippet = snippet_shape(model)
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


def model_inputs(checked: dict, model) -> dict:
    """The model's input dict from checked signature inputs (snippets preprocessed in-graph)."""
    if takes_clips(model):
        snippets = checked[CLIP_INPUTS[model.stream]]
        return {
            model.stream: preprocess_input_ops(snippets, model.backbone_name, model.stream),
            "mask": checked["mask"],
        }
    return {name: checked[name] for name in [*model.feature_dims, "mask"]}


def serving_module(model, classes: list[str], rule: DetectionRule, feature_fps: float | None):
    """A `tf.Module` with the signatures' `tf.function`s, and the signatures by name."""
    names = tf.constant(classes, tf.string)

    def snippet_outputs(checked):
        outputs = model.snippet_outputs(model_inputs(checked, model), training=False)
        return {name: tf.cast(outputs[name], tf.float32) for name in SNIPPET_OUTPUTS}

    def label_of(class_index):
        # -1 is the class of a padding row of `detect`; its label is "".
        check = tf.debugging.assert_greater_equal(
            class_index, -1, message=f"`{CLASS_INPUT}` must be >= -1 (-1: padding, label '')"
        )
        with tf.control_dependencies([check]):
            found = tf.gather(names, tf.maximum(class_index, 0))
        return tf.where(class_index >= 0, found, "")

    @tf.function(input_signature=[input_specs(model, clip_times=False)])
    def serve(inputs):
        return snippet_outputs(checked_inputs(inputs, model))

    @tf.function(input_signature=[input_specs(model, clip_times=True)])
    def detect(inputs):
        checked = checked_inputs(inputs, model)
        outputs = snippet_outputs(checked)
        segments = padded_detections(
            outputs,
            checked[LENGTH_INPUT],
            rule,
            feature_fps=None if takes_clips(model) else feature_fps,
            step_times=tuple(checked[t] for t in CLIP_TIMES) if takes_clips(model) else None,
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


def describe_signatures(saved_model_dir: str | os.PathLike) -> str:
    """The signatures of a SavedModel as TF Serving sees them: names, dtypes and shapes.

    One block per signature (the `serve` tag set), inputs then outputs, sorted by name; a
    shape's -1 is a dimension of any size.
    """
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
