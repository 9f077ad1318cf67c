"""Which `tf.distribute` strategy a training run uses."""

from __future__ import annotations

import json
import os

from keras_wsal.errors import DataError


def _tf_config_workers() -> int:
    """Number of workers in `TF_CONFIG` (0 when unset); a malformed value is a DataError."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return 0
    try:
        cluster = json.loads(raw).get("cluster", {})
    except (json.JSONDecodeError, AttributeError):
        raise DataError(f"TF_CONFIG is not a JSON object with a 'cluster' field: {raw!r}") from None
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def make_strategy(name: str = "auto"):
    """A `tf.distribute` strategy by name.

    - "default": the default strategy (one device: the CPU or the first GPU);
    - "mirrored": `MirroredStrategy` over all local GPUs (the CPU when there is none);
    - "multi-worker": `MultiWorkerMirroredStrategy` over the cluster in `TF_CONFIG`;
    - "auto": "multi-worker" when `TF_CONFIG` names more than one worker, else "mirrored" when
      there are several GPUs, else "default".

    Call it before anything else initialises TensorFlow's devices: multi-worker collectives must
    be configured at program start.
    """
    import tensorflow as tf

    workers = _tf_config_workers()
    if name == "auto":
        if workers > 1:
            name = "multi-worker"
        elif len(tf.config.list_physical_devices("GPU")) > 1:
            name = "mirrored"
        else:
            name = "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi-worker":
        if workers == 0:
            raise DataError(
                "strategy 'multi-worker' needs TF_CONFIG describing the cluster and this task"
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"unknown strategy {name!r}; expected auto, default, mirrored or multi-worker")


def is_chief(strategy) -> bool:
    """True on the worker that writes the run's files (the only one without a cluster)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type == "chief":
        return True
    return (
        task_type == "worker" and task_id == 0 and "chief" not in resolver.cluster_spec().as_dict()
    )
