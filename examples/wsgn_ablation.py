"""Reproduce the ablation of WSGN (Table 2 of the paper) on a generated dataset.

Trains the Naive baseline, the WSGN variants (SLoc, ZLoc, GLoc, SLoc+GLoc, ZLoc+GLoc, Complete),
UntrimmedNet with hard and soft selection, W-TALC, and WSGN's frame-supervised upper bound on the
same synthetic untrimmed-video dataset (the weak models from video-level labels only), each with
the package's default recipe; detects actions in the test videos with each model's default rule;
and prints detection mAP (%) at tIoU 0.1 … 0.7 (ActivityNet protocol) and video-level mAP (%).
`benchmarks/bench_quality.py` is the harder, THUMOS14-structured version of this table.

    python examples/wsgn_ablation.py                          # the full default
    python examples/wsgn_ablation.py --steps 100 --videos 24  # a quick look

Outputs: OUT/results.json (the table as JSON), OUT/runs/VARIANT/ (each run folder, its test
detections and plots of the first test videos).
"""

import argparse
import dataclasses
import sys

from keras_wsal.experiments import ablation


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default="ablation_output")
    parser.add_argument(
        "--steps", type=int, default=None, help="training steps (default: the recipe's)"
    )
    parser.add_argument(
        "--videos", type=int, default=ablation.DemoSettings.train_videos, help="training videos"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variants", default="all", help="comma-separated names, or 'all'")
    parser.add_argument("--plots", type=int, default=2)
    args = parser.parse_args(argv)
    settings = dataclasses.replace(
        ablation.DemoSettings(),
        seed=args.seed,
        steps=args.steps,
        train_videos=args.videos,
        test_videos=max(4, args.videos // 3),
    )
    names = list(ablation.VARIANTS) if args.variants == "all" else args.variants.split(",")
    ablation.make_demo_dataset(f"{args.out}/dataset", settings)
    results = []
    for name in names:
        print(f"{name} ...", flush=True)
        results.append(ablation.run_demo_variant(name, args.out, settings, plots=args.plots))
    print()
    print(ablation.format_table(results))
    ablation.save_results(f"{args.out}/results.json", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
