"""Video-side throughput on this machine: decoding, optical flow, the BN-Inception forward pass.

Prints one table:
- decoding: frames per second of `VideoReader.frames()` (PyAV and OpenCV backends) on a
  synthetic 320x240 MPEG-4 video, frames converted to RGB arrays;
- optical flow: frame pairs per second at 320x240 on a moving random texture, DIS (medium
  and fast presets, one thread and `video_flows` over all cores) and TV-L1 (one object, OpenCV's
  own threads);
- BN-Inception at 224x224 (spatial stream): images per second of the forward pass (batch
  `--batch`, float32, compiled with `tf.function`), its FLOP count and the achieved FLOP/s as a
  fraction of a dense float32 matmul's FLOP/s measured in the same run.

FLOPs are counted analytically from the layer shapes: a convolution is `2 · H_out · W_out · K_h ·
K_w · C_in · C_out` (one multiply and one add per weight per output position), plus `H_out ·
W_out · C_out` for its bias; BatchNormalization at inference is 2 per element (scale, shift),
ReLU 1 per element, pooling `k²` per output element. A square matmul `n x n` is `2 n³`.

Usage:
    python benchmarks/bench_video.py
    python benchmarks/bench_video.py --frames 500 --batch 16 --matmul 4096
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def _best_rate(work, count: int, repeats: int) -> float:
    """The best of `repeats` timings of `work()`, as `count` items per second."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return count / best


def bench_decoding(path: Path, frames: int, repeats: int) -> list[tuple[str, str, str]]:
    from keras_wsal.video import open_video

    rows = []
    for backend in ("pyav", "opencv"):
        reader = open_video(path, backend=backend)

        def decode(reader=reader):
            assert sum(1 for _ in reader.frames()) == frames

        rate = _best_rate(decode, frames, repeats)
        rows.append((f"decode 320x240 MPEG-4 ({backend}, RGB arrays)", f"{rate:,.0f}", "frames/s"))
    return rows


def textured_frames(count: int, size: tuple[int, int] = (320, 240)) -> list[np.ndarray]:
    """Gray frames of a smooth random texture moving 2 px right and 1 px down per frame.

    Flow solvers iterate until convergence, so a textured scene (like real footage) gives
    representative timings where the synthetic videos' flat regions would flatter them.
    """
    import cv2

    width, height = size
    margin = 2 * count + 8
    noise = np.random.default_rng(0).random((height + margin, width + margin))
    texture = cv2.normalize(cv2.GaussianBlur(noise, (0, 0), 2.0), None, 0, 255, cv2.NORM_MINMAX)
    texture = texture.astype(np.uint8)
    return [
        np.ascontiguousarray(
            texture[margin - i : margin - i + height, margin - 2 * i : margin - 2 * i + width]
        )
        for i in range(count)
    ]


def bench_flow(
    images: list[np.ndarray], tvl1_pairs: int, repeats: int
) -> list[tuple[str, str, str]]:
    import cv2

    from keras_wsal.video import compute_flow, create_flow_estimator, to_gray, video_flows

    gray = [to_gray(image) for image in images]
    pairs = len(gray) - 1
    workers = os.cpu_count() or 1
    rows = []
    for preset in ("medium", "fast"):
        estimator = create_flow_estimator("dis", dis_preset=preset)

        def serial(estimator=estimator):
            for a, b in zip(gray[:-1], gray[1:], strict=True):
                compute_flow(a, b, estimator=estimator)

        threads = cv2.getNumThreads()
        cv2.setNumThreads(1)
        try:
            rate = _best_rate(serial, pairs, repeats)
        finally:
            cv2.setNumThreads(threads)
        rows.append((f"DIS flow 320x240 ({preset}, 1 thread)", f"{rate:,.1f}", "pairs/s"))

        def parallel(preset=preset):
            assert sum(1 for _ in video_flows(gray, dis_preset=preset, workers=workers)) == pairs

        rate = _best_rate(parallel, pairs, repeats)
        rows.append(
            (
                f"DIS flow 320x240 ({preset}, video_flows, {workers} threads)",
                f"{rate:,.1f}",
                "pairs/s",
            )
        )
    estimator = create_flow_estimator("tvl1")

    def tvl1():
        for a, b in zip(gray[:tvl1_pairs], gray[1 : tvl1_pairs + 1], strict=True):
            compute_flow(a, b, estimator=estimator)

    rate = _best_rate(tvl1, tvl1_pairs, 1)
    rows.append(("TV-L1 flow 320x240 (OpenCV threads)", f"{rate:,.2f}", "pairs/s"))
    return rows


def model_flops(model) -> int:
    """Inference FLOPs of one image through `model`, counted from its layers' shapes."""
    import keras

    total = 0
    for layer in model.layers:
        if not hasattr(layer, "output") or isinstance(layer, keras.layers.InputLayer):
            continue
        out = layer.output.shape[1:]
        elements = int(np.prod(out))
        if isinstance(layer, keras.layers.Conv2D):
            kh, kw, cin, _ = layer.kernel.shape
            total += 2 * elements * kh * kw * cin + elements
        elif isinstance(layer, keras.layers.BatchNormalization):
            total += 2 * elements
        elif isinstance(layer, keras.layers.ReLU):
            total += elements
        elif isinstance(layer, keras.layers.MaxPooling2D | keras.layers.AveragePooling2D):
            total += elements * layer.pool_size[0] * layer.pool_size[1]
        elif isinstance(layer, keras.layers.GlobalAveragePooling2D):
            total += int(np.prod(layer.input.shape[1:]))
    return total


def bench_backbone(batch: int, matmul: int, repeats: int) -> list[tuple[str, str, str]]:
    import tensorflow as tf

    from keras_wsal.backbones import make_backbone

    model = make_backbone("bn_inception")
    forward = tf.function(lambda x: model(x, training=False))
    images = tf.random.uniform((batch, 224, 224, 3), -128.0, 128.0)
    forward(images).numpy()
    images_per_second = _best_rate(lambda: forward(images).numpy(), batch, repeats)
    flops = model_flops(model)

    a = tf.random.normal((matmul, matmul))
    b = tf.random.normal((matmul, matmul))
    product = tf.function(lambda a, b: tf.reduce_sum(tf.linalg.matmul(a, b)))
    product(a, b).numpy()
    matmuls_per_second = _best_rate(lambda: product(a, b).numpy(), 1, repeats)
    matmul_flops = 2 * matmul**3 * matmuls_per_second
    achieved = flops * images_per_second
    return [
        (
            f"BN-Inception forward 224x224 (batch {batch}, float32)",
            f"{images_per_second:,.1f}",
            "images/s",
        ),
        ("BN-Inception FLOPs per image (analytic)", f"{flops / 1e9:,.3f}", "GFLOP"),
        ("BN-Inception achieved", f"{achieved / 1e9:,.1f}", "GFLOP/s"),
        (
            f"dense float32 matmul {matmul}x{matmul} (tf.linalg.matmul)",
            f"{matmul_flops / 1e9:,.1f}",
            "GFLOP/s",
        ),
        ("BN-Inception / matmul FLOP/s", f"{achieved / matmul_flops:.1%}", ""),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=250, help="frames of the test video")
    parser.add_argument("--flow-frames", type=int, default=50, help="frames timed for DIS")
    parser.add_argument("--tvl1-pairs", type=int, default=3, help="frame pairs timed for TV-L1")
    parser.add_argument("--batch", type=int, default=8, help="BN-Inception batch size")
    parser.add_argument("--matmul", type=int, default=2048, help="matmul size n (n x n)")
    parser.add_argument("--repeats", type=int, default=3, help="timings per row (best is kept)")
    args = parser.parse_args(argv)

    from keras_wsal.video import write_synthetic_video

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        path = write_synthetic_video(
            Path(folder) / "bench.mp4",
            num_frames=args.frames,
            size=(320, 240),
            cuts=(args.frames // 2,),
        )
        rows += bench_decoding(path, args.frames, args.repeats)
    rows += bench_flow(textured_frames(args.flow_frames), args.tvl1_pairs, args.repeats)
    rows += bench_backbone(args.batch, args.matmul, args.repeats)

    width = max(len(row[0]) for row in rows)
    print(f"{'measure':<{width}}  {'value':>12}  unit   ({os.cpu_count()} CPUs)")
    print("-" * (width + 24))
    for name, value, unit in rows:
        print(f"{name:<{width}}  {value:>12}  {unit}")


if __name__ == "__main__":
    main()
