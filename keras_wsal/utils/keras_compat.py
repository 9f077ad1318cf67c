"""Every use of Keras' private API, in one place and guarded by the Keras versions it is known on.

keras_wsal's feature training works around two Keras 3 limitations under `tf.distribute` (see
`keras_wsal.training.trainer`); both need private parts of `keras.Model`:

- `build_from_specs`: `Model._symbolic_build(data_batch=...)` builds the compiled loss and
  metrics from input specs, and `_maybe_symbolic_build` is replaced by a no-op so that `fit`
  does not build them again from a batch averaged over the replicas;
- `rank_one_step_logs`: `Model.train_step` is wrapped so that its logs are `[1]` tensors;

and one of the optimizer: `steps_taken` reads `optimizer._iterations`, the count of training
steps, which the public `iterations` divides by `gradient_accumulation_steps` (it counts updates).

`KNOWN_KERAS` is the range of Keras versions these were written against; setup.py's upper
bound on `keras` is its end, and `tests/utils/test_keras_compat.py` fails on a Keras outside it,
so a Keras upgrade is a deliberate step: check the private names below, then move both.
"""

from __future__ import annotations

import keras

# (major, minor) of the first and the last Keras the private patches are known on, inclusive.
KNOWN_KERAS = ((3, 6), (3, 15))
_PRIVATE_NAMES = ("_symbolic_build", "_maybe_symbolic_build", "train_step")


def keras_version() -> tuple[int, int]:
    """The installed Keras' (major, minor)."""
    major, minor = keras.__version__.split(".")[:2]
    return int(major), int(minor)


def is_known_keras(version: tuple[int, int] | None = None) -> bool:
    """Whether `version` (default: the installed one) is in `KNOWN_KERAS`."""
    version = keras_version() if version is None else version
    return KNOWN_KERAS[0] <= version <= KNOWN_KERAS[1]


def _check_private_api(model) -> None:
    missing = [name for name in _PRIVATE_NAMES if not hasattr(model, name)]
    if missing:
        first, last = (".".join(map(str, v)) for v in KNOWN_KERAS)
        raise RuntimeError(
            f"Keras {keras.__version__} has no keras.Model.{', '.join(missing)}, which "
            "keras_wsal's "
            f"distributed training patches (known on Keras {first}-{last}); install a Keras in "
            "that range"
        )


def build_from_specs(model: keras.Model, data_batch) -> None:
    """Build `model`'s compiled loss and metrics from `(input specs, label spec)`, and tell `fit`
    that nothing is left to build."""
    _check_private_api(model)
    model._symbolic_build(data_batch=data_batch)
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None


def rank_one_step_logs(model: keras.Model) -> None:
    """Wrap `model.train_step` so that each log is a `[1]` tensor instead of a scalar."""
    import tensorflow as tf

    _check_private_api(model)
    train_step = model.train_step

    def step(data):
        return {name: tf.reshape(value, [1]) for name, value in train_step(data).items()}

    model.train_step = step


def steps_taken(optimizer) -> int:
    """The training steps (batches) `optimizer` has seen, accumulated or not.

    With `gradient_accumulation_steps = A`, Keras' public `optimizer.iterations` counts updates
    (steps // A); keras_wsal's step counter, checkpoint numbers and resume count steps.
    """
    counter = getattr(optimizer, "_iterations", None)
    if counter is None:
        raise RuntimeError(
            f"Keras {keras.__version__} optimizers have no `_iterations` (the step counter "
            "keras_wsal reads with gradient accumulation); install a Keras in KNOWN_KERAS"
        )
    return int(keras.ops.convert_to_numpy(counter))
