"""End-to-end training of UntrimmedNet on raw videos: the backbone and the heads learn jointly.

The pipeline of one training sample (UntrimmedNet §3.1, §5.2; TSN for the snippets):

1. Clip proposals of the video, computed once before training (`keras_wsal.proposals`):
   shot-based (HOG differences, clips of `clip_frames = 300` frames inside each shot; the
   paper's default) or uniform (`uniform_clips` equal clips). Frames are the video's own,
   0-based, ranges half-open.
2. `num_clips = 7` of them drawn at random (without replacement when the video has enough; the
   draw is completed with replacement otherwise), in time order.
3. Per clip, TSN's snippet sampling (`segment_frames`): the clip is cut into `num_segments = 3`
   equal segments and one frame is drawn in each.
4. Decoding of only those frames (`keras_wsal.video`; frames resized to `frame_size` on the
   shorter side); for the temporal stream, the stack of the 5 DIS flows around each drawn
   frame, computed on the fly and quantised as TSN stores them (the convention of
   `keras_wsal.video.flow_stack_indices`: flows `c - 2 .. c + 2`, clamped to the video).
5. TSN's corner cropping and scale jittering (`multi_scale_crop`), one crop per sample, then
   `keras_wsal.backbones.preprocess_input`.

`UntrimmedNetVideo` maps the `[N, K, S, S, C]` snippets of a video to its prediction; the
loss is UntrimmedNet's eq. 5 (`UntrimmedNetLoss`) on video-level labels only: the annotations'
segments are never read.

The recipe (§5.2) is the default: SGD with momentum 0.9, batch 256 videos (reached by gradient
accumulation of micro-batches, `gradient_accumulation_steps` of the Keras optimizer), learning
rate 0.001 ÷ 10 every 4,000 updates for 10,000 updates (spatial stream) and 0.005 ÷ 10 every
6,000 updates for 18,000 updates (temporal stream), dropout 0.8 / 0.7, partial BN, weight decay
5e-4, ImageNet weights for both streams (the temporal one by TSN's cross-modality
initialisation).

A run folder holds:

```
RUN_DIR/
  config.json              the EndToEndConfig
  classes.json             the class names, in the order of the model's outputs
  checkpoints/             model + optimizer every `checkpoint_every` updates (resumable)
  history.json             the mean loss of each round of `checkpoint_every` updates
  model.keras              the trained UntrimmedNetVideo
  backbone_STREAM.weights.h5   its backbone, for `keras-wsal extract --weights/--flow-weights`
  head.keras               its heads, an UntrimmedNet on STREAM snippet features
```

Started again on the same folder with the same settings (only `iterations` may grow), training
goes on from the last checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_wsal.backbones import (
    STREAM_CHANNELS,
    cross_modality_init,
    load_backbone_weights,
    make_backbone,
)
from keras_wsal.datasets.weak_labels import weak_labels_from_names
from keras_wsal.errors import DataError, VideoError
from keras_wsal.formats.annotations import parse_database, resolve_classes, videos_of_subset
from keras_wsal.losses import UntrimmedNetLoss
from keras_wsal.models import UntrimmedNetVideo
from keras_wsal.proposals import sample_clips, segment_frames
from keras_wsal.training.checkpoints import (
    CheckpointEveryRound,
    restore_newest_readable,
)
from keras_wsal.training.clip_loader import VideoClipLoader
from keras_wsal.training.end_to_end_config import PAPER_SCHEDULES, EndToEndConfig
from keras_wsal.training.proposal_sampling import PROPOSAL_METHODS, video_proposals
from keras_wsal.training.run_folder import (
    CHECKPOINT_DIR,
    CLASSES_FILE,
    HISTORY_FILE,
    MODEL_FILE,
    check_resumable,
    remove_killed_run_leftovers,
    run_folder_lock,
    save_atomically,
)
from keras_wsal.training.tsn_sampling import CROP_SCALES, multi_scale_crop
from keras_wsal.utils.atomic_files import atomic_write_text
from keras_wsal.video.files import find_videos

logger = logging.getLogger(__name__)

BACKBONE_FILE = "backbone_{}.weights.h5"
HEAD_FILE = "head.keras"


@dataclasses.dataclass
class EndToEndResult:
    """What `train_end_to_end` produced: the run folder, the model, updates done, loss history."""

    run_dir: Path
    model: keras.Model
    steps: int
    history: dict


def _training_videos(config: EndToEndConfig):
    """The subset's videos with their proposals, the classes and the multi-hot labels."""
    source = config.annotations
    records = parse_database(source, required=("subset",))
    classes = resolve_classes(records, None, source)
    if not classes:
        raise DataError(f"{source}: no labels, so no classes to train on")
    names = sorted(videos_of_subset(records, config.subset, source))
    files = find_videos(config.videos)
    missing = [name for name in names if name not in files]
    if missing and not config.skip_bad:
        raise DataError(
            f"{len(missing)} video(s) of subset {config.subset!r} in {source} are not in "
            f"{config.videos}: "
            f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}"
        )
    videos = []
    for name in names:
        if name in missing:
            logger.warning("skipping video %s: not in %s", name, config.videos)
            continue
        try:
            video = video_proposals(
                files[name],
                config.proposals,
                config.clip_frames,
                config.uniform_clips,
                shot_threshold=config.shot_threshold,
                keep_remainder=config.keep_remainder,
            )
            if config.stream == "flow" and video.num_frames < 2:
                raise VideoError(
                    f"video {video.path} has {video.num_frames} frame: optical flow needs 2"
                )
            videos.append(video)
        except VideoError as error:
            if not config.skip_bad:
                raise
            logger.warning("skipping video %s: %s", name, error)
    if not videos:
        raise DataError(f"every video of subset {config.subset!r} is missing or unreadable")
    weak = weak_labels_from_names(classes, {v.name: records[v.name].labels for v in videos})
    return videos, classes, weak.multi_hot


def _training_dataset(config: EndToEndConfig, videos, labels: np.ndarray, loader, start_round: int):
    """An endless `tf.data` pipeline of micro-batches `({stream: [b, N, K, S, S, C]}, [b, C])`.

    Sample `n = e V + p` (V videos) is the video at position `p` of epoch `e`'s order
    `permutation(seed, r, e)`, `r` the round training starts from (0, or the round a resumed
    run goes on with); it draws its clips, snippets and crop from `default_rng([seed, r, n])`,
    so the stream does not depend on the number of parallel workers.
    """
    seed = (config.seed, start_round)

    def load(key):
        epoch, position = divmod(int(key), len(videos))
        video = int(np.random.default_rng([*seed, epoch]).permutation(len(videos))[position])
        rng = np.random.default_rng([*seed, int(key)])
        entry = videos[video]
        clips = sample_clips(entry.proposals, config.num_clips, rng)
        snippets = loader(entry.path, clips, entry.num_frames, rng)
        return snippets.astype(np.float32), labels[video]

    channels = STREAM_CHANNELS[config.stream]
    shape = (config.num_clips, config.num_segments, config.input_size, config.input_size, channels)

    def load_tensors(key):
        snippets, label = tf.numpy_function(load, [key], (tf.float32, tf.float32))
        inputs = {config.stream: tf.ensure_shape(snippets, shape)}
        return inputs, tf.ensure_shape(label, labels.shape[1:])

    return (
        tf.data.Dataset.counter()
        .map(
            load_tensors,
            num_parallel_calls=config.workers or os.cpu_count() or 1,
            deterministic=True,
        )
        .batch(config.micro_batch_size, drop_remainder=True)
        .prefetch(1)
    )


def _initialise_backbone(model: UntrimmedNetVideo, weights: str | None) -> None:
    """ImageNet (RGB) `weights` for the spatial stream; for the temporal one by TSN's
    cross-modality initialisation (`keras_wsal.backbones.cross_modality_init`)."""
    if weights is None:
        return
    if model.stream == "rgb":
        load_backbone_weights(model.backbone, weights)
    else:
        size = model.input_size
        rgb = make_backbone(
            model.backbone_name, stream="rgb", input_shape=(size, size, 3), weights=weights
        )
        cross_modality_init(rgb, model.backbone)


class _StopAfterUpdates(keras.callbacks.Callback):
    """Ends `fit` once the optimizer has made `updates` updates (a round may end early)."""

    def __init__(self, updates: int):
        super().__init__()
        self.updates = updates

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) >= self.updates:
            self.model.stop_training = True


def _save_run_files(model, out: Path) -> None:
    """model.keras, the backbone's weights and the head model, each replaced atomically."""
    files = {
        MODEL_FILE: model.save,
        BACKBONE_FILE.format(model.stream): model.backbone.save_weights,
        HEAD_FILE: model.head.save,
    }
    save_atomically(out, files)


def train_end_to_end(config: EndToEndConfig, verbose="auto", callbacks=()) -> EndToEndResult:
    """Train an `UntrimmedNetVideo` on a folder of videos and write the run folder `config.out`.

    See the module docstring for the sampling, the recipe and the run folder.

    Args:
        config: the run's settings.
        verbose: Keras' `fit` verbosity.
        callbacks: extra Keras callbacks (a Keras step is one micro-batch).

    Returns:
        An `EndToEndResult`; `steps` counts updates.

    Raises:
        DataError: the annotations are malformed, the subset is empty, a video is missing or
            unreadable (without `skip_bad`), or `config.out` holds a different run.
        VideoError: a video cannot be read (without `skip_bad`).
    """
    out = Path(config.out)
    check_resumable(out, config.to_dict(), growable=("iterations",))
    videos, classes, labels = _training_videos(config)
    with run_folder_lock(out):
        remove_killed_run_leftovers(out)
        config.save(out)
        atomic_write_text(out / CLASSES_FILE, json.dumps(classes, indent=1) + "\n")
        return _train_in_run_folder(config, out, videos, classes, labels, verbose, callbacks)


def _train_in_run_folder(
    config: EndToEndConfig, out: Path, videos, classes, labels, verbose, callbacks
):
    """`train_end_to_end` once the run folder is locked and prepared."""
    keras.utils.set_random_seed(config.seed)
    model = UntrimmedNetVideo(
        len(classes),
        stream=config.stream,
        backbone=config.backbone,
        input_size=config.input_size,
        num_segments=config.num_segments,
        mode=config.mode,
        k_ratio=config.k_ratio if config.mode == "hard" else None,
        dropout=config.dropout,
        partial_bn=config.partial_bn,
        weight_decay=config.weight_decay,
    )
    _initialise_backbone(model, config.weights)
    accumulation = config.accumulation_steps
    # Keras schedules count forward/backward passes, not updates.
    schedule = keras.optimizers.schedules.ExponentialDecay(
        config.learning_rate,
        decay_steps=config.lr_step * accumulation,
        decay_rate=0.1,
        staircase=True,
    )
    optimizer = keras.optimizers.SGD(
        schedule,
        momentum=config.momentum,
        gradient_accumulation_steps=accumulation if accumulation > 1 else None,
    )
    model.compile(
        optimizer=optimizer,
        loss=UntrimmedNetLoss(),
        jit_compile=config.jit_compile,
        run_eagerly=config.run_eagerly,
    )
    model.build(None)
    optimizer.build(model.trainable_variables)
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
    restored = restore_newest_readable(checkpoint, out / CHECKPOINT_DIR)
    if restored:
        logger.info("resuming from step %d", restored)
    manager = tf.train.CheckpointManager(checkpoint, str(out / CHECKPOINT_DIR), max_to_keep=2)
    done = int(optimizer.iterations.numpy())
    initial_round = done // config.checkpoint_every
    rounds = math.ceil(config.iterations / config.checkpoint_every)

    loader = VideoClipLoader(
        stream=config.stream,
        backbone=config.backbone,
        num_segments=config.num_segments,
        frame_size=config.frame_size,
        input_size=config.input_size,
        crop_scales=config.crop_scales,
        flow=config.flow,
        dis_preset=config.dis_preset,
    )
    round_callback = CheckpointEveryRound(manager, out / HISTORY_FILE)
    if done < config.iterations:
        dataset = _training_dataset(config, videos, labels, loader, initial_round)
        model.fit(
            dataset,
            epochs=rounds,
            initial_epoch=initial_round,
            steps_per_epoch=config.checkpoint_every * accumulation,
            callbacks=[round_callback, _StopAfterUpdates(config.iterations), *callbacks],
            shuffle=False,  # the pipeline shuffles
            verbose=verbose,
        )
    _save_run_files(model, out)
    history = {"loss": [entry.get("loss") for entry in round_callback.losses]}
    return EndToEndResult(out, model, int(optimizer.iterations.numpy()), history)


__all__ = [
    "CROP_SCALES",
    "EndToEndConfig",
    "EndToEndResult",
    "PAPER_SCHEDULES",
    "PROPOSAL_METHODS",
    "VideoClipLoader",
    "multi_scale_crop",
    "sample_clips",
    "segment_frames",
    "train_end_to_end",
]
