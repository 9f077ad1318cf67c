"""`tf.data` input pipelines that stream snippet features from a `FeatureDataset`.

Elements are `(inputs, labels)` with `inputs = {"features": float32 [B, T, D], "mask": bool [B, T]}`
(or `{"rgb": [B, T, D1], "flow": [B, T, D2], "mask": [B, T]}`) and `labels` the multi-hot float32
[B, C] video labels. A batch is padded to its longest video: padded steps hold 0 and mask False.

Features are read a batch at a time from memory-mapped `.npy` files, so only the rows an element
uses are read and the dataset never has to fit in memory. The training pipeline is given only
`WeakLabels` (which classes occur in each video) and a feature loader: no annotation file or action
position reaches it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import tensorflow as tf

from keras_wsal.datasets.clip_sampling import ClipSampling
from keras_wsal.datasets.element_reader import CROPS, ElementReader
from keras_wsal.datasets.feature_dataset import FeatureDataset
from keras_wsal.datasets.similar_pairs import similar_pair_indices
from keras_wsal.datasets.temporal_augmentation import TemporalAugmentation
from keras_wsal.datasets.weak_labels import WeakLabels
from keras_wsal.errors import DataError
from keras_wsal.utils.arguments import is_int

# Batches read at once, and batches kept ready ahead of the train step: the pipeline holds a few
# batches whatever the number of videos (README, "Benchmarks": what reading adds to the step's
# own memory at D 2048 on 200 and 1,000 videos), and fewer threads compete with the step for the
# cores than under tf.data's AUTOTUNE, at the same step rate; a batch's read (3 ms at D 128, 30
# ms at D 2048 on 2 cores) is far shorter than its step.
PARALLEL_READS = 1
PREFETCH_BATCHES = 1
# The dtypes a training pipeline can give its features in.
FEATURE_DTYPES = ("float32", "bfloat16", "float16")


def _check_arguments(
    batch_size: int,
    max_length: int | None,
    crop: str,
    fixed_length: bool = False,
    feature_dtype: str = "float32",
) -> None:
    if not is_int(batch_size, 1):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if max_length is not None and not is_int(max_length, 1):
        raise ValueError(f"max_length must be a positive integer or None, got {max_length!r}")
    if crop not in CROPS:
        raise ValueError(f"crop must be one of {CROPS}, got {crop!r}")
    if fixed_length and max_length is None:
        raise ValueError("fixed_length=True needs a max_length to pad to")
    if feature_dtype not in FEATURE_DTYPES:
        raise ValueError(f"feature_dtype must be one of {FEATURE_DTYPES}, got {feature_dtype!r}")


def _read_batches(
    elements: tf.data.Dataset,
    reader: ElementReader,
    feature_dims: Mapping[str, int],
    batch_size: int,
    drop_remainder: bool,
    label: Callable[[tf.Tensor], tf.Tensor],
    length: int | None = None,
    dtype: tf.DType = tf.float32,
) -> tf.data.Dataset:
    """Batches of `(index, draw)` elements → `(inputs, label(indices))`, one Python call each.

    `ElementReader.batch` reads and pads a whole batch (to its longest element, or to `length`
    steps, a static T); padded steps hold 0 and mask False.
    """

    def read(indices, draws):
        *arrays, steps = tf.numpy_function(
            functools.partial(reader.batch, length=length),
            [indices, draws],
            [dtype] * len(feature_dims) + [tf.int64],
            name="read_features",
        )
        inputs = {}
        size = indices.shape[0]  # static with drop_remainder
        for array, (stream, dim) in zip(arrays, feature_dims.items(), strict=True):
            array.set_shape([size, length, dim])
            inputs[stream] = array
        steps.set_shape([size])
        inputs["mask"] = tf.sequence_mask(steps, tf.shape(arrays[0])[1])
        return inputs, label(indices)

    batches = elements.batch(batch_size, drop_remainder=drop_remainder).map(
        read, num_parallel_calls=PARALLEL_READS, deterministic=True
    )
    return _with_pipeline_options(batches)


def _with_pipeline_options(batches: tf.data.Dataset) -> tf.data.Dataset:
    options = tf.data.Options()
    # Sharding a dataset with no files falls back to DATA anyway; saying so silences the warning.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return batches.with_options(options).prefetch(PREFETCH_BATCHES)


def _clip_batches(
    index_batches: tf.data.Dataset,
    reader: ElementReader,
    feature_dims: Mapping[str, int],
    num_clips: int,
    draws: tf.data.Dataset,
    multi_hot: tf.Tensor,
    dtype: tf.DType = tf.float32,
) -> tf.data.Dataset:
    """Batches of clip features `[B, num_clips, D]` (mask all True) from batches of indices."""

    def read(indices, draw):
        arrays = tf.numpy_function(
            reader.clip_batch, [indices, draw], [dtype] * len(feature_dims), name="read_clips"
        )
        inputs = {}
        for array, (stream, dim) in zip(arrays, feature_dims.items(), strict=True):
            array.set_shape([None, num_clips, dim])
            inputs[stream] = array
        inputs["mask"] = tf.ones(tf.shape(arrays[0])[:2], tf.bool)
        return inputs, tf.gather(multi_hot, indices)

    batches = tf.data.Dataset.zip(index_batches, draws).map(
        read, num_parallel_calls=PARALLEL_READS, deterministic=True
    )
    return _with_pipeline_options(batches)


def make_training_dataset_from_weak_labels(
    weak_labels: WeakLabels,
    load_features: Callable[[str], Mapping[str, np.ndarray]],
    num_snippets: Sequence[int],
    feature_dims: Mapping[str, int],
    batch_size: int,
    max_length: int | None = 750,
    shuffle: bool = True,
    seed: int | None = None,
    crop: str = "random",
    input_context: tf.distribute.InputContext | None = None,
    repeat: bool = False,
    drop_remainder: bool = False,
    fixed_length: bool = False,
    clip_sampling: ClipSampling | None = None,
    similar_pairs: int = 0,
    augmentation: TemporalAugmentation | None = None,
    feature_dtype: str = "float32",
) -> tf.data.Dataset:
    """The training pipeline over videos known only by their weak labels and a feature loader.

    Args:
        weak_labels: the videos to train on and their multi-hot labels.
        load_features: returns {stream: [T, D] array} of a video, ideally memory-mapped (only the
            rows an element uses are read).
        num_snippets: T of each video of `weak_labels.videos`.
        feature_dims: {stream: D}, in the order of the model's inputs.
        clip_sampling: UntrimmedNet's clip input (`keras_wsal.datasets.ClipSampling`): each
            element is `num_clips` clip features `[num_clips, D]` instead of (a crop of) the
            video's snippets; `max_length` and `crop` are then not used.
        similar_pairs: W-TALC's batches for its CASL (`n_similar`, 3 in its code): each batch
            starts with this many pairs of videos sharing a class, the rest drawn at random
            (`shuffle` is then not used); 0: the videos in shuffled order.
        augmentation: WSGN's temporal augmentation (`keras_wsal.datasets.TemporalAugmentation`):
            each element is the video's features interpolated at every 5th frame from a random
            start, then cropped to `max_length` steps.
        feature_dtype: the dtype of the feature arrays, "float32", or a mixed policy's compute
            dtype ("bfloat16", "float16"): the values a model under that policy computes with
            (its inputs are cast to it), rounded in the reader, so that batches in flight and
            the step's input take half the memory.
        Other arguments: as for `make_training_dataset`.

    Returns:
        A dataset of `(inputs, labels)` batches; see the module docstring.
    """
    _check_arguments(batch_size, max_length, crop, fixed_length, feature_dtype)
    dtype = tf.as_dtype(feature_dtype)
    if len(num_snippets) != len(weak_labels):
        raise ValueError(
            f"num_snippets has {len(num_snippets)} entries for {len(weak_labels)} videos"
        )
    indices = tf.data.Dataset.range(len(weak_labels))
    if input_context is not None:
        pipelines = input_context.num_input_pipelines
        if len(weak_labels) < pipelines:
            raise DataError(
                f"{len(weak_labels)} videos cannot feed {pipelines} input pipelines "
                "(each needs at least one video)"
            )
        if similar_pairs and pipelines > 1:
            raise DataError(
                "similar_pairs: W-TALC's paired batches need one input pipeline; "
                f"this strategy has {pipelines}"
            )
        indices = indices.shard(pipelines, input_context.input_pipeline_id)
        batch_size = input_context.get_per_replica_batch_size(batch_size)
    if similar_pairs:
        epoch = None if repeat else -(-len(weak_labels) // batch_size)
        indices = similar_pair_indices(
            weak_labels.multi_hot, batch_size, similar_pairs, seed, epoch
        )
    else:
        if shuffle:
            indices = indices.shuffle(len(weak_labels), seed=seed, reshuffle_each_iteration=True)
        if repeat:
            indices = indices.repeat()
    reader = ElementReader(
        load_features,
        weak_labels.videos,
        num_snippets,
        list(feature_dims),
        max_length,
        crop,
        clip_sampling,
        augmentation,
        dtype.as_numpy_dtype,
    )
    multi_hot = tf.constant(weak_labels.multi_hot)
    draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    if clip_sampling is not None:
        return _clip_batches(
            indices.batch(batch_size, drop_remainder=drop_remainder),
            reader,
            feature_dims,
            clip_sampling.num_clips,
            draws,
            multi_hot,
            dtype,
        )
    return _read_batches(
        tf.data.Dataset.zip(indices, draws),
        reader,
        feature_dims,
        batch_size,
        drop_remainder,
        lambda batch_indices: tf.gather(multi_hot, batch_indices),
        max_length if fixed_length else None,
        dtype,
    )


def make_training_dataset(
    dataset: FeatureDataset,
    subset: str,
    batch_size: int,
    max_length: int | None = 750,
    shuffle: bool = True,
    seed: int | None = None,
    crop: str = "random",
    input_context: tf.distribute.InputContext | None = None,
    skip_bad: bool = False,
    repeat: bool = False,
    check_values: bool = True,
    drop_remainder: bool = False,
    fixed_length: bool = False,
    clip_sampling: ClipSampling | None = None,
    similar_pairs: int = 0,
    augmentation: TemporalAugmentation | None = None,
    feature_dtype: str = "float32",
) -> tf.data.Dataset:
    """The `tf.data` pipeline that trains on the videos of `subset` from their weak labels.

    Before anything runs in TensorFlow, every feature file of the subset is checked
    (`FeatureDataset.validate`): existence, shapes, the same T in every stream and, with
    `check_values`, NaN/inf (one streaming pass over the files). Each element then reads its rows
    from the memory-mapped files and checks them for NaN/inf again (a file changed meanwhile stops
    the pipeline with that message).

    Args:
        dataset: the dataset.
        subset: the subset to train on (e.g. "validation" for THUMOS14).
        batch_size: the global batch size (divided among replicas with `input_context`).
        max_length: the most snippets per element (W-TALC: 750); None keeps whole videos.
        shuffle: shuffle the videos, anew each epoch.
        seed: seeds the shuffle and the random crops; the same seed gives the same batches.
        crop: how a longer video is cut to `max_length`: "random" (consecutive rows from a random
            start) or "uniform" (evenly spaced rows `floor(i * T / max_length)` over the whole
            video).
        input_context: given by `strategy.distribute_datasets_from_function`: this pipeline reads
            every `num_input_pipelines`-th video from `input_pipeline_id` on, in batches of
            `get_per_replica_batch_size(batch_size)`.
        skip_bad: leave out (and log, with a count) videos whose feature files are missing or bad
            instead of raising.
        repeat: repeat indefinitely (each epoch reshuffled).
        check_values: scan the feature files for NaN/inf before starting.
        drop_remainder: drop a last, smaller batch (a static B).
        fixed_length: pad every batch to `max_length` steps (a static T, so that a `jit_compile`d
            step compiles once) instead of to its longest video.
        clip_sampling, similar_pairs, augmentation, feature_dtype: UntrimmedNet's clips,
            W-TALC's paired batches, WSGN's resampling, the features' dtype; see
            `make_training_dataset_from_weak_labels`.

    Returns:
        A dataset of `(inputs, labels)`: `inputs = {stream: [B, T, D], "mask": bool [B, T]}`
        (features in `feature_dtype`)
        padded to the batch's longest video (padding 0 / False), `labels` multi-hot float32 [B, C].

    Raises:
        DataError: the subset is empty or unknown (the message lists the subsets), the dataset has
            no classes, a bad feature file (unless `skip_bad`), or every video was skipped.
        ValueError: a bad `batch_size`, `max_length` or `crop`, or `fixed_length` without
            `max_length`.
    """
    _check_arguments(batch_size, max_length, crop, fixed_length, feature_dtype)
    if not dataset.classes:
        raise DataError(f"{dataset.root}: the dataset has no classes to train on")
    videos = dataset.validate(subset, skip_bad=skip_bad, check_values=check_values)
    if not videos:
        raise DataError(f'{dataset.root}: every video of subset "{subset}" was skipped as bad')
    return make_training_dataset_from_weak_labels(
        dataset.weak_labels(subset).select(videos),
        dataset.load_features,
        [dataset.num_snippets(video) for video in videos],
        dataset.feature_dims,
        batch_size,
        max_length=max_length,
        shuffle=shuffle,
        seed=seed,
        crop=crop,
        input_context=input_context,
        repeat=repeat,
        drop_remainder=drop_remainder,
        fixed_length=fixed_length,
        clip_sampling=clip_sampling,
        similar_pairs=similar_pairs,
        augmentation=augmentation,
        feature_dtype=feature_dtype,
    )


def pad_length_to_multiple(batches: tf.data.Dataset, multiple: int) -> tf.data.Dataset:
    """Pad each `(inputs, labels)` batch along time to the next multiple of `multiple` steps.

    The extra steps are zeros with mask False, so they change no output; a `jit_compile`d train
    step then sees a few distinct lengths instead of one per batch.
    """

    def pad(inputs, labels):
        length = tf.shape(inputs["mask"])[1]
        extra = (length + multiple - 1) // multiple * multiple - length
        padded = {
            name: tf.pad(value, [[0, 0], [0, extra]] + [[0, 0]] * (len(value.shape) - 2))
            for name, value in inputs.items()
        }
        return padded, labels

    return batches.map(pad)


def make_inference_dataset(
    dataset: FeatureDataset,
    subset: str,
    batch_size: int = 1,
    check_values: bool = True,
) -> tf.data.Dataset:
    """Whole videos of `subset`, in the order of `dataset.videos(subset)`, for detection.

    The feature files are checked first as in `make_training_dataset` (no video is skipped).

    Returns:
        A dataset of `(inputs, video_index)`: `inputs` as for training, padded to the batch's
        longest video; `video_index` int64 [B], the position of each video in
        `dataset.videos(subset)`.

    Raises:
        DataError: the subset is empty or unknown, or a feature file is bad.
        ValueError: a bad `batch_size`.
    """
    _check_arguments(batch_size, None, "uniform")
    videos = dataset.validate(subset, check_values=check_values)
    reader = ElementReader(
        dataset.load_features,
        videos,
        [dataset.num_snippets(video) for video in videos],
        dataset.streams,
        None,
        "uniform",
    )
    no_draws = tf.data.Dataset.from_tensors(tf.constant(0, tf.int64)).repeat()
    return _read_batches(
        tf.data.Dataset.zip(tf.data.Dataset.range(len(videos)), no_draws),
        reader,
        dataset.feature_dims,
        batch_size,
        False,
        lambda batch_indices: batch_indices,
    )
