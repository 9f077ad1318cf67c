"""Training step time of each model on THUMOS-shaped features, against a dense matmul's FLOP/s.

Prints one table, a row per model x XLA (`jit_compile`) x precision:

- the train step (`model.train_on_batch`: forward, loss with weight decay, backward, optimizer
  update, compiled as `keras-wsal train` compiles it, with the paper's optimiser) on in-memory
  random features of batch B = 10, T = 750 snippets, D = 2048, C = 20 classes, every snippet
  valid: the time of the fastest of `--steps` steps after `--warmup` steps (which trace and
  compile);
- the step's FLOPs, counted from the shapes of the models' weight matrices: a kernel
  `[D_in, D_out]` applied to N = B·T snippets costs `2·N·D_in·D_out` forward; backward, the
  kernel's gradient costs as much again, and the gradient with respect to its input as much
  once more, except for the layers that read the snippet features themselves (UntrimmedNet's
  classifier and attention, WSGN's two hidden layers), whose input needs no gradient. So a step
  costs `Σ 2·N·D_in·D_out · (2 for a layer on the features, 3 for one on a hidden layer)`.
  Element-wise work (softmax, selection, the norms, the loss, the optimizer) is not counted: it
  is linear in N·C or in the weights;
- the achieved FLOP/s and their fraction of a dense float32 matmul's FLOP/s,
  `tf.linalg.matmul` of `[N, D] x [D, D]` (`2·N·D²` FLOPs), timed the same way in the same process
  right after the model;
- peak memory: on a GPU, TensorFlow's peak allocation on GPU:0 during the model's steps; on the
  CPU, the growth of the process's peak resident set size (`ru_maxrss`) from before the model is
  built to after its steps, the inputs (B·T·D float32) already counted in the starting point.

Each row runs in its own process, so that peak memory and compiled code belong to that row.
UntrimmedNet's FLOPs are tiny (a `D x C` classifier): its step time measures memory traffic, not
arithmetic, and its fraction of the matmul is accordingly small.

Usage:
    python benchmarks/bench_training.py
    python benchmarks/bench_training.py --models wsgn,naive --precisions float32 --steps 5
    python benchmarks/bench_training.py --models wsgn --xla off --dropout 0   # what dropout costs
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MODELS = ("untrimmednet-hard", "untrimmednet-soft", "wsgn", "naive")
PRECISIONS = ("float32", "mixed_bfloat16")


def _best_seconds(work, steps: int) -> float:
    best = float("inf")
    for _ in range(steps):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


# The layers that read the snippet features (no input gradient) and those on a hidden layer.
_ON_FEATURES = ("classification", "soft_selection", "cls_hidden", "det_hidden")
_ON_HIDDEN = ("cls_out", "det_out")


def step_flops(model, snippets: int) -> int:
    """The FLOPs of one train step on `snippets` snippets (see the module docstring)."""
    total = 0
    for weight in model.trainable_weights:
        if len(weight.shape) != 2:
            continue
        layer = weight.path.split("/")[-2]
        if layer not in _ON_FEATURES + _ON_HIDDEN:
            raise ValueError(f"no FLOP count for the weight {weight.path}")
        passes = 2 if layer in _ON_FEATURES else 3
        total += passes * 2 * snippets * int(weight.shape[0]) * int(weight.shape[1])
    return total


def _peak_memory_mib(gpu: bool, start_kib: int) -> float:
    import tensorflow as tf

    if gpu:
        return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - start_kib) / 1024


def measure_row(model_name: str, jit_compile: bool, precision: str, args) -> dict:
    """One table row, measured in this process."""
    import keras
    import tensorflow as tf

    from keras_wsal.models import build_model, loss_for_model
    from keras_wsal.training import TrainConfig
    from keras_wsal.training.trainer import _optimizer

    gpu = bool(tf.config.list_physical_devices("GPU"))
    batch, length, dim, classes = args.batch, args.length, args.dim, args.classes
    generator = tf.random.Generator.from_seed(0)
    inputs = {
        "features": generator.normal([batch, length, dim]),
        "mask": tf.ones([batch, length], tf.bool),
    }
    labels = tf.cast(generator.uniform([batch, classes]) < 1.5 / classes, tf.float32)
    start_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if gpu:
        tf.config.experimental.reset_memory_stats("GPU:0")

    config = TrainConfig(data="-", subset="-", model=model_name, out="-", precision=precision)
    keras.config.set_dtype_policy(precision)
    model = build_model(
        model_name,
        classes,
        {"features": dim},
        dropout=config.dropout if args.dropout is None else args.dropout,
        weight_decay=config.weight_decay if args.weight_decay is None else args.weight_decay,
    )
    model.compile(optimizer=_optimizer(config), loss=loss_for_model(model), jit_compile=jit_compile)
    step = lambda: float(model.train_on_batch(inputs, labels))  # noqa: E731 (float() waits for the step)
    for _ in range(args.warmup):
        step()
    seconds = _best_seconds(step, args.steps)
    memory_mib = _peak_memory_mib(gpu, start_kib)
    flops = step_flops(model, batch * length)

    a = generator.normal([batch * length, dim])
    b = generator.normal([dim, dim])
    product = tf.function(lambda a, b: tf.reduce_sum(tf.linalg.matmul(a, b)))
    product(a, b).numpy()
    matmul_seconds = _best_seconds(lambda: product(a, b).numpy(), args.steps)
    matmul_flops = 2 * batch * length * dim * dim / matmul_seconds
    return {
        "model": model_name,
        "xla": jit_compile,
        "precision": precision,
        "ms_per_step": 1e3 * seconds,
        "gflop_per_step": flops / 1e9,
        "gflops": flops / seconds / 1e9,
        "matmul_gflops": matmul_flops / 1e9,
        "fraction": flops / seconds / matmul_flops,
        "memory_mib": memory_mib,
        "memory_kind": "GPU peak" if gpu else "RSS growth",
    }


def _run_row_in_subprocess(
    model_name: str, jit_compile: bool, precision: str, argv: list[str]
) -> dict:
    row = f"{model_name}:{int(jit_compile)}:{precision}"
    result = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--row", row, *argv],
        capture_output=True,
        text=True,
    )
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        reason = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return {
            "model": model_name,
            "xla": jit_compile,
            "precision": precision,
            "error": reason[:80],
        }
    return json.loads(lines[-1])


def _table(rows: list[dict]) -> str:
    header = (
        "model", "XLA", "precision", "ms/step", "GFLOP/step", "GFLOP/s", "matmul GFLOP/s",
        "of matmul", "peak MiB",
    )  # fmt: skip
    lines = [header]
    for r in rows:
        if "error" in r:
            lines.append(
                (r["model"], "on" if r["xla"] else "off", r["precision"], f"failed: {r['error']}")
            )
            continue
        lines.append(
            (
                r["model"],
                "on" if r["xla"] else "off",
                r["precision"],
                f"{r['ms_per_step']:,.1f}",
                f"{r['gflop_per_step']:,.2f}",
                f"{r['gflops']:,.1f}",
                f"{r['matmul_gflops']:,.1f}",
                f"{r['fraction']:.1%}",
                f"{r['memory_mib']:,.0f} ({r['memory_kind']})",
            )
        )
    widths = [max(len(line[i]) for line in lines if len(line) > i) for i in range(len(header))]
    text = []
    for line in lines:
        text.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip())
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated model names")
    parser.add_argument(
        "--precisions", default=",".join(PRECISIONS), help="comma-separated policies"
    )
    parser.add_argument("--xla", default="off,on", help="'off', 'on' or 'off,on'")
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--length", type=int, default=750, help="snippets per video (T)")
    parser.add_argument("--dim", type=int, default=2048, help="feature size (D)")
    parser.add_argument("--classes", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps (tracing, compiling)")
    parser.add_argument(
        "--steps", type=int, default=3, help="timed steps (the fastest is reported)"
    )
    parser.add_argument(
        "--dropout", type=float, default=None, help="the model's dropout (default: its recipe's)"
    )
    parser.add_argument(
        "--weight-decay", type=float, default=None, help="default: the recipe's (5e-4)"
    )
    parser.add_argument("--row", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    shape_argv = [
        f"--{name.replace('_', '-')}={getattr(args, name)}"
        for name in (
            "batch",
            "length",
            "dim",
            "classes",
            "warmup",
            "steps",
            "dropout",
            "weight_decay",
        )
        if getattr(args, name) is not None
    ]
    if args.row:
        model_name, jit, precision = args.row.split(":")
        print(json.dumps(measure_row(model_name, jit == "1", precision, args)))
        return

    import tensorflow as tf

    device = "GPU" if tf.config.list_physical_devices("GPU") else f"CPU ({os.cpu_count()} cores)"
    print(
        f"training step, B={args.batch} T={args.length} D={args.dim} C={args.classes}, on "
        f"{device}, "
        f"TensorFlow {tf.__version__}; fastest of {args.steps} steps after {args.warmup}"
    )
    rows = []
    for model_name in args.models.split(","):
        for precision in args.precisions.split(","):
            for xla in args.xla.split(","):
                rows.append(_run_row_in_subprocess(model_name, xla == "on", precision, shape_argv))
                print(f"  measured {model_name} XLA {xla} {precision}", file=sys.stderr, flush=True)
    print(_table(rows))


if __name__ == "__main__":
    main()
