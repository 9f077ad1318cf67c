"""`keras-wsal demo`: the whole weakly supervised pipeline on a generated dataset."""

from __future__ import annotations

import argparse

from keras_wsal.cli._arguments import positive_int

HELP = "generate a dataset, train, detect, evaluate, print the table and draw plots"
DESCRIPTION = """\
The main job of keras_wsal, end to end, on an embedded default: a seeded synthetic dataset of
untrimmed videos (snippet features with planted action instances, scene context and noise) is
written to OUT/dataset; each model variant is trained on its "validation" subset from video-level
labels only, detects actions in the "test" subset, and is evaluated (ActivityNet protocol,
tIoU 0.1-0.7, plus video-level recognition mAP). The table is printed and saved as
OUT/results.json; per-video plots go to OUT/runs/VARIANT/plots/.

examples:
  keras-wsal demo
  keras-wsal demo --out demo_output --variants Naive,Complete,"UntrimmedNet soft" --steps 1000
  keras-wsal demo --variants all          (the variants of examples/wsgn_ablation.py)
"""

DEFAULT_VARIANTS = "Naive,Complete,W-TALC"


NEEDS_BACKEND = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="demo_output", help="output folder (default: demo_output)")
    parser.add_argument("--variants", default=DEFAULT_VARIANTS, help="comma-separated, or 'all'")
    parser.add_argument(
        "--steps",
        type=positive_int,
        default=None,
        help="training steps per variant (default: the recipe's)",
    )
    parser.add_argument(
        "--videos", type=positive_int, default=None, help="training videos (test: a third)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plots", type=int, default=2, help="test videos to draw per variant")


def run(args) -> int:
    import dataclasses
    import time
    from pathlib import Path

    from keras_wsal.errors import DataError
    from keras_wsal.experiments import ablation

    names = (
        list(ablation.VARIANTS)
        if args.variants == "all"
        else [v.strip() for v in args.variants.split(",") if v.strip()]
    )
    unknown = [v for v in names if v not in ablation.VARIANTS]
    if unknown or not names:
        raise DataError(
            f"--variants: unknown {unknown}; choose among {list(ablation.VARIANTS)} or 'all'"
        )
    out = Path(args.out)
    settings = dataclasses.replace(ablation.DemoSettings(), seed=args.seed)
    if args.steps is not None:
        settings = dataclasses.replace(settings, steps=args.steps)
    if args.videos is not None:
        settings = dataclasses.replace(
            settings, train_videos=args.videos, test_videos=max(2, args.videos // 3)
        )
    print(f"writing the synthetic dataset to {out / 'dataset'}", flush=True)
    dataset = ablation.make_demo_dataset(out / "dataset", settings)
    print(
        f"  {len(dataset.videos('validation'))} training and {len(dataset.videos('test'))} test "
        "videos, "
        f"{len(dataset.classes)} classes, {dataset.feature_fps:g} snippets/s",
        flush=True,
    )
    results = []
    for number, name in enumerate(names, start=1):
        run_dir = ablation.variant_run_dir(out / "runs", name)
        finished = (run_dir / "model.keras").exists()
        doing = "reusing its finished run" if finished else "training"
        print(
            f"[{number}/{len(names)}] {name}: {doing} ({run_dir}), detecting, evaluating",
            flush=True,
        )
        started = time.perf_counter()
        result = ablation.run_demo_variant(name, out, settings, plots=args.plots)
        results.append(result)
        seconds = time.perf_counter() - started
        print(
            f"  {seconds:.0f} s; average mAP {100 * result.average_mAP:.1f} %, "
            f"video mAP {100 * result.video_mAP:.1f} %",
            flush=True,
        )
    table = ablation.format_table(results)
    print("\nDetection mAP (%) at tIoU, ActivityNet protocol, and video-level mAP (%):\n")
    print(table)
    ablation.save_results(out / "results.json", results)
    print(f"\nresults: {out / 'results.json'}; plots: {out / 'runs'}/*/plots/")
    return 0
