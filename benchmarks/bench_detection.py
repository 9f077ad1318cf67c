"""Detection time and memory per video against its length T: is `keras-wsal detect` linear in T?

For each T (snippets), one process builds a WSGN model (D features, C classes, float32; the
weights are random, which does not change the work), makes one video of random features [T, D],
and times the two parts of `keras-wsal detect` on it: the model's forward pass
(`keras_wsal.inference.predict_features`: `snippet_outputs` on the whole video) and the default
`DetectionRule` (smoothing, class scores, thresholds 0.1..0.9 unioned, outer-inner scores, NMS,
the cap of 200 segments). Each time is the fastest of `--repeats` after one warm-up run. Peak
memory is the growth of the process's peak resident set size (`ru_maxrss`) over the first run, the
features already counted in the starting point.

The table prints, per T, the seconds of each part, microseconds per snippet and the peak growth;
a linear part keeps its microseconds per snippet flat as T grows (no T x T matrix: the norms
work per class over time, NMS over the rule's segments, which the cap bounds).

Usage:
    python benchmarks/bench_detection.py
    python benchmarks/bench_detection.py --lengths 100,1000,10000,50000 --dim 2048 --classes 20
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def run_one(length: int, dim: int, classes: int, repeats: int, seed: int = 0) -> dict:
    """Time the forward pass and the rule on one video of `length` snippets (in this process)."""
    import numpy as np

    from keras_wsal.inference import DetectionRule
    from keras_wsal.inference.predict import predict_features
    from keras_wsal.models import build_model

    rng = np.random.default_rng(seed)
    features = {"features": rng.normal(size=(length, dim)).astype(np.float32)}
    model = build_model("wsgn", classes, {"features": dim})
    model.build({"features": (None, None, dim)})
    rule = DetectionRule.for_model(model)
    names = [f"class_{c}" for c in range(classes)]
    start_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    forward, detect, found = [], [], 0
    for _ in range(repeats + 1):
        started = time.perf_counter()
        outputs = predict_features(model, "video", features)
        middle = time.perf_counter()
        found = len(rule.detect(outputs, 25 / 16, names))
        ended = time.perf_counter()
        forward.append(middle - started)
        detect.append(ended - middle)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - start_rss
    return {
        "T": length,
        "forward_s": min(forward[1:]),
        "detect_s": min(detect[1:]),
        "segments": found,
        "peak_growth_mb": peak / 1024,  # ru_maxrss is in KiB on Linux
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="100,1000,10000,50000")
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--classes", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one is not None:
        print(json.dumps(run_one(args.one, args.dim, args.classes, args.repeats)))
        return 0
    rows = []
    for length in (int(t) for t in args.lengths.split(",")):
        done = subprocess.run(
            [sys.executable, __file__, "--one", str(length), "--dim", str(args.dim),
             "--classes", str(args.classes), "--repeats", str(args.repeats)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"  T = {length}: done", file=sys.stderr, flush=True)
    print(
        f"keras-wsal detect on one video, WSGN float32, D={args.dim}, C={args.classes}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; fastest of "
        f"{args.repeats} after a warm-up\n"
    )
    header = f"{'T':>7} {'forward s':>10} {'µs/snippet':>11} {'rule s':>8} {'µs/snippet':>11}"
    print(header + f" {'segments':>9} {'peak MB':>8}")
    print("-" * (len(header) + 19))
    for row in rows:
        per = 1e6 / row["T"]
        print(
            f"{row['T']:>7} {row['forward_s']:>10.4f} {row['forward_s'] * per:>11.2f} "
            f"{row['detect_s']:>8.4f} {row['detect_s'] * per:>11.2f} {row['segments']:>9} "
            f"{row['peak_growth_mb']:>8.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
