"""Train, detect and evaluate several model variants on one dataset, and tabulate the results.

The variants of WSGN's ablation (Table 2 of the paper) and both UntrimmedNet selections. Used by
`keras-wsal demo` and by `examples/wsgn_ablation.py`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

from keras_wsal.utils.atomic_files import atomic_write_text

# name → (model, norms), in the order of WSGN's Table 2, then UntrimmedNet.
VARIANTS = {
    "Naive": ("naive", ()),
    "SLoc": ("wsgn", ("sloc",)),
    "ZLoc": ("wsgn", ("zloc",)),
    "GLoc": ("wsgn", ("gloc",)),
    "SLoc+GLoc": ("wsgn", ("sloc", "gloc")),
    "ZLoc+GLoc": ("wsgn", ("zloc", "gloc")),
    "Complete": ("wsgn", ("zloc", "gloc", "sloc")),
    "UntrimmedNet hard": ("untrimmednet-hard", ()),
    "UntrimmedNet soft": ("untrimmednet-soft", ()),
    "W-TALC": ("wtalc", ()),
    "Supervised": ("supervised", ()),
}
TIOU = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)


@dataclasses.dataclass(frozen=True)
class DemoSettings:
    """The embedded default of `keras-wsal demo` and `examples/wsgn_ablation.py`.

    A synthetic dataset (`keras_wsal.datasets.make_synthetic_dataset` with its default signal
    strengths: class evidence on action snippets, per-class scene context on every snippet,
    temporally correlated noise) of `num_classes` classes, `train_videos` "validation" and
    `test_videos` "test" videos; every variant trains with `keras-wsal train`'s defaults (its
    model's default recipe), or for `steps` steps when given.
    """

    seed: int = 0
    num_classes: int = 8
    train_videos: int = 120
    test_videos: int = 40
    steps: int | None = None


@dataclasses.dataclass
class VariantResult:
    """One variant's scores: detection mAP per tIoU (fractions), their mean, video-level mAP."""

    name: str
    mAP: list[float]
    average_mAP: float
    video_mAP: float
    run_dir: str
    results_file: str


def variant_run_dir(out: str | Path, name: str) -> Path:
    """The run folder of the variant `name` under `out`."""
    return Path(out) / name.lower().replace(" ", "_").replace("+", "_")


def run_variant(
    name: str,
    data: str | Path,
    out: str | Path,
    train_subset: str = "validation",
    test_subset: str = "test",
    steps: int | None = None,
    seed: int = 0,
    protocol: str = "activitynet",
    plots: int = 0,
    verbose=0,
) -> VariantResult:
    """Train the variant `name` (a key of `VARIANTS`), detect on `test_subset`, evaluate.

    Every variant trains with its model's default recipe (`keras_wsal.training.recipes`; `steps`
    overrides its length) and detects with its model's default rule
    (`keras_wsal.inference.DetectionRule.for_model`), as `keras-wsal train` and `keras-wsal
    detect` do with their defaults. With `plots > 0`, the first `plots` test videos
    are drawn (`keras_wsal.plotting.plot_video`) into `RUN_DIR/plots/VIDEO.png`.
    """
    from keras_wsal.datasets import FeatureDataset
    from keras_wsal.evaluation import evaluate_detection, evaluate_recognition
    from keras_wsal.inference import (
        DetectionRule,
        predict_videos,
        recognition_results,
        write_detection_results,
    )
    from keras_wsal.plotting import plot_video
    from keras_wsal.training import TrainConfig, train

    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}; expected one of {list(VARIANTS)}")
    model_name, norms = VARIANTS[name]
    run_dir = variant_run_dir(out, name)
    config = TrainConfig(
        data=str(data),
        subset=train_subset,
        model=model_name,
        out=str(run_dir),
        steps=steps,
        norms=norms,
        seed=seed,
    )
    model = train(config, verbose=verbose).model
    dataset = FeatureDataset(data)
    rule = DetectionRule.for_model(model)
    detections, video_scores = {}, {}
    annotations = json.loads((dataset.root / "annotations.json").read_text())["database"]
    for index, outputs in enumerate(predict_videos(model, dataset, test_subset, batch_size=4)):
        found = rule.detect(outputs, dataset.feature_fps, dataset.classes)
        detections[outputs.video] = found
        video_scores[outputs.video] = outputs.video_scores
        if index < plots:
            plot_video(
                run_dir / "plots" / f"{outputs.video}.png",
                outputs.video,
                annotations[outputs.video]["annotations"],
                found,
                outputs.snippet_scores,
                outputs.selection,
                dataset.feature_fps,
                dataset.classes,
                duration=dataset.duration(outputs.video),
                title=f"{name} ({model_name}, {rule.name} rule)",
            )
    results_file = run_dir / f"{test_subset}_detections.json"
    write_detection_results(results_file, detections)
    ground_truth = dataset.root / "annotations.json"
    evaluation = evaluate_detection(
        ground_truth, results_file, protocol=protocol, tiou_thresholds=TIOU, subset=test_subset
    )
    recognition = evaluate_recognition(
        ground_truth, recognition_results(video_scores, dataset.classes), subset=test_subset
    )
    return VariantResult(
        name,
        list(evaluation.mAP),
        float(evaluation.average_mAP),
        float(recognition.mAP),
        str(run_dir),
        str(results_file),
    )


def make_demo_dataset(root: str | Path, settings: DemoSettings = DemoSettings()):
    """Write the demo's synthetic dataset to `root` (reused if already written with `settings`)."""
    from keras_wsal.datasets import FeatureDataset, make_synthetic_dataset
    from keras_wsal.errors import DataError

    root = Path(root)
    subsets = {"validation": settings.train_videos, "test": settings.test_videos}
    if (root / "meta.json").exists():
        try:
            existing = FeatureDataset(root)
        except DataError:
            existing = None
        synthetic = existing.meta.get("synthetic", {}) if existing else {}
        if (
            synthetic.get("seed") == settings.seed
            and synthetic.get("subsets") == subsets
            and len(existing.classes) == settings.num_classes
        ):
            return existing
    return make_synthetic_dataset(
        root, num_classes=settings.num_classes, subsets=subsets, seed=settings.seed
    )


def run_demo_variant(
    name: str, out: str | Path, settings: DemoSettings = DemoSettings(), plots: int = 0, verbose=0
):
    """`run_variant` on the demo dataset in `out/dataset`, runs in `out/runs`."""
    out = Path(out)
    return run_variant(
        name,
        out / "dataset",
        out / "runs",
        steps=settings.steps,
        seed=settings.seed,
        plots=plots,
        verbose=verbose,
    )


def format_table(results: Sequence[VariantResult], tiou: Sequence[float] = TIOU) -> str:
    """A text table: one row per variant, mAP (%) per tIoU, their mean and the video mAP (%)."""
    header = ["Method", *(f"{t:.1f}" for t in tiou), "avg", "video mAP"]
    rows = [
        [
            r.name,
            *(f"{100 * m:.1f}" for m in r.mAP),
            f"{100 * r.average_mAP:.1f}",
            f"{100 * r.video_mAP:.1f}",
        ]
        for r in results
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in [header, *rows]
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def save_results(path: str | Path, results: Sequence[VariantResult]) -> None:
    """Write the results as JSON (a list of `VariantResult` dicts), atomically."""
    atomic_write_text(path, json.dumps([dataclasses.asdict(r) for r in results], indent=1) + "\n")
