"""Class scores for detection: the curve's top-k mean against the model's video prediction.

Re-detects the test videos of runs that `bench_quality.py` trained (no training) with the
"default" detection rule and three class scores, and prints mAP@0.5 (%, ActivityNet protocol)
per row, the mean over the seeds and each seed's value:

- "top-k": the mean of the top ⌈T/8⌉ values of the curve, classes kept from 0.1;
- "video": the model's video prediction ŷ, classes kept from 0.1;
- "video ≥ 0.05": ŷ, classes kept from 0.05.

The "default" rule takes "video ≥ 0.05", as measured here (README, "Results"); it took "top-k"
for every model but UntrimmedNet before 2026-12-03.

Usage:
    python benchmarks/bench_class_score.py --out q10 --seeds 0,1,2 --rows naive,wsgn,sloc
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def detection_map(rule, outputs, dataset) -> float:
    from keras_wsal.evaluation import evaluate_detection
    from keras_wsal.inference import detection_results

    found = {o.video: rule.detect(o, dataset.feature_fps, dataset.classes) for o in outputs}
    evaluation = evaluate_detection(
        dataset.root / "annotations.json",
        detection_results(found),
        protocol="activitynet",
        tiou_thresholds=(0.5,),
        subset="test",
    )
    return 100 * float(evaluation.mAP[0])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="a bench_quality.py output folder")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--rows", default="naive,wsgn,sloc,zloc,gloc,supervised")
    parser.add_argument("--feature-dim", type=int, default=128)
    args = parser.parse_args(argv)

    import numpy as np

    from keras_wsal.datasets import FeatureDataset
    from keras_wsal.inference import DetectionRule, predict_videos
    from keras_wsal.training import load_run_model

    out, rows = Path(args.out), [r for r in args.rows.split(",") if r]
    seeds = [int(s) for s in args.seeds.split(",")]
    if any(row.startswith("wtalc") for row in rows):
        parser.error("--rows: W-TALC's curve is logits, which the default rule does not threshold")
    # Each variant names both settings: the default rule's own ones change with the defaults.
    variants = {
        "top-k": {"class_score": "top_k", "class_threshold": 0.1},
        "video": {"class_score": "video", "class_threshold": 0.1},
        "video ≥ 0.05": {"class_score": "video", "class_threshold": 0.05},
    }
    scores = {row: {name: [] for name in variants} for row in rows}
    rule = DetectionRule.named("default")
    for seed in seeds:
        dataset = FeatureDataset(out / f"data_seed{seed}_d{args.feature_dim}")
        for row in rows:
            model, _ = load_run_model(out / "runs" / f"seed{seed}" / row)
            outputs = list(predict_videos(model, dataset, "test", batch_size=4))
            for name, changes in variants.items():
                scores[row][name].append(detection_map(rule.replace(**changes), outputs, dataset))
    print(f"{'row':20s} " + " ".join(f"{name:>22s}" for name in variants))
    print(f"{'':20s} " + " ".join(f"{'mean (per seed)':>22s}" for _ in variants))
    for row in rows:
        cells = []
        for name in variants:
            values = np.array(scores[row][name])
            per_seed = "/".join(f"{v:.1f}" for v in values)
            cells.append(f"{values.mean():5.1f} ({per_seed})")
        print(f"{row:20s} " + " ".join(f"{c:>22s}" for c in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
