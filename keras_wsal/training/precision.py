"""The mixed-precision policy of training: "auto" picks the fastest one this machine has.

- A GPU whose compute capability is >= 7.0 (tensor cores): "mixed_float16" (with Keras' dynamic
  loss scaling).
- No GPU, and a CPU with bfloat16 matrix instructions (AMX-BF16 or AVX512-BF16, read from
  `/proc/cpuinfo`): "mixed_bfloat16". On such a CPU TensorFlow's bfloat16 matmul, and with it
  the train step, is faster than in float32, with AMX and with AVX512-BF16 alone (measured in
  the README, "Benchmarks").
- Otherwise: "float32".

Variables stay float32 in every policy and the models' outputs are float32; a saved model keeps
its policy, so `detect` and `export` run it as it was trained, and the exported signatures take
and return float32.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
_BFLOAT16_FLAGS = ("amx_bf16", "avx512_bf16")

logger = logging.getLogger(__name__)


def cpu_bfloat16_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> list[str]:
    """The bfloat16 matrix instructions this CPU reports (empty where `cpuinfo` is unreadable)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return []
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags |= set(line.split(":", 1)[-1].split())
    return [flag for flag in _BFLOAT16_FLAGS if flag in flags]


def gpu_compute_capabilities() -> list[tuple[int, int]]:
    """(major, minor) of each GPU TensorFlow sees (empty without one)."""
    import tensorflow as tf

    found = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        found.append(tuple(details.get("compute_capability", (0, 0))))
    return found


def resolve_precision(name: str) -> tuple[str, str]:
    """`(policy, why)`: the policy `name` stands for on this machine, and the reason, in words.

    An explicit "mixed_bfloat16" on a CPU without bfloat16 instructions (and no GPU) is kept, with
    a warning that it will be slow.

    Raises:
        ValueError: `name` is not one of `PRECISIONS`.
    """
    if name not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}; got {name!r}")
    gpus = gpu_compute_capabilities()
    bf16 = cpu_bfloat16_flags()
    if name == "mixed_bfloat16" and not gpus and not bf16:
        logger.warning(
            "mixed_bfloat16 on a CPU without bfloat16 instructions (AMX-BF16, AVX512-BF16) "
            "will be slower than float32"
        )
    if name != "auto":
        return name, "as given"
    if gpus:
        if all(capability >= (7, 0) for capability in gpus):
            return "mixed_float16", f"GPUs with tensor cores (compute capability {gpus[0]})"
        return "float32", f"GPUs without tensor cores (compute capability {min(gpus)})"
    if bf16:
        return "mixed_bfloat16", f"a CPU with bfloat16 instructions ({', '.join(bf16)})"
    return "float32", "a CPU without bfloat16 instructions and no GPU"


def with_resolved_precision(config):
    """`(config, note)`: a training config with "auto" replaced by the policy it stands for on
    this machine (the run then records what it trained in), and a line that says so, or None
    when the precision was given.

    A run folder that already holds a run keeps the policy it was started in: "auto" resumes a
    float32 run in float32 on any machine.
    """
    if config.precision == "auto":
        started = _saved_precision(Path(config.out) / "config.json")
        if started is not None:
            return dataclasses.replace(
                config, precision=started
            ), f"precision auto: {started}, the policy this run was started in"
    policy, why = resolve_precision(config.precision)
    if policy == config.precision:
        return config, None
    return dataclasses.replace(
        config, precision=policy
    ), f"precision {config.precision}: {policy}, for {why}"


def _saved_precision(path: Path) -> str | None:
    """The concrete policy saved in a run's `config.json`, if there is one."""
    import json

    try:
        saved = json.loads(path.read_text()).get("precision")
    except (OSError, ValueError, AttributeError):
        return None
    return saved if saved in PRECISIONS and saved != "auto" else None
