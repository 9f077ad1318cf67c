"""Localisation quality of every model with the package's defaults, on THUMOS14-structure data.

Generates, per data seed, a synthetic dataset with `keras_wsal.datasets.THUMOS14_LIKE`: the real
THUMOS14 videos (200 validation videos to train on, 212 test videos), their real durations and
action instances at their real times, 20 classes whose sports share scenes and part of their
evidence in groups (the two cricket classes, the throws, the jumps, diving and cliff diving, ...),
scene context on every snippet, class evidence that peaks at a key moment inside an instance,
weak instances, unlabeled look-alike events and generic motion in the background, per-video
offsets and temporally correlated noise (`keras_wsal.datasets.synthetic`).

Each row trains with `keras-wsal train` (the package's defaults, or the flags shown), detects on
the test videos with the rule `keras-wsal detect` uses (`DetectionRule.for_model`: the model's
default, or its paper's rule for the paper rows), and evaluates with both protocols (ActivityNet's
`eval_detection.py` semantics and the THUMOS14 toolkit's), plus video-level mAP. The table prints
the mean over the data seeds and, after ±, half the range (max − min) / 2.

The sweep then re-detects every default row's test outputs (of the `--sweep-seeds`) with variants
of its rule (one setting changed at a time, plus each paper rule) and prints how far the default
is from the best variant at mAP@0.5 (ActivityNet protocol). Rows whose recipe keeps the best
held-out round are also evaluated at their last checkpoint (`last_checkpoint` in results.json),
which measures what the stopping rule gains.

`--redetect` re-detects and re-evaluates rows already trained in `--out` with today's detection
rules, without training again (for a change that touches detection only).

Each row of each seed runs as its own process (`--jobs` at a time, the CPU cores shared out).

Usage:
    python benchmarks/bench_quality.py --out bench_quality --feature-dim 128   # the README's table
    python benchmarks/bench_quality.py --out /tmp/q --seeds 0 --rows naive,wsgn --feature-dim 64
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

TIOU = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
# key → (label, model, extra `keras-wsal train` flags, detection: the model's "default" or "paper"
# rule)
ROWS = {
    "naive": ("Naive (eq. 1, BCE)", "naive", [], "default"),
    "sloc": ("WSGN SLoc", "wsgn", ["--norms", "sloc"], "default"),
    "zloc": ("WSGN ZLoc", "wsgn", ["--norms", "zloc"], "default"),
    "gloc": ("WSGN GLoc", "wsgn", ["--norms", "gloc"], "default"),
    "wsgn": ("WSGN complete", "wsgn", [], "default"),
    "unet-hard": ("UntrimmedNet hard", "untrimmednet-hard", [], "default"),
    "unet-soft": ("UntrimmedNet soft", "untrimmednet-soft", [], "default"),
    "wtalc": ("W-TALC (keras_wsal parts)", "wtalc", [], "default"),
    "supervised": ("Supervised (frame labels)", "supervised", [], "default"),
    # The frame-supervised ceiling with WSGN's frame selection (its default before 2026-12-03).
    "supervised-wsgn": (
        "Supervised, --norms zloc,gloc,sloc",
        "supervised",
        ["--norms", "zloc,gloc,sloc"],
        "default",
    ),
    "naive-paper": ("Naive, --recipe paper", "naive", ["--recipe", "paper"], "paper"),
    "wsgn-paper": ("WSGN complete, --recipe paper", "wsgn", ["--recipe", "paper"], "paper"),
    "unet-soft-paper": (
        "UntrimmedNet soft, --recipe paper",
        "untrimmednet-soft",
        ["--recipe", "paper"],
        "paper",
    ),
    "unet-hard-paper": (
        "UntrimmedNet hard, --recipe paper",
        "untrimmednet-hard",
        ["--recipe", "paper"],
        "paper",
    ),
    "wtalc-paper": ("W-TALC, --recipe paper", "wtalc", ["--recipe", "paper"], "paper"),
    # One change each to a default row (issue 10): W-TALC's CASL pairing, ZLoc's statistics over
    # the whole video in training as at test time, WSGN's temporal augmentation.
    "wtalc-pairs": ("W-TALC, --casl-pairs 3", "wtalc", ["--casl-pairs", "3"], "default"),
    "wsgn-whole": ("WSGN complete, --max-length none", "wsgn", ["--max-length", "none"], "default"),
    "wsgn-stride": ("WSGN complete, --frame-stride 5", "wsgn", ["--frame-stride", "5"], "default"),
    "naive-stride": ("Naive, --frame-stride 5", "naive", ["--frame-stride", "5"], "default"),
    "wsgn-long": ("WSGN complete, --steps 4000", "wsgn", ["--steps", "4000"], "default"),
    "naive-long": ("Naive, --steps 4000", "naive", ["--steps", "4000"], "default"),
    "wsgn-stride3": ("WSGN complete, --frame-stride 3", "wsgn", ["--frame-stride", "3"], "default"),
    # The default rows again in float32 (issue 13: "auto", bfloat16 on this CPU, is the default).
    "naive-fp32": ("Naive, float32", "naive", ["--precision", "float32"], "default"),
    "wsgn-fp32": ("WSGN complete, float32", "wsgn", ["--precision", "float32"], "default"),
}


def sweep_variants(rule) -> dict:
    """Variants of `rule`, one setting changed at a time, plus the paper rules, by name."""
    from keras_wsal.inference import DetectionRule

    variants = {"(default)": rule}
    if rule.name == "wtalc":
        options = {
            "thresholds 0.3,0.5,0.7": {"thresholds": (0.3, 0.5, 0.7)},
            "smoothing 3": {"smoothing": 3},
            "NMS 0.5": {"nms_threshold": 0.5},
            "outer-inner scores": {"segment_score": "outer_inner"},
        }
    else:
        other_curve = "detection_scores" if rule.curve == "snippet_scores" else "snippet_scores"
        other_score = "top_k" if rule.class_score == "video" else "video"
        options = {
            f"curve: {other_curve}": {"curve": other_curve},
            "threshold 0.5 only": {"thresholds": (0.5,)},
            "thresholds 0.3,0.5,0.7": {"thresholds": (0.3, 0.5, 0.7)},
            "no smoothing": {"smoothing": 1},
            "smoothing 5": {"smoothing": 5},
            f"class score: {other_score}": {"class_score": other_score},
            "class threshold 0.02": {"class_threshold": 0.02},
            "class threshold 0.05": {"class_threshold": 0.05},
            "class threshold 0.1": {"class_threshold": 0.1},
            "class threshold 0.2": {"class_threshold": 0.2},
            "mean scores": {"segment_score": "mean"},
            "no score fusion": {"video_score_fusion": "none"},
            "NMS 0.2": {"nms_threshold": 0.2},
            "NMS 0.3": {"nms_threshold": 0.3},
            "NMS 0.5": {"nms_threshold": 0.5},
            "no NMS": {"nms_threshold": None},
        }
    for name, changes in options.items():
        variants[name] = rule.replace(**changes)
    for name in ("wsgn", "untrimmednet", "wtalc"):
        variants[f"rule {name}"] = DetectionRule.named(name)
    return variants


# -- one row of one seed, in its own process ----------------------------------------------------
def _train(data: str, model_name: str, run_dir: str, flags: list[str]) -> float:
    """`keras-wsal train` of one row on the validation videos; its seconds."""
    from keras_wsal.cli import main as cli

    start = time.perf_counter()
    argv = ["train", "--data", data, "--subset", "validation", "--model", model_name]
    argv += ["--out", run_dir, "--quiet", *flags]
    if cli(argv) != 0:
        raise RuntimeError(f"keras-wsal {' '.join(argv)} failed")
    return time.perf_counter() - start


def run_job(data: str, row: str, run_dir: str, sweep: bool, detect_only: bool = False) -> dict:
    import numpy as np

    from keras_wsal.datasets import FeatureDataset
    from keras_wsal.evaluation import evaluate_detection, evaluate_recognition
    from keras_wsal.inference import (
        DetectionRule,
        detection_results,
        predict_videos,
        recognition_results,
    )
    from keras_wsal.training import load_run_model

    label, model_name, flags, rule_kind = ROWS[row]
    if detect_only:
        train_seconds = json.loads((Path(run_dir) / "bench_result.json").read_text())[
            "train_seconds"
        ]
    else:
        train_seconds = _train(data, model_name, run_dir, flags)
    dataset = FeatureDataset(data)
    model, _ = load_run_model(run_dir)
    outputs = list(predict_videos(model, dataset, "test", batch_size=4))
    truth = dataset.root / "annotations.json"

    def evaluate(rule, protocols=("activitynet", "thumos14")) -> dict:
        found = {o.video: rule.detect(o, dataset.feature_fps, dataset.classes) for o in outputs}
        results = detection_results(found)
        scores = {}
        for protocol in protocols:
            evaluation = evaluate_detection(
                truth, results, protocol=protocol, tiou_thresholds=TIOU, subset="test"
            )
            scores[protocol] = [float(m) for m in evaluation.mAP]
        return scores

    rule = DetectionRule.for_model(model, rule_kind)
    result = {"row": row, "label": label, "rule": rule.name, "train_seconds": train_seconds}
    result.update(evaluate(rule))
    video_scores = {o.video: np.asarray(o.video_scores) for o in outputs}
    recognition = evaluate_recognition(
        truth, recognition_results(video_scores, dataset.classes), subset="test"
    )
    result["video_mAP"] = float(recognition.mAP)
    selection = Path(run_dir) / "selection.json"
    result["selection"] = json.loads(selection.read_text()) if selection.exists() else None
    if result["selection"]:
        result["selection"].pop("videos", None)
    if result["selection"]:
        # The stopping rule's worth: the same model at the last checkpoint instead of the kept one.
        import tensorflow as tf

        latest = tf.train.latest_checkpoint(str(Path(run_dir) / "checkpoints"))
        tf.train.Checkpoint(model=model).restore(latest).expect_partial()
        kept_outputs, outputs[:] = (
            list(outputs),
            list(predict_videos(model, dataset, "test", batch_size=4)),
        )
        result["last_checkpoint"] = evaluate(rule, ("activitynet",))["activitynet"]
        outputs[:] = kept_outputs
    if sweep:
        result["sweep"] = {
            name: evaluate(variant, ("activitynet",))["activitynet"]
            for name, variant in sweep_variants(rule).items()
        }
    return result


# -- the whole table ---------------------------------------------------------------------------
def make_data(root: Path, seed: int, feature_dim: int) -> Path:
    from keras_wsal.datasets import THUMOS14_LIKE, FeatureDataset, make_synthetic_dataset

    path = root / f"data_seed{seed}_d{feature_dim}"
    if (path / "meta.json").exists():
        try:
            FeatureDataset(path)
            return path
        except Exception:  # a half-written folder from a killed run: write it again
            pass
    make_synthetic_dataset(path, feature_dim=feature_dim, seed=seed, **THUMOS14_LIKE)
    return path


def _spread(values: list[float]) -> str:
    mean = sum(values) / len(values)
    half_range = (max(values) - min(values)) / 2
    return f"{100 * mean:4.1f}±{100 * half_range:3.1f}"


def format_table(results: dict, rows: list[str], protocol: str) -> str:
    header = (
        f"{'model':34s} " + " ".join(f"{t:>9.1f}" for t in TIOU) + f" {'avg':>9s} {'video mAP':>9s}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        runs = results.get(row, [])
        if not runs:
            continue
        cells = [_spread([r[protocol][i] for r in runs]) for i in range(len(TIOU))]
        average = _spread([sum(r[protocol]) / len(TIOU) for r in runs])
        video = _spread([r["video_mAP"] for r in runs])
        lines.append(
            f"{ROWS[row][0]:34s} "
            + " ".join(f"{c:>9s}" for c in cells)
            + f" {average:>9s} {video:>9s}"
        )
    return "\n".join(lines)


def format_sweep(results: dict, rows: list[str]) -> str:
    at = TIOU.index(0.5)
    lines = [
        f"{'model':34s} {'default':>9s} {'best variant':>30s} {'best':>9s} {'gap':>6s}",
        "-" * 93,
    ]
    for row in rows:
        runs = [r for r in results.get(row, []) if "sweep" in r]
        if not runs:
            continue
        names = list(runs[0]["sweep"])
        means = {n: sum(r["sweep"][n][at] for r in runs) / len(runs) for n in names}
        best = max(names, key=lambda n: means[n])
        default = means["(default)"]
        lines.append(
            f"{ROWS[row][0]:34s} {100 * default:9.1f} {best:>30s} {100 * means[best]:9.1f} "
            f"{100 * (means[best] - default):6.1f}"
        )
    return "\n".join(lines)


def format_stopping(results: dict, rows: list[str]) -> str:
    at = TIOU.index(0.5)
    lines = [f"{'model':34s} {'kept round':>12s} {'last round':>12s}", "-" * 60]
    for row in rows:
        runs = [r for r in results.get(row, []) if "last_checkpoint" in r]
        if runs:
            kept = _spread([r["activitynet"][at] for r in runs])
            last = _spread([r["last_checkpoint"][at] for r in runs])
            lines.append(f"{ROWS[row][0]:34s} {kept:>12s} {last:>12s}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    job = sub.add_parser("job", help="(internal) one row of one seed")
    job.add_argument("--data", required=True)
    job.add_argument("--row", required=True, choices=list(ROWS))
    job.add_argument("--run", required=True)
    job.add_argument("--sweep", action="store_true")
    job.add_argument("--detect-only", action="store_true")
    parser.add_argument("--out", default="bench_quality", help="data, runs and results.json")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument(
        "--rows", default=",".join(ROWS), help=f"comma-separated among {list(ROWS)}"
    )
    parser.add_argument("--feature-dim", type=int, default=256)
    parser.add_argument("--jobs", type=int, default=2, help="rows trained at once")
    parser.add_argument(
        "--sweep-seeds", default="0", help="seeds whose default rows are swept ('' for none)"
    )
    parser.add_argument(
        "--redetect",
        action="store_true",
        help="re-detect rows already trained in --out with today's rules (no training)",
    )
    args = parser.parse_args(argv)

    if args.command == "job":
        result = run_job(args.data, args.row, args.run, args.sweep, args.detect_only)
        Path(args.run, "bench_result.json").write_text(json.dumps(result, indent=1) + "\n")
        return 0

    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        parser.error(f"--rows: unknown {unknown}; choose among {list(ROWS)}")
    seeds = [int(s) for s in args.seeds.split(",")]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    data = {seed: make_data(out, seed, args.feature_dim) for seed in seeds}
    print(f"data: {len(seeds)} seeds written in {time.perf_counter() - started:.0f} s", flush=True)

    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    env = dict(os.environ, TF_NUM_INTRAOP_THREADS=str(threads), TF_NUM_INTEROP_THREADS="1")
    pending = [(seed, row) for seed in seeds for row in rows]
    running: list[tuple[subprocess.Popen, int, str]] = []
    results: dict[str, list] = {}
    while pending or running:
        while pending and len(running) < args.jobs:
            seed, row = pending.pop(0)
            run = out / "runs" / f"seed{seed}" / row
            trained = (run / "bench_result.json").exists()
            if trained and not args.redetect:
                results.setdefault(row, []).append(
                    json.loads((run / "bench_result.json").read_text())
                )
                continue
            command = [
                sys.executable,
                __file__,
                "job",
                "--data",
                str(data[seed]),
                "--row",
                row,
                "--run",
                str(run),
            ]
            if str(seed) in args.sweep_seeds.split(",") and ROWS[row][3] == "default":
                command.append("--sweep")
            if trained:
                command.append("--detect-only")
            log = open(out / f"job_seed{seed}_{row}.log", "w")  # noqa: SIM115 (closed with the process)
            running.append(
                (
                    subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT),
                    seed,
                    row,
                )
            )
        time.sleep(1)
        for process, seed, row in list(running):
            if process.poll() is None:
                continue
            running.remove((process, seed, row))
            run = out / "runs" / f"seed{seed}" / row
            if process.returncode != 0:
                print(
                    f"  {row} seed {seed}: FAILED (see {out}/job_seed{seed}_{row}.log)", flush=True
                )
                continue
            result = json.loads((run / "bench_result.json").read_text())
            results.setdefault(row, []).append(result)
            print(
                f"  {row} seed {seed}: mAP@0.5 {100 * result['activitynet'][4]:.1f}, "
                f"trained in {result['train_seconds']:.0f} s ({time.perf_counter() - started:.0f} "
                "s so far)",
                flush=True,
            )
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    for protocol in ("activitynet", "thumos14"):
        print(
            f"\nDetection mAP (%) at tIoU, {protocol} protocol, and video-level mAP (%); mean ± "
            f"half range over seeds {seeds}:\n"
        )
        print(format_table(results, rows, protocol))
    print(
        "\nDetection settings: each default row's rule against one-setting variants, mAP@0.5 (%), "
        "ActivityNet protocol:\n"
    )
    print(format_sweep(results, rows))
    print(
        "\nThe stopping rule: mAP@0.5 (%) of the kept (best held-out) round against the last "
        "round:\n"
    )
    print(format_stopping(results, rows))
    print(f"\n{time.perf_counter() - started:.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
