"""A trained keras_wsal model as a TensorFlow SavedModel for TensorFlow Serving.

`export_saved_model(run, "saved_models/NAME")` writes `saved_models/NAME/VERSION/` (the layout
of `keras_wsal.export.versions`) with the signatures of `keras_wsal.export.signatures`. The class
names also travel as the asset `assets/classes.txt` (one per line, in index order), and the
export settings (the model's inputs, the classes, the `detect` signature's `DetectionRule` and
feature rate) as `assets/keras_wsal_export.json`. The same model is written for Keras users as
`NAME/keras/VERSION.keras`, outside the version directory that TF Serving loads.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import keras
import tensorflow as tf

from keras_wsal.errors import DataError, ExportError
from keras_wsal.export.signatures import (
    CLIP_TIMES,
    INPUT_NAME,
    LENGTH_INPUT,
    input_settings,
    serving_module,
    takes_clips,
)
from keras_wsal.export.versions import check_new_version, next_version, publish, staging_directory
from keras_wsal.inference.detection_rule import DetectionRule
from keras_wsal.training.run_folder import load_run_model, run_feature_fps

CLASSES_ASSET = "classes.txt"
SETTINGS_ASSET = "keras_wsal_export.json"
# Rows per video of `detect` when the rule sets no cap of its own.
DEFAULT_MAX_DETECTIONS = 100


def export_saved_model(
    run_or_model,
    out_dir: str | os.PathLike,
    *,
    version: int | None = None,
    classes: Sequence[str] | None = None,
    feature_fps: float | None = None,
    rule: str | DetectionRule = "default",
    max_detections: int | None = None,
    **rule_changes,
) -> Path:
    """Export a model as `out_dir/VERSION/` (a SavedModel) and `out_dir/keras/VERSION.keras`.

    Args:
        run_or_model: a run folder of `keras-wsal train` or of `train_end_to_end`, a `.keras`
            file, or a keras_wsal model (`UntrimmedNet`, `WSGN`, `WTALC`, `UntrimmedNetVideo`).
        out_dir: the model's base path (TF Serving's `--model_base_path`), created if needed.
        version: the version to write; by default one more than the highest existing version
            (1 in a new folder). An existing version is never replaced.
        classes: the class names in output order; by default the run's `classes.json`.
        feature_fps: snippets per second of the features; by default the run's dataset's
            (`config.json` → `DATA/meta.json`). Not for an `UntrimmedNetVideo`: its `detect`
            signature takes each clip's times (`keras_wsal.export.signatures`).
        rule: the `detect` signature's `DetectionRule`: "default" (the model's, as `keras-wsal
            detect`), "paper" (its paper's), a rule by name, or a `DetectionRule`.
        max_detections: N, the segments `detect` returns per video; by default the rule's own
            cap, or 100 when it has none.
        **rule_changes: settings of the rule to change (`DetectionRule.replace`), e.g.
            `thresholds=(0.3,)`.

    Returns:
        The version directory written.

    Raises:
        ExportError: no model in the run folder, no class names or feature rate to be found,
            an existing version, a bad option; on any error no version directory is left behind.
    """
    if keras.backend.backend() != "tensorflow":
        raise ExportError(
            f"SavedModel export needs the TensorFlow backend of Keras; KERAS_BACKEND is "
            f"{keras.backend.backend()!r}"
        )
    model, run_classes, run_dir = _resolve_model(run_or_model)
    classes = _check_classes(classes if classes is not None else run_classes, model)
    if takes_clips(model):
        if feature_fps is not None:
            raise ExportError(
                f"feature_fps: a model on clips ({type(model).__name__}) has no feature rate; its "
                f"`detect` signature takes each clip's seconds ({', '.join(CLIP_TIMES)})"
            )
    elif feature_fps is None:
        feature_fps = _run_feature_fps(run_dir)
    detection = export_rule(model, rule, max_detections, **rule_changes)
    base = Path(out_dir)
    chosen = version is None
    version = next_version(base) if chosen else check_new_version(base, version)
    with staging_directory(base) as staging:
        assets = staging / "assets"
        assets.mkdir()
        (assets / CLASSES_ASSET).write_text(
            "".join(f"{name}\n" for name in classes), encoding="utf-8"
        )
        settings = {
            "model": type(model).__name__,
            **input_settings(model),
            "classes": list(classes),
            "detection": {"rule": detection.to_dict(), "feature_fps": feature_fps},
            "source": None if run_dir is None else str(run_or_model),
        }
        (assets / SETTINGS_ASSET).write_text(
            json.dumps(settings, indent=1) + "\n", encoding="utf-8"
        )
        _write_saved_model(model, classes, detection, feature_fps, assets, staging / "saved_model")
        model.save(staging / "model.keras")
        return publish(staging / "saved_model", staging / "model.keras", base, version, chosen)


def export_rule(
    model,
    rule: str | DetectionRule = "default",
    max_detections: int | None = None,
    **changes,
) -> DetectionRule:
    """The `detect` signature's rule: `DetectionRule.resolve(model, rule, **changes)`, with a cap
    of `max_detections` rows (the rule's own, or 100 when it has none).

    Raises:
        ExportError: an unknown rule name or a bad setting.
    """
    try:
        chosen = DetectionRule.resolve(model, rule, **changes)
        if max_detections is not None:
            return chosen.replace(max_detections=max_detections)
        if chosen.post.max_detections is None:
            return chosen.replace(max_detections=DEFAULT_MAX_DETECTIONS)
        return chosen
    except ValueError as error:
        raise ExportError(str(error)) from None


def _write_saved_model(
    model, classes, rule: DetectionRule, feature_fps: float | None, assets: Path, path: Path
) -> None:
    """The SavedModel of `_serving_module` at `path`, with the files in `assets` as its assets."""
    module, signatures = serving_module(model, classes, rule, feature_fps)
    module.assets = [tf.saved_model.Asset(str(file)) for file in sorted(assets.iterdir())]
    tf.saved_model.save(module, str(path), signatures=signatures)


def _resolve_model(run_or_model):
    """(model, class names or None, run folder or None) from a model, a run folder or a file."""
    if isinstance(run_or_model, keras.Model):
        model, classes, run_dir = run_or_model, None, None
    else:
        path = Path(run_or_model)
        try:
            model, classes = load_run_model(path)
        except DataError as error:
            raise ExportError(str(error)) from None
        run_dir = path if path.is_dir() else path.parent
    _check_model(model)
    return model, classes, run_dir


def _run_feature_fps(run_dir: Path | None) -> float:
    """The feature rate of the run's dataset, as an ExportError that says what to pass."""
    if run_dir is None:
        raise ExportError(
            "feature_fps: not given, and there is no run to find the dataset's rate in; pass the "
            "features' snippets per second"
        )
    try:
        return run_feature_fps(run_dir)
    except DataError as error:
        raise ExportError(
            f"feature_fps: not given, and the run's dataset cannot be read ({error}); pass "
            "the features' snippets per second"
        ) from None


def _check_model(model) -> None:
    """An ExportError unless `model` is a keras_wsal model on snippet features or on clips.

    A model on snippet features is built here if needed; one on clips is built when constructed.
    """
    if takes_clips(model):
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
        if stream == LENGTH_INPUT or not INPUT_NAME.fullmatch(stream):
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
