"""Train WSGN on THUMOS14 I3D features in the W-TALC layout, detect, evaluate under both protocols.

Most weakly supervised work on THUMOS14 trains on the I3D features that W-TALC's authors released
(Paul et al., ECCV 2018; github.com/sujoyp/wtalc-pytorch, "Data" in its README). Put them in one
folder, WTALC_DIR:

    WTALC_DIR/
      Thumos14reduced-I3D-JOINTFeatures.npy     the features (download from W-TALC's data link)
      Thumos14reduced-Annotations/              the annotations (in W-TALC's repository)
        videoname.npy  subset.npy  duration.npy  segments.npy  labels.npy  classlist.npy
        Ambiguous_test.txt

The features file is a pickled NumPy object array with one float array [T, 2048] per video (I3D
rgb then flow, 1024 each; one snippet per 16 frames of 25 fps video, so 25/16 snippets per second),
in the order of `videoname.npy`: 412 videos, 200 "validation" (the training set of weakly
supervised work) and 212 "test". The script checks this before anything else and says what is
wrong if a file is missing or has the wrong shape.

Then, as in WSGN (Fernando et al., WACV 2020, §4.2): import into a keras_wsal dataset
(`keras_wsal.datasets.import_wtalc`; THUMOS14's Ambiguous intervals become "Ambiguous"
annotations), train WSGN (ZLoc + GLoc + SLoc) on "validation" from video-level labels with Adam at
1e-4, weight decay 5e-4, dropout 0.8 on the I3D features, for 80 epochs (W-TALC's batches of 10
videos of at most 750 snippets), detect on "test" with WSGN's rule (for the two classes of
highest video score), and evaluate under both protocols that published numbers come from:

- ActivityNet's `eval_detection.py`: matched at tIoU >= θ, interpolated AP;
- THUMOS14's `TH14evalDet.m`: matched at overlap > θ, detections on Ambiguous intervals dropped,
  non-interpolated AP.

The same detections score differently under the two: when you compare with a paper, use its
protocol. The table also shows what WSGN's paper reports (Table 3, I3D-K) for reference.

    python examples/thumos14_wtalc.py --wtalc WTALC_DIR         # the real thing (GPU advised)
    python examples/thumos14_wtalc.py --wtalc WTALC_DIR --epochs 10 --casl 1.0

Without the features, `--standin DIR` first writes a generated stand-in of the same layout into
DIR and runs on it: the real THUMOS14 annotations of `--standin-videos` videos of each subset
(from `--standin-annotations`: by default the shared annotation folder beside this repository,
else the small fixture of the tests), and random features [T, 2048] (T = duration × 25/16) with
each annotated class's own direction added on its action snippets. CI runs it that way. The
stand-in's 10 training videos make one step per epoch (the real set: 20), so it needs a larger
learning rate than the paper's. Its numbers are low: it checks the pipeline, it is no benchmark.

    python examples/thumos14_wtalc.py --standin thumos14_standin --epochs 60 --learning-rate 1e-3

Outputs in OUT: dataset/ (the imported dataset), runs/wsgn/ (the run folder and
test_detections.json), results.json (both evaluations). Look at: the shape check, the training
loss, and the two mAP columns side by side.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from keras_wsal.errors import DataError, KerasWsalError
from keras_wsal.utils.atomic_files import atomic_output, atomic_write_text

FEATURES_FILE = "Thumos14reduced-I3D-JOINTFeatures.npy"
ANNOTATIONS_DIR = "Thumos14reduced-Annotations"
ANNOTATION_FILES = ("videoname", "subset", "duration", "segments", "labels", "classlist")
AMBIGUOUS_FILE = "Ambiguous_test.txt"
FEATURE_DIM = 2048
FEATURE_FPS = 25 / 16
FULL_SET = {"validation": 200, "test": 212}
TIOU = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
# WSGN (Fernando et al., WACV 2020), Table 3, "Our (I3D-K)": mAP (%) at each tIoU.
PAPER_MAP = (55.3, 48.8, 37.2, 30.2, 21.1, 13.8, 8.2)
PROTOCOL_NAMES = {"activitynet": "ActivityNet", "thumos14": "THUMOS14"}

_REPO = Path(__file__).resolve().parents[1]
STANDIN_SOURCES = (
    _REPO.parent / "shared" / "data" / "thumos14" / "wtalc_Thumos14reduced-Annotations",
    _REPO / "tests" / "datasets" / "fixtures" / "thumos14_mini" / "wtalc",
)


def _load_object_array(path: Path) -> np.ndarray:
    # W-TALC's files are pickled object arrays written by Python 2: trusted files you downloaded.
    try:
        return np.load(path, allow_pickle=True, encoding="latin1")
    except (OSError, ValueError, EOFError) as error:
        raise DataError(f"{path}: not a readable .npy file ({error})") from None


def _save_object_array(path: Path, array: np.ndarray) -> None:
    # Written beside `path` and renamed into place: an interrupted run leaves no half file.
    with atomic_output(path) as file:
        np.save(file, array, allow_pickle=True)


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def check_wtalc_folder(folder: Path) -> dict[str, int]:
    """Check WTALC_DIR's files and the shape of every video's features; print what was found.

    Returns:
        The number of videos of each subset.

    Raises:
        DataError: a missing file, or features that are not one [T, 2048] float array per video.
    """
    features_path = folder / FEATURES_FILE
    annotations = folder / ANNOTATIONS_DIR
    if not features_path.is_file():
        raise DataError(
            f"{features_path} not found: download {FEATURES_FILE} from W-TALC's data link "
            "(github.com/sujoyp/wtalc-pytorch, README) into this folder"
        )
    missing = [
        f"{name}.npy" for name in ANNOTATION_FILES if not (annotations / f"{name}.npy").is_file()
    ]
    if missing:
        raise DataError(
            f"{annotations} lacks {', '.join(missing)}: copy W-TALC's folder {ANNOTATIONS_DIR}/ "
            f"(in its repository) into {folder}"
        )
    videos = [_text(v) for v in _load_object_array(annotations / "videoname.npy")]
    subsets = [_text(s) for s in _load_object_array(annotations / "subset.npy")]
    features = _load_object_array(features_path)
    if features.ndim != 1 or len(features) != len(videos):
        raise DataError(
            f"{features_path}: expected one feature array per video of videoname.npy "
            f"({len(videos)}), got an array of shape {features.shape}"
        )
    lengths = []
    for video, array in zip(videos, features, strict=True):
        array = np.asarray(array)
        if array.ndim != 2 or array.shape[0] < 1 or array.shape[1] != FEATURE_DIM:
            raise DataError(
                f'{features_path}: video "{video}" has features of shape {array.shape}; '
                f"expected [T, {FEATURE_DIM}] with T >= 1 (I3D rgb + flow)"
            )
        if not np.issubdtype(array.dtype, np.floating):
            raise DataError(
                f'{features_path}: video "{video}" has {array.dtype} features; expected floats'
            )
        lengths.append(array.shape[0])
    counts = {subset: subsets.count(subset) for subset in sorted(set(subsets))}
    print(
        f"{features_path.name}: {len(videos)} videos {counts}, each [T, {FEATURE_DIM}], "
        f"T from {min(lengths)} to {max(lengths)} (median {int(np.median(lengths))})"
    )
    if counts != FULL_SET:
        print(
            f"note: the full THUMOS14 set of W-TALC has {sum(FULL_SET.values())} videos {FULL_SET}"
        )
    return counts


def _standin_rows(arrays: dict, videos_per_subset: int) -> list[int]:
    """Rows of `videos_per_subset` videos of each subset, taken from the classes in turn.

    A video counts for the class of its first annotation. Taking the classes in turn (rather than
    the first videos of the file, which is sorted by class) gives both subsets the same classes.
    """
    rows = []
    for subset in ("validation", "test"):
        by_class: dict[str, list[int]] = {}
        for i, (name, labels) in enumerate(zip(arrays["subset"], arrays["labels"], strict=True)):
            if _text(name) == subset and len(labels):
                by_class.setdefault(_text(labels[0]), []).append(i)
        queues = [by_class[label] for label in sorted(by_class)]
        picked = []
        while len(picked) < videos_per_subset and any(queues):
            picked += [queue.pop(0) for queue in queues if queue][: videos_per_subset - len(picked)]
        rows += picked
    return sorted(rows)


def write_standin(
    folder: Path, source: Path, videos_per_subset: int, seed: int = 0, signal: float = 10.0
) -> Path:
    """Write a generated stand-in of WTALC_DIR into `folder` (see the module docstring).

    The annotation files are the rows of `source`'s files for `videos_per_subset` videos of each
    subset (`_standin_rows`); the features of a video of duration d are [⌊d · 25/16⌋, 2048] standard
    normal noise plus `signal` × a unit direction of class c on the snippets (centres) inside a
    segment of class c.
    """
    from keras_wsal.datasets import synthetic_directions

    missing = [f"{n}.npy" for n in ANNOTATION_FILES if not (source / f"{n}.npy").is_file()]
    if missing:
        raise DataError(
            f"--standin-annotations {source}: no W-TALC annotation files ({', '.join(missing)} "
            "missing)"
        )
    arrays = {n: _load_object_array(source / f"{n}.npy") for n in ANNOTATION_FILES}
    rows = _standin_rows(arrays, videos_per_subset)
    out = folder / ANNOTATIONS_DIR
    out.mkdir(parents=True, exist_ok=True)
    for name in ANNOTATION_FILES:
        kept = arrays[name] if name == "classlist" else arrays[name][rows]
        _save_object_array(out / f"{name}.npy", kept)
    videos = [_text(v) for v in arrays["videoname"][rows]]
    if (source / AMBIGUOUS_FILE).is_file():
        lines = (source / AMBIGUOUS_FILE).read_text().splitlines(keepends=True)
        atomic_write_text(
            out / AMBIGUOUS_FILE,
            "".join(line for line in lines if line.split()[:1] and line.split()[0] in videos),
        )

    classes = [_text(c) for c in arrays["classlist"]]
    directions = synthetic_directions(len(classes), FEATURE_DIM, seed=seed)["features"].class_signal
    rng = np.random.default_rng(seed)
    features = np.empty(len(rows), dtype=object)
    for k, i in enumerate(rows):
        num_snippets = max(1, math.floor(float(np.ravel(arrays["duration"][i])[0]) * FEATURE_FPS))
        video = rng.standard_normal((num_snippets, FEATURE_DIM)).astype(np.float32)
        centres = (np.arange(num_snippets) + 0.5) / FEATURE_FPS
        for (start, end), label in zip(arrays["segments"][i], arrays["labels"][i], strict=True):
            inside = (centres >= start) & (centres < end)
            video[inside] += signal * directions[classes.index(_text(label))].astype(np.float32)
        features[k] = video
    _save_object_array(folder / FEATURES_FILE, features)
    print(f"wrote a stand-in of {len(rows)} videos to {folder} (annotations from {source})")
    return folder


def _table(evaluations: dict) -> str:
    header = ["tIoU", *(PROTOCOL_NAMES[p] for p in evaluations), "WSGN paper (I3D-K)"]
    rows = [
        [
            f"{t:.1f}",
            *(f"{100 * e.mAP[i]:.1f}" for e in evaluations.values()),
            f"{PAPER_MAP[i]:.1f}",
        ]
        for i, t in enumerate(TIOU)
    ]
    rows.append(
        [
            "avg",
            *(f"{100 * e.average_mAP:.1f}" for e in evaluations.values()),
            f"{np.mean(PAPER_MAP):.1f}",
        ]
    )
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True))
        for row in [header, *rows]
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> None:
    from keras_wsal.datasets import FeatureDataset, import_wtalc
    from keras_wsal.evaluation import PROTOCOLS, evaluate_detection
    from keras_wsal.inference import DetectionRule, predict_videos, write_detection_results
    from keras_wsal.training import TrainConfig, train

    out = Path(args.out)
    if args.standin is not None:
        source = (
            Path(args.standin_annotations)
            if args.standin_annotations
            else next((path for path in STANDIN_SOURCES if path.is_dir()), None)
        )
        if source is None:
            raise DataError(
                "no annotations to build a stand-in from: give --standin-annotations DIR"
            )
        folder = write_standin(Path(args.standin), source, args.standin_videos, args.seed)
    else:
        folder = Path(args.wtalc)

    # 1. Check the files, then import them into a keras_wsal dataset (written once, then reused).
    check_wtalc_folder(folder)
    data = out / "dataset"
    if (data / "meta.json").is_file():
        print(f"reusing the imported dataset {data} (delete it to import again)")
    else:
        import_wtalc(
            folder / FEATURES_FILE, folder / ANNOTATIONS_DIR, data, feature_fps=FEATURE_FPS
        )
        print(f"imported into {data}")
    dataset = FeatureDataset(data)

    # 2. Train on "validation" from video-level labels, with the paper's settings.
    config = TrainConfig(
        data=str(data),
        subset="validation",
        model="wsgn",
        out=str(out / "runs" / "wsgn"),
        recipe="paper",
        epochs=args.epochs,
        batch_size=10,
        max_length=750,
        norms=("zloc", "gloc", "sloc"),
        casl=args.casl,
        seed=args.seed,
        optimizer="adam",
        learning_rate=args.learning_rate,
        weight_decay=5e-4,
        dropout=0.8,
    )
    result = train(config, verbose=0 if args.quiet else "auto")
    losses = result.history.get("loss", [])
    if losses:
        print(f"trained {result.steps} steps; loss {losses[0]:.4f} → {losses[-1]:.4f}")

    # 3. Detect on "test" with WSGN's rule (g ⊙ softmax(h_cls) ≥ half its maximum, segments ≥ 1 s)
    # for the 2 classes of highest video score (a THUMOS14 video has 1 to 3). WSGN's ŷ averages
    # over the whole video, so a class whose actions fill a tenth of it scores low: a fixed
    # threshold on ŷ would skip it.
    rule = DetectionRule.named("wsgn").replace(class_threshold=None, class_top_k=2)
    detections = {}
    for outputs in predict_videos(result.model, dataset, "test", batch_size=4):
        detections[outputs.video] = rule.detect(outputs, dataset.feature_fps, dataset.classes)
    results_file = result.run_dir / "test_detections.json"
    write_detection_results(results_file, detections)
    print(
        f"{sum(map(len, detections.values()))} detections in {len(detections)} test videos → "
        f"{results_file}"
    )

    # 4. Evaluate the same detections under both protocols.
    evaluations = {
        protocol: evaluate_detection(
            data / "annotations.json",
            results_file,
            protocol=protocol,
            tiou_thresholds=TIOU,
            subset="test",
        )
        for protocol in PROTOCOLS
    }
    print("\ndetection mAP (%) on THUMOS14 test")
    print(_table(evaluations))
    atomic_write_text(
        out / "results.json",
        json.dumps({p: e.to_dict() for p, e in evaluations.items()}, indent=1) + "\n",
    )
    print(f"\nwrote {out / 'results.json'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--wtalc", metavar="WTALC_DIR", help="the folder with W-TALC's files")
    source.add_argument(
        "--standin", metavar="DIR", help="write a generated stand-in here and use it"
    )
    parser.add_argument(
        "--standin-annotations",
        metavar="DIR",
        default=None,
        help="W-TALC annotation files to take the stand-in's videos from",
    )
    parser.add_argument("--standin-videos", type=int, default=10, help="stand-in videos per subset")
    parser.add_argument("--out", default="thumos14_output", help="output folder")
    parser.add_argument("--epochs", type=int, default=80)
    parser.add_argument(
        "--learning-rate", type=float, default=1e-4, help="Adam's (the paper's: 1e-4)"
    )
    parser.add_argument(
        "--casl",
        type=float,
        default=0.0,
        help="weight of W-TALC's co-activity loss CASL (0 = off; the paper's +CASL row uses it)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        run(args)
    except KerasWsalError as error:
        print(f"thumos14_wtalc: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
