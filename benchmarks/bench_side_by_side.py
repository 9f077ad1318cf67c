"""keras_wsal (float32 and its `--precision auto`) beside a plain PyTorch loop, on the same files.

One run writes a THUMOS-shaped feature dataset (THUMOS14's 200 validation videos at their real
durations; with `--videos` above 200, its test videos' durations next, then again from the first;
I3D's 1.5625 snippets per second, D = 2048 random float32 features in one `.npy` per video, 20
classes) and prints one table, each row measured in its own process:

- **keras_wsal, files**: `keras_wsal.training.train` of the complete WSGN (default recipe: Adam,
  batches of 10 videos, each resampled at every 5th frame from a random start (WSGN's temporal
  augmentation) and cropped to 750 steps, padded per batch) reading the memory-mapped files
  through its `tf.data` pipeline; steps per second over the steps after `--warmup`, timed by a
  callback at the end of each call into the train step (several steps per call).
- **keras_wsal, memory**: the same model and compiled train step (the same steps per execution)
  on the same batches, taken from the same pipeline into memory first (`cache`, so the same
  shapes): the step rate with no reading at all. `files / memory` is how much of the step rate
  the pipeline keeps.
- **keras_wsal, batch**: the same model and step on the pipeline's first batch, again and again:
  what the step itself holds (model, optimizer state, activations, one batch), with no pipeline.
  The files row's RSS growth less this row's is what reading from the files adds.
- **PyTorch reference** (`reference_wsgn_torch.py`): the same head, loss, resampling and crops in
  a plain float32 loop reading the same memory-mapped files.

Columns: steps/s; GFLOP/s achieved (the step's FLOPs as `bench_training.step_flops` counts them,
on the snippets each row computes: keras_wsal's heads run on the batch's valid snippets only
(`keras_wsal.layers.valid_snippets`), the PyTorch loop on all its padded snippets, as a plain loop
does) and their fraction of a same-process matmul `[B·750, D] × [D, D]`
of the same precision and framework; peak RSS of the process (`ru_maxrss`) at the end of training
and its growth over the process's own baseline (the framework loaded, before any data), the
growth against the size of all features in RAM; and, for keras_wsal, detection seconds per video
(the model's forward pass and the default rule, on `--detect-videos` whole videos after a first
one that traces the model's function).

Usage:
    python benchmarks/bench_side_by_side.py --out side_by_side
    python benchmarks/bench_side_by_side.py --out sbs --feature-dim 256 --steps 20
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from bench_training import _best_seconds

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).parent))

FEATURE_FPS = 1.5625  # I3D: 16 frames at 25 fps
BATCH, MAX_LENGTH = 10, 750
ROWS = ("keras-files-float32", "keras-memory-float32", "keras-files-auto", "keras-memory-auto",
        "keras-batch-auto", "torch-files-float32")  # fmt: skip


def make_data(root: Path, videos: int, feature_dim: int, classes: int) -> Path:
    """THUMOS14's durations (its validation videos, then its test videos, then again from the
    first, as many as `videos`), random features and one label per video."""
    import numpy as np

    from keras_wsal.datasets import FeatureDataset, write_dataset_by_video

    path = root / f"data_{videos}_d{feature_dim}"
    if (path / "meta.json").exists():
        return path
    structure = json.loads(
        (Path(__file__).parents[1] / "keras_wsal/data/thumos14_structure.json").read_text()
    )
    durations = [v["duration"] for s in ("validation", "test") for v in structure["subsets"][s]]
    durations = [durations[i % len(durations)] for i in range(videos)]
    rng = np.random.default_rng(0)
    names = [f"video_{i:04d}" for i in range(len(durations))]
    labels = [f"class_{c:02d}" for c in range(classes)]
    database = {
        name: {
            "subset": "validation",
            "duration": duration,
            "annotations": [{"segment": [0.0, 1.0], "label": labels[i % classes]}],
        }
        for i, (name, duration) in enumerate(zip(names, durations, strict=True))
    }
    lengths = {name: max(1, int(d * FEATURE_FPS)) for name, d in zip(names, durations, strict=True)}
    write_dataset_by_video(
        path,
        database,
        lambda video: {"features": rng.standard_normal((lengths[video], feature_dim), np.float32)},
        FEATURE_FPS,
        classes=labels,
    )
    FeatureDataset(path)
    return path


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _tf_matmul_gflops(precision: str, dim: int) -> float:
    import tensorflow as tf

    dtype = tf.bfloat16 if precision == "mixed_bfloat16" else tf.float32
    a = tf.cast(tf.random.normal([BATCH * MAX_LENGTH, dim]), dtype)
    b = tf.cast(tf.random.normal([dim, dim]), dtype)
    product = tf.function(lambda a, b: tf.reduce_sum(tf.cast(tf.linalg.matmul(a, b), tf.float32)))
    product(a, b).numpy()
    return (
        2 * BATCH * MAX_LENGTH * dim * dim / _best_seconds(lambda: product(a, b).numpy(), 5) / 1e9
    )


def keras_row(data: Path, out: Path, source: str, precision: str, args) -> dict:
    import keras
    import numpy as np
    import tensorflow as tf  # noqa: F401 (loaded before the baseline is read)
    from bench_training import step_flops

    from keras_wsal.datasets import FeatureDataset, make_training_dataset
    from keras_wsal.inference import DetectionRule, predict_videos
    from keras_wsal.models import build_model, loss_for_model
    from keras_wsal.training import TrainConfig, train
    from keras_wsal.training.precision import with_resolved_precision
    from keras_wsal.training.trainer import (
        _augmentation,
        _feature_dtype,
        _optimizer,
        _steps_per_execution,
    )

    baseline = _peak_rss_mib()
    steps = args.warmup + args.steps
    config = TrainConfig(
        data=str(data), subset="validation", model="wsgn", out=str(out), steps=steps,
        checkpoint_every=steps, precision=precision,
    )  # fmt: skip
    config, _ = with_resolved_precision(config)
    ends, snippets = [], []  # ends: (steps done, time) after each call into the train step
    keras.utils.set_random_seed(config.seed)  # as `train` does before it builds its batches
    dataset = FeatureDataset(data)
    # The batches `train` reads (the recipe's resampling): counted for FLOPs, or cached.
    batches = make_training_dataset(
        dataset, "validation", BATCH, MAX_LENGTH, seed=config.seed,
        augmentation=_augmentation(config, dataset),
        feature_dtype=_feature_dtype(
            keras.DTypePolicy(config.precision).compute_dtype, dataset.feature_dims
        ),  # as `train` reads them
    ).repeat().take(steps)  # fmt: skip

    class Timer(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            ends.append((batch + 1, time.perf_counter()))  # `batch`: the call's last step

    if source == "files":
        import shutil

        shutil.rmtree(out, ignore_errors=True)  # a new run, not the resumption of an old one
        result = train(config, verbose=0, callbacks=[Timer()])
        trained_peak = _peak_rss_mib()  # training's peak, before anything else reads the files
        model = result.model
        snippets = [int(np.sum(i["mask"])) for i, _ in batches]  # the valid ones, computed
    else:
        keras.config.set_dtype_policy(config.precision)
        batches = batches.cache() if source == "memory" else batches.take(1).cache().repeat(steps)
        snippets = [int(np.sum(i["mask"])) for i, _ in batches]  # fills the cache
        model = build_model(
            "wsgn", len(dataset.classes), dict(dataset.feature_dims), dropout=config.dropout,
            weight_decay=config.weight_decay,
        )  # fmt: skip
        model.compile(
            optimizer=_optimizer(config), loss=loss_for_model(model),
            steps_per_execution=_steps_per_execution(steps),
        )  # fmt: skip
        model.fit(batches, epochs=1, steps_per_epoch=steps, callbacks=[Timer()], verbose=0)
        trained_peak = _peak_rss_mib()
    (first, start), (last, end) = next(e for e in ends if e[0] >= args.warmup), ends[-1]
    seconds = end - start
    flops = sum(step_flops(model, n) for n in snippets[first:last])
    row = {
        "steps_per_second": (last - first) / seconds,
        "gflops": flops / seconds / 1e9,
        "matmul_gflops": _tf_matmul_gflops(config.precision, args.feature_dim),
        "precision": config.precision,
        "baseline_rss_mib": baseline,
        "peak_rss_mib": trained_peak,
    }
    if source == "files":
        rule = DetectionRule.for_model(model)
        outputs = predict_videos(model, dataset, "validation")
        # The first video traces the model's function once; time the videos after it.
        rule.detect(next(outputs), dataset.feature_fps, dataset.classes)
        start, timed = time.perf_counter(), 0
        for video in itertools.islice(outputs, args.detect_videos):
            rule.detect(video, dataset.feature_fps, dataset.classes)
            timed += 1
        detect_seconds = time.perf_counter() - start
        # None ("-" in the table) where the split has no video after the traced one.
        row["detect_seconds_per_video"] = detect_seconds / timed if timed else None
    return row


def torch_row(data: Path, args) -> dict:
    # The files are read as a PyTorch user would, with NumPy: importing keras_wsal.datasets would
    # load TensorFlow, whose thread pools would compete with PyTorch's.
    import numpy as np
    import torch
    from reference_wsgn_torch import WSGNHead, make_step, read_batch, step_flops

    baseline = _peak_rss_mib()
    torch.manual_seed(0)
    database = json.loads((data / "annotations.json").read_text())["database"]
    classes = json.loads((data / "meta.json").read_text())["classes"]
    videos = sorted(database)
    arrays = [np.load(data / "features" / f"{v}.npy", mmap_mode="r") for v in videos]
    labels = np.array(
        [[float(any(a["label"] == c for a in database[v]["annotations"])) for c in classes]
         for v in videos], np.float32,
    )  # fmt: skip
    model = WSGNHead(args.feature_dim, len(classes))
    step = make_step(model)
    rng = np.random.default_rng(0)
    steps = args.warmup + args.steps
    order = np.concatenate(
        [rng.permutation(len(videos)) for _ in range(steps * BATCH // len(videos) + 1)]
    )
    ends, flops = [], 0
    for i in range(steps):
        features, mask, y = read_batch(
            arrays, labels, order[i * BATCH : (i + 1) * BATCH], MAX_LENGTH, rng
        )
        step(features, mask, y)
        ends.append(time.perf_counter())
        if i >= args.warmup:
            flops += step_flops(args.feature_dim, len(classes), mask.numel())
    seconds = ends[-1] - ends[args.warmup - 1]
    a = torch.randn(BATCH * MAX_LENGTH, args.feature_dim)
    b = torch.randn(args.feature_dim, args.feature_dim)
    matmul = (
        2
        * BATCH
        * MAX_LENGTH
        * args.feature_dim**2
        / _best_seconds(lambda: (a @ b).sum().item(), 5)
        / 1e9
    )
    return {
        "steps_per_second": args.steps / seconds,
        "gflops": flops / seconds / 1e9,
        "matmul_gflops": matmul,
        "precision": "float32",
        "torch_threads": torch.get_num_threads(),
        "baseline_rss_mib": baseline,
    }


def measure(row: str, data: Path, out: Path, args) -> dict:
    framework, source, precision = row.split("-")
    if framework == "torch":
        result = torch_row(data, args)
    else:
        result = keras_row(data, out / row, source, precision, args)
    result.setdefault("peak_rss_mib", _peak_rss_mib())
    return result


def table(rows: dict, features_mib: float) -> str:
    lines = [
        f"{'row':24s} {'policy':15s} {'steps/s':>8s} {'vs torch':>9s} {'GFLOP/s':>8s} "
        f"{'matmul':>8s} {'of mm':>6s} {'peak RSS MiB':>13s} {'growth':>7s} {'of all':>7s} "
        f"{'detect s/video':>15s}",
        "-" * 129,
    ]
    reference = rows.get("torch-files-float32", {}).get("steps_per_second")
    for name, r in rows.items():
        versus = f"{r['steps_per_second'] / reference:8.2f}x" if reference else f"{'-':>9s}"
        detect = r.get("detect_seconds_per_video")
        lines.append(
            f"{name:24s} {r['precision']:15s} {r['steps_per_second']:8.2f} {versus} "
            f"{r['gflops']:8.1f} {r['matmul_gflops']:8.1f} {r['gflops'] / r['matmul_gflops']:6.0%} "
            f"{r['peak_rss_mib']:13.0f} {r['peak_rss_mib'] - r['baseline_rss_mib']:7.0f} "
            f"{(r['peak_rss_mib'] - r['baseline_rss_mib']) / features_mib:7.2f} "
            + (f"{detect:15.3f}" if detect is not None else f"{'-':>15s}")
        )
    for precision in ("float32", "auto"):
        files, memory = rows.get(f"keras-files-{precision}"), rows.get(f"keras-memory-{precision}")
        if files and memory:
            lines.append(
                f"keras_wsal {precision}: files / memory step rate = "
                f"{files['steps_per_second'] / memory['steps_per_second']:.0%}"
            )
    files, batch = rows.get("keras-files-auto"), rows.get("keras-batch-auto")
    if files and batch:
        added = (files["peak_rss_mib"] - files["baseline_rss_mib"]) - (
            batch["peak_rss_mib"] - batch["baseline_rss_mib"]
        )
        lines.append(
            f"keras_wsal auto: reading from the files adds {added:.0f} MiB to the step's own "
            f"RSS growth ({added / features_mib:.2f} of all features)"
        )
    lines.append(f"all features in RAM: {features_mib:.0f} MiB")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="side_by_side")
    parser.add_argument("--videos", type=int, default=200)
    parser.add_argument("--feature-dim", type=int, default=2048)
    parser.add_argument("--classes", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--detect-videos", type=int, default=10)
    parser.add_argument("--rows", default=",".join(ROWS))
    parser.add_argument("--row", help=argparse.SUPPRESS)  # one row, in a subprocess
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = make_data(out, args.videos, args.feature_dim, args.classes)
    if args.row:
        print(json.dumps(measure(args.row, data, out, args)))
        return 0
    rows = {}
    for row in args.rows.split(","):
        forwarded = [a for a in (argv or sys.argv[1:])]
        done = subprocess.run(
            [sys.executable, __file__, *forwarded, "--row", row],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            print(done.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"row {row} failed")
        rows[row] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"  {row}: {rows[row]['steps_per_second']:.2f} steps/s", flush=True)
    features_mib = sum(p.stat().st_size for p in (data / "features").glob("*.npy")) / 2**20
    print(table(rows, features_mib))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
