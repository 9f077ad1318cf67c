"""Class scores for detection: the curve's top-k mean against the model's video prediction.

Re-detects the test videos of runs that `bench_quality.py` trained (no training) with each
model's default rule and with the same rule taking its class scores from the video prediction
(`class_score="video"`), and prints mAP@0.5 (%, ActivityNet protocol) per row and seed.

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
    scores = {row: {"top_k": [], "video": []} for row in rows}
    for seed in seeds:
        dataset = FeatureDataset(out / f"data_seed{seed}_d{args.feature_dim}")
        for row in rows:
            model, _ = load_run_model(out / "runs" / f"seed{seed}" / row)
            outputs = list(predict_videos(model, dataset, "test", batch_size=4))
            rule = DetectionRule.for_model(model)
            for name, variant in (("top_k", rule), ("video", rule.replace(class_score="video"))):
                scores[row][name].append(detection_map(variant, outputs, dataset))
    print(f"{'row':20s} {'top-k':>6s} {'video':>6s}  video - top-k per seed {seeds}")
    for row in rows:
        top_k, video = np.array(scores[row]["top_k"]), np.array(scores[row]["video"])
        change = " ".join(f"{d:+.1f}" for d in video - top_k)
        print(f"{row:20s} {top_k.mean():6.1f} {video.mean():6.1f}  {change}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
