"""Training a keras_wsal model on a feature dataset under any `tf.distribute` strategy.

The run folder is described in `keras_wsal.training.run_folder`. Training runs in "rounds" of
`checkpoint_every` steps (Keras epochs of `steps_per_epoch = checkpoint_every`); a checkpoint is
written after each round. Started again on the same folder after a kill, training restores the last
checkpoint (weights, optimizer state, step counter) and goes on from there, so at most the steps
since that checkpoint are redone; the total number of steps is `rounds × checkpoint_every` whether
or not the run was interrupted. The data order after a resume is a fresh shuffle.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import shutil
import tempfile
from pathlib import Path

import keras

from keras_wsal.errors import DataError
from keras_wsal.models import build_model, loss_for_model
from keras_wsal.models.supervised import FRAME_LABELS
from keras_wsal.training.checkpoints import (
    CheckpointEveryRound,
    checkpoint_steps,
    restore_newest_readable,
)
from keras_wsal.training.config import TrainConfig
from keras_wsal.training.held_out import KeepBestOnHeldOut, split_held_out
from keras_wsal.training.precision import with_resolved_precision
from keras_wsal.training.run_folder import (
    CHECKPOINT_DIR,
    CLASSES_FILE,
    HISTORY_FILE,
    LOG_DIR,
    MODEL_FILE,
    check_resumable,
    remove_killed_run_leftovers,
    run_folder_lock,
    save_atomically,
    save_feature_record,
)
from keras_wsal.training.strategy import is_chief, make_strategy
from keras_wsal.utils.atomic_files import atomic_write_text
from keras_wsal.utils.keras_compat import build_from_specs, rank_one_step_logs, steps_taken

logger = logging.getLogger(__name__)

LENGTH_BUCKET = 64


@dataclasses.dataclass
class TrainResult:
    """What `train` produced: the run folder, the model, steps done and the loss history."""

    run_dir: Path
    model: keras.Model
    steps: int
    history: dict
    selection: dict | None = None


def _optimizer(config: TrainConfig):
    """The recipe's optimizer; with `lr_step` its rate is divided by 10 every `lr_step` updates."""
    accumulate = {}
    if config.accumulation_steps > 1:
        accumulate["gradient_accumulation_steps"] = config.accumulation_steps
    rate = config.learning_rate
    if config.lr_step:
        rate = keras.optimizers.schedules.ExponentialDecay(
            rate, decay_steps=config.lr_step, decay_rate=0.1, staircase=True
        )
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(rate, momentum=0.9, **accumulate)
    return keras.optimizers.Adam(rate, **accumulate)


# The most rounds (checkpoints) a run makes by default.
MAX_DEFAULT_ROUNDS = 100

# Train steps run per call into the compiled train step (Keras' `steps_per_execution`): fewer
# Python round trips, the same updates (a test compares the weights). Measured +12 % steps per
# second at D 128 in memory, nothing at D 2048 (README, "Benchmarks").
STEPS_PER_EXECUTION = 10


def _steps_per_execution(checkpoint_every: int) -> int:
    """`STEPS_PER_EXECUTION`, or its largest divisor that divides a round: Keras runs whole
    executions, so a round of `checkpoint_every` steps must be a multiple of it."""
    return math.gcd(checkpoint_every, STEPS_PER_EXECUTION)


def _default_round(steps_per_epoch: int, total_steps: int) -> int:
    """Steps per round when `checkpoint_every` is not given: one epoch, but no more than
    `MAX_DEFAULT_ROUNDS` rounds in all (a batch larger than the training set, as UntrimmedNet's
    256 videos on THUMOS14's 200, makes an epoch one step). Longer rounds are the smallest
    divisor of `total_steps` that is long enough, so that the run makes exactly its steps."""
    low = max(steps_per_epoch, math.ceil(total_steps / MAX_DEFAULT_ROUNDS))
    if low == steps_per_epoch or low >= total_steps:
        return low
    return next(d for d in range(low, total_steps + 1) if total_steps % d == 0)


def _clip_sampling(config: TrainConfig, dataset):
    """UntrimmedNet's clip input when `config.clips` asks for it (None otherwise)."""
    from keras_wsal.datasets.clip_sampling import ClipSampling
    from keras_wsal.training.recipes import PAPER_SEGMENTS_PER_CLIP

    if not config.clips:
        return None
    if config.model == "supervised":
        raise DataError(
            "--clips: the supervised model reads a label per snippet and cannot train on clips; "
            "give --clips 0"
        )
    return ClipSampling.for_features(
        dataset.feature_fps,
        num_clips=config.clips,
        num_segments=PAPER_SEGMENTS_PER_CLIP,
        proposals=config.proposals,
    )


def _augmentation(config: TrainConfig, dataset):
    """WSGN's temporal augmentation when `config.frame_stride` asks for it (None otherwise); the
    frames per snippet from the config, else the dataset's extraction record, else I3D's 16."""
    from keras_wsal.datasets.temporal_augmentation import (
        TemporalAugmentation,
        frames_per_snippet_of,
    )
    from keras_wsal.training.recipes import PAPER_START_FRAMES

    if not config.frame_stride:
        return None
    frames = frames_per_snippet_of(dataset.meta, config.frames_per_snippet)
    return TemporalAugmentation(config.frame_stride, PAPER_START_FRAMES, frames)


def _trained_streams(config: TrainConfig, dataset) -> dict[str, int]:
    """{stream: D} of the streams the run trains on: all, or the one `config.stream` names."""
    dims = dict(dataset.feature_dims)
    if config.stream is None:
        return dims
    if config.stream not in dims:
        raise DataError(f"--stream {config.stream!r}: {dataset.root} has the streams {list(dims)}")
    return {config.stream: dims[config.stream]}


def _feature_dtype(compute_dtype: str, input_dims) -> str:
    """The dtype `train` reads a batch's inputs in: the model's compute dtype, which its heads
    cast the features to anyway (half the memory per batch under a mixed policy), or float32
    where the inputs carry frame labels (the supervised ceiling's targets stay exact)."""
    return "float32" if FRAME_LABELS in input_dims else compute_dtype


def _build_for_fit(model, feature_dims: dict, num_classes: int) -> None:
    """Build what Keras' `fit` builds from a first batch from the input specs instead.

    Under a `tf.distribute` strategy, Keras 3's `fit` takes one batch from the dataset and
    averages it over the replicas (`strategy.reduce("MEAN", batch)`) only to learn the input
    shapes for building the model, loss and metrics. That fails for dict inputs under
    `MultiWorkerMirroredStrategy` (keras-team/keras#20329), and under `MirroredStrategy` for the
    bool mask and for replicas whose batches are padded to different lengths. So the model's loss
    is built here from the input specs (inside the strategy's scope) and `fit` is told that
    nothing is left to build (`keras_wsal.utils.keras_compat.build_from_specs`).
    """
    import tensorflow as tf

    dtype = _feature_dtype(model.compute_dtype, feature_dims)
    inputs = {s: tf.TensorSpec([None, None, d], dtype) for s, d in feature_dims.items()}
    inputs["mask"] = tf.TensorSpec([None, None], tf.bool)
    build_from_specs(model, (inputs, tf.TensorSpec([None, num_classes], tf.float32)))


def _prepare_run_folder(out: Path, config: TrainConfig, total_steps: int, last_step: int) -> None:
    """Check that `out` is new or holds this run with no more steps done than asked, remove what
    a killed run left there, write the config, and remove a final model that training will
    replace (so `model.keras` is never older than the newest checkpoint)."""
    check_resumable(out, config.to_dict(), growable=("epochs", "steps"))
    checkpoints = out / CHECKPOINT_DIR
    done = checkpoint_steps(checkpoints)
    if done and done[0][0] > last_step:
        asked = (
            f"--steps {config.steps}" if config.steps is not None else f"--epochs {config.epochs}"
        )
        raise DataError(
            f"{out} has already trained {done[0][0]} steps and {asked} asks for {total_steps}: "
            "give as many or more to continue it, or another --out for a new run"
        )
    remove_killed_run_leftovers(out)
    config.save(out)
    if (out / MODEL_FILE).exists() and (not done or done[0][0] < last_step):
        (out / MODEL_FILE).unlink()


def train(config: TrainConfig, strategy=None, verbose="auto", callbacks=()) -> TrainResult:
    """Train `config.model` on `config.data` and write the run folder `config.out`.

    Args:
        config: the run's settings.
        strategy: a `tf.distribute` strategy; by default `make_strategy(config.strategy)`.
        verbose: Keras' `fit` verbosity (the progress bar by default).
        callbacks: extra Keras callbacks.

    Returns:
        A `TrainResult`.

    Raises:
        DataError: the dataset is missing or malformed, the training subset is empty or every
            video in it is bad, `config.out` holds a different run, or gradient accumulation is
            asked for under a strategy other than the default one.
    """
    import tensorflow as tf

    from keras_wsal.datasets import FeatureDataset, make_training_dataset_from_weak_labels
    from keras_wsal.datasets.frame_labels import loader_with_frame_labels
    from keras_wsal.datasets.pipeline import pad_length_to_multiple

    config, precision_note = with_resolved_precision(config)
    if precision_note:
        logger.info(precision_note)
    strategy = strategy or make_strategy(config.strategy)
    if config.accumulation_steps > 1 and strategy is not tf.distribute.get_strategy():
        # Keras 3's accumulated update is a cross-replica merge inside a conditional, which
        # tf.distribute refuses ("merge_call called while defining a new graph").
        raise DataError(
            f"--accumulation-steps {config.accumulation_steps} does not work under a "
            f"tf.distribute strategy ({type(strategy).__name__}) in Keras 3; give "
            "--accumulation-steps 1 and the whole batch as --batch-size "
            f"{config.batch_size * config.accumulation_steps}, which the replicas share"
        )
    out = Path(config.out)
    chief = is_chief(strategy)
    dataset = FeatureDataset(config.data)
    if not dataset.classes:
        raise DataError(f"{dataset.root}: the dataset has no classes to train on")
    videos = dataset.validate(config.subset, skip_bad=config.skip_bad)
    if not videos:
        raise DataError(f"{dataset.root}: every video of subset {config.subset!r} is bad")
    videos, held_out = split_held_out(videos, config.validation_fraction, config.seed)
    weak_labels = dataset.weak_labels(config.subset).select(videos)
    num_snippets = [dataset.num_snippets(video) for video in videos]
    model_dims = _trained_streams(config, dataset)
    clip_sampling = _clip_sampling(config, dataset)
    load_features, input_dims = dataset.load_features, dict(model_dims)
    if config.model == "supervised":
        # The frame-supervised ceiling, the one model that reads segments (see SupervisedWSGN).
        load_features = loader_with_frame_labels(dataset, videos, FRAME_LABELS)
        input_dims[FRAME_LABELS] = len(dataset.classes)
    steps_per_epoch = math.ceil(len(videos) / config.batch_size)
    total_steps = config.steps if config.steps is not None else config.epochs * steps_per_epoch
    checkpoint_every = config.checkpoint_every or _default_round(steps_per_epoch, total_steps)
    rounds = math.ceil(total_steps / checkpoint_every)
    # The chief holds the run folder's lock until training ends (released in `finally`).
    lock = contextlib.ExitStack()
    if chief:
        lock.enter_context(run_folder_lock(out))
        try:
            _prepare_run_folder(out, config, total_steps, rounds * checkpoint_every)
            atomic_write_text(
                out / CLASSES_FILE, json.dumps(list(dataset.classes), indent=1) + "\n"
            )
            save_feature_record(out, dataset.meta, dataset.root.resolve())
        except BaseException:
            lock.close()
            raise

    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(config.precision)
    keras.utils.set_random_seed(config.seed)
    # Non-chief workers write their (identical) checkpoints to a scratch folder, as TF requires
    # every worker to take part in saving.
    scratch = None if chief else Path(tempfile.mkdtemp(prefix="keras_wsal_worker_"))
    try:
        with strategy.scope():
            model = build_model(
                config.model,
                len(dataset.classes),
                model_dims,
                norms=config.norms,
                fusion=config.fusion,
                dropout=config.dropout,
                k_ratio=config.k_ratio,
                casl_weight=config.casl,
                weight_decay=config.weight_decay,
                casl_pairs=config.casl_pairs,
            )
            model.compile(
                optimizer=_optimizer(config),
                loss=loss_for_model(model),
                jit_compile=config.jit_compile,
                steps_per_execution=_steps_per_execution(checkpoint_every),
            )
            model.build({s: (None, None, d) for s, d in model_dims.items()})
            model.optimizer.build(model.trainable_variables)
            _build_for_fit(model, input_dims, len(dataset.classes))
            if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
                # Keras 3 averages each step's logs over the workers with
                # strategy.reduce("MEAN", value, axis=0), which fails on a scalar
                # (tensorflow/tensorflow#72388); on [1] it gives the mean over the workers.
                rank_one_step_logs(model)
            checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
            restored = restore_newest_readable(checkpoint, out / CHECKPOINT_DIR)
            if restored:
                logger.info("resuming from step %d", restored)
            manager = tf.train.CheckpointManager(
                checkpoint, str((scratch or out) / CHECKPOINT_DIR), max_to_keep=2
            )
        done = steps_taken(model.optimizer)
        initial_round = done // checkpoint_every

        def dataset_fn(input_context):
            batches = make_training_dataset_from_weak_labels(
                weak_labels,
                load_features,
                num_snippets,
                input_dims,
                config.batch_size,
                max_length=config.max_length,
                shuffle=True,
                seed=config.seed + initial_round,
                input_context=input_context,
                repeat=True,
                clip_sampling=clip_sampling,
                similar_pairs=config.casl_pairs,
                augmentation=_augmentation(config, dataset),
                feature_dtype=_feature_dtype(model.compute_dtype, input_dims),
            )
            # XLA compiles one train step per batch length: a few length buckets, not every length.
            return pad_length_to_multiple(batches, LENGTH_BUCKET) if model.jit_compile else batches

        distributed = strategy.distribute_datasets_from_function(dataset_fn)
        round_callback = CheckpointEveryRound(manager, out / HISTORY_FILE if chief else None)
        fit_callbacks = [round_callback, *callbacks]
        best = None
        if held_out and chief:
            best = KeepBestOnHeldOut(dataset, held_out, config.subset, out)
            fit_callbacks.insert(0, best)
        if chief:
            fit_callbacks.append(
                keras.callbacks.TensorBoard(str(out / LOG_DIR), update_freq="epoch")
            )
        if initial_round < rounds:
            model.fit(
                distributed,
                epochs=rounds,
                initial_epoch=initial_round,
                steps_per_epoch=checkpoint_every,
                callbacks=fit_callbacks,
                shuffle=False,  # the pipeline shuffles
                verbose=verbose,
            )
        steps = steps_taken(model.optimizer)
        selection = best.restore_best() if best is not None else None
        if chief:
            save_atomically(out, {MODEL_FILE: model.save})
        history = {"loss": [h.get("loss") for h in round_callback.losses]}
        return TrainResult(out, model, steps, history, selection)
    finally:
        keras.config.set_dtype_policy(previous_policy)
        lock.close()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


__all__ = ["TrainResult", "train"]
