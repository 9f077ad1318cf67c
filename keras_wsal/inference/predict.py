"""Running a trained model over a dataset: per-snippet outputs, detections, recognition scores."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from keras_wsal.errors import DataError


@dataclass(frozen=True)
class VideoOutputs:
    """One video's model outputs with the padding cut off (T real snippets)."""

    video: str
    video_scores: np.ndarray  # [C]
    snippet_scores: np.ndarray  # [T, C]
    selection: np.ndarray  # [T, C] or [T, 1]
    detection_scores: np.ndarray  # [T, C]


def predict_videos(
    model, dataset, subset: str, batch_size: int = 1, frames_per_snippet: int | None = None
) -> Iterator[VideoOutputs]:
    """Run `model.snippet_outputs` over every video of `subset` (whole videos, in order).

    Args:
        model: a keras_wsal model (`UntrimmedNet`, `WSGN`).
        dataset: a `keras_wsal.datasets.FeatureDataset`.
        subset: the subset to run on.
        batch_size: videos per forward pass (padded and masked; results equal batch 1).
        frames_per_snippet: run on every video frame instead (WSGN §4.2, "during inference, we
            use all frames"): the features interpolated at each of the `F` frames of every
            snippet (`keras_wsal.datasets.TemporalAugmentation`), the model on those `T F`
            steps, and each per-step output averaged back over its snippet's `F` frames, so
            that the outputs keep one row per snippet. `video_scores` is the model's, over the
            frames. One video per forward pass.

    Yields:
        `VideoOutputs` per video.
    """
    from keras_wsal.datasets import make_inference_dataset

    check_model_matches_dataset(model, dataset)
    videos = dataset.videos(subset)
    if frames_per_snippet is not None:
        yield from _predict_on_frames(model, dataset, videos, int(frames_per_snippet))
        return
    for inputs, indices in make_inference_dataset(dataset, subset, batch_size=batch_size):
        outputs = model_snippet_outputs(model, inputs)
        lengths = np.asarray(inputs["mask"]).sum(axis=1)
        for row, index in enumerate(np.asarray(indices)):
            length = int(lengths[row])
            yield VideoOutputs(
                videos[int(index)],
                outputs["video_scores"][row],
                outputs["snippet_scores"][row, :length],
                outputs["selection"][row, :length],
                outputs["detection_scores"][row, :length],
            )


def _predict_on_frames(model, dataset, videos, frames_per_snippet: int):
    from keras_wsal.datasets.temporal_augmentation import TemporalAugmentation

    if frames_per_snippet < 1:
        raise ValueError(f"frames_per_snippet must be an int >= 1, got {frames_per_snippet}")
    every_frame = TemporalAugmentation(1, 1, float(frames_per_snippet))
    for video in videos:
        loaded = dataset.load_features(video)
        frames = {s: every_frame.resample(loaded[s], 0) for s in model.feature_dims}
        outputs = predict_features(model, video, frames)
        yield VideoOutputs(
            video,
            outputs.video_scores,
            *(
                _mean_per_snippet(values, frames_per_snippet)
                for values in (outputs.snippet_scores, outputs.selection, outputs.detection_scores)
            ),
        )


def _mean_per_snippet(values: np.ndarray, frames_per_snippet: int) -> np.ndarray:
    """`[T F, K]` per-frame values → `[T, K]`, the mean over each snippet's `F` frames."""
    return values.reshape(-1, frames_per_snippet, values.shape[-1]).mean(axis=1)


def predict_features(model, video: str, features: dict[str, np.ndarray]) -> VideoOutputs:
    """Run `model.snippet_outputs` on one video's features `{stream: [T, D]}` (no dataset).

    Raises:
        DataError: the streams or feature sizes are not the model's.
    """
    dims = {stream: np.shape(array)[-1] for stream, array in features.items()}
    if dims != dict(model.feature_dims):
        raise DataError(f'video "{video}": features {dims}, the model takes {model.feature_dims}')
    length = len(next(iter(features.values())))
    inputs = {stream: np.asarray(array, np.float32)[None] for stream, array in features.items()}
    inputs["mask"] = np.ones((1, length), bool)
    outputs = {k: v[0] for k, v in model_snippet_outputs(model, inputs).items()}
    return VideoOutputs(
        video,
        outputs["video_scores"],
        outputs["snippet_scores"],
        outputs["selection"],
        outputs["detection_scores"],
    )


# Per model: its traced `snippet_outputs`, one per input structure (see `model_snippet_outputs`).
_TRACED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def model_snippet_outputs(model, inputs: dict) -> dict[str, np.ndarray]:
    """`model.snippet_outputs(inputs, training=False)` as NumPy arrays.

    Under TensorFlow this runs one `tf.function` per model and input structure, traced once for
    every batch size and length (each input's shape `[None, None, ...]`): the graph that
    `keras_wsal.export` saves, so that `keras-wsal detect`, the demo and an exported SavedModel
    compute the same numbers. It matters under a mixed policy: run eagerly, a bfloat16 model
    rounds every op's output to bfloat16, where the graph's fused ops (matmul with its bias and
    activation) round once, and the two differ by up to ≈ 2e-3 relative. Other backends run the
    model eagerly.

    Args:
        model: a keras_wsal model.
        inputs: its input dict (`{stream: [B, T, D], "mask": [B, T]}`, or a video model's).
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        outputs = model.snippet_outputs(inputs, training=False)
        return {k: keras.ops.convert_to_numpy(v) for k, v in outputs.items()}
    import tensorflow as tf

    inputs = {k: tf.convert_to_tensor(v) for k, v in inputs.items()}
    # Batch and time dims left free: one trace for every batch size and length.
    specs = {k: tf.TensorSpec([None, None, *v.shape[2:]], v.dtype) for k, v in inputs.items()}
    key = tuple(sorted((k, spec.dtype.name, tuple(spec.shape)) for k, spec in specs.items()))
    traced = _TRACED.setdefault(model, {})
    if key not in traced:
        of = weakref.ref(model)  # the function must not keep its key (the model) alive
        traced[key] = tf.function(
            lambda x: of().snippet_outputs(x, training=False), input_signature=[specs]
        )
    return {k: v.numpy() for k, v in traced[key](inputs).items()}


def check_model_matches_dataset(model, dataset) -> None:
    """A DataError unless the model's streams, feature sizes and class count fit the dataset.

    The dataset may have more streams than the model (a model trained on one stream of two,
    `keras-wsal train --stream`); each of the model's must be there with its size.
    """
    dims = getattr(model, "feature_dims", None)
    if dims is None:
        raise DataError(f"{type(model).__name__} is not a keras_wsal model (no `feature_dims`)")
    available = dict(dataset.feature_dims)
    if any(available.get(stream) != dim for stream, dim in dict(dims).items()):
        raise DataError(
            f"the model takes features {dict(dims)} but dataset {dataset.root} has "
            f"{dict(dataset.feature_dims)}"
        )
    if model.num_classes != len(dataset.classes):
        raise DataError(
            f"the model predicts {model.num_classes} classes but dataset {dataset.root} has "
            f"{len(dataset.classes)}"
        )
