"""From a folder of videos to temporal detections: extract → label → train → detect → plot.

The whole path a new user takes with their own videos, with the `keras-wsal` command line. Each
step is run here in-process with `keras_wsal.cli.main([...])`, and the script prints the shell
command that does the same (`$ keras-wsal ...`) before running it: copy those lines to run the
steps yourself.

1. Extract (`keras-wsal extract VIDEOS DATASET`): decode every video, cut it into snippets, and
   run the two streams of a backbone on each snippet: the spatial stream on the snippet's centre
   frame, the temporal stream on a stack of 5 optical flows. DATASET receives
   `features/rgb/VIDEO.npy`, `features/flow/VIDEO.npy` (float32 [T, D]), `meta.json` and an
   `annotations.json` that lists the videos with no labels yet.
2. Label: weakly supervised training needs only *which* actions each training video contains.
   You supply those video-level labels (here a JSON file `{"VIDEO": ["label", ...]}`), and the
   script writes them into `annotations.json`, each label with the whole video as its segment
   (`[0, duration]`: "somewhere in this video"): training reads the labels and never a segment.
   Videos without labels are the ones to detect in. Real segments (where the actions are) are
   needed only to evaluate detections or to draw them as ground truth; give them if you have them.
3. Train (`keras-wsal train`): WSGN on the labelled videos; the run folder gets `model.keras`.
4. Detect (`keras-wsal detect --save-snippets DIR`): detections of the unlabelled videos as
   ActivityNet result JSON, and per-snippet class scores and selection weights in `DIR/VIDEO.npz`.
5. Plot (`keras-wsal plot`): one picture per video with its detections and per-snippet curves.

Without `--videos`, the script generates its videos (`keras_wsal.video.write_synthetic_video`):
each has three scenes separated by hard cuts, the middle scene being "the action", and a class is
a family of scenes. Their middle scenes are known, so the generated test videos also get real
segments and the script evaluates the detections (`keras-wsal evaluate`).

The demo runs BN-Inception, the papers' backbone, on small frames (80x64, 64x64 crops, 10 fps,
4 frames per snippet) and with *random weights*: the features are random projections of the
pixels, enough for the pipeline to run end to end and to tell the generated scenes apart, but not
features of actions. (`--backbone mobilenet_v3_small` runs faster, but a random MobileNet's
outputs are all close to 0, about 1e-10: nothing to learn from. The tests use it only to check
that every step runs.) keras_wsal downloads nothing: for real features, give the backbone's
weights as local files. BN-Inception's are TSN's ImageNet weights, the PyTorch state_dict
`bn_inception-52deb4733.pth` of Cadene's `pretrainedmodels`
(http://data.lip6.fr/cadene/pretrainedmodels/bn_inception-52deb4733.pth); they also initialise the
temporal stream (TSN's cross-modality initialisation). With them, and the usual frame settings:

    python examples/videos_to_detections.py --videos my_videos/ --labels my_labels.json \\
        --backbone bn_inception --weights bn_inception-52deb4733.pth \\
        --frame-size 340x256 --crop 224 --frame-rate 25 --snippet-frames 16

A `keras.applications` backbone takes a `.keras` file of the same network with ImageNet weights,
saved on a machine with network access, e.g.
`keras.applications.ResNet50(include_top=False, pooling="avg").save("resnet50.keras")`, with
`--backbone resnet50 --weights resnet50.keras` (and `--flow-weights` for a temporal stream
trained on flow). Train for more epochs on real features (`--epochs`, and see
`keras-wsal train --help`).

    python examples/videos_to_detections.py                  # generated videos, about 2 minutes
    python examples/videos_to_detections.py --epochs 2 --per-class 2 --quiet

Outputs in OUT: videos/ and labels.json (when generated), dataset/, runs/wsgn/ (the run folder,
test_detections.json, snippets/), plots/VIDEO.png. Look at: the commands, the number of
detections per video, and the pictures.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from keras_wsal import cli
from keras_wsal.datasets import write_annotations
from keras_wsal.errors import DataError, KerasWsalError
from keras_wsal.utils.atomic_files import atomic_write_text

TRAIN_SUBSET = "train"
DETECT_SUBSET = "test"
VIDEO_FPS = 25.0
VIDEO_SIZE = (96, 72)


def generate_videos(folder: Path, per_class: int, classes: int = 2) -> tuple[dict, dict]:
    """Write `per_class` videos of each class; the last of each class is left unlabelled.

    Returns `(labels, truth)`: the video-level labels of the training videos, and the action
    segment (seconds) of each unlabelled video.
    """
    from keras_wsal.video import write_synthetic_video

    folder.mkdir(parents=True, exist_ok=True)
    labels, truth = {}, {}
    for k in range(classes):
        label = f"class_{chr(ord('a') + k)}"
        for i in range(per_class):
            name = f"{label}_{i:02d}"
            num_frames = int(VIDEO_FPS * (6 + i % 3))
            # Scene 1, between the two cuts, is the action; where it starts varies by video.
            start = int(num_frames * (0.15 + 0.1 * (i % 4)))
            end = start + int(num_frames * 0.35)
            # The seed chooses the scenes' content: one seed per class makes a class a family of
            # look-alike scenes.
            write_synthetic_video(
                folder / f"{name}.avi",
                num_frames=num_frames,
                fps=VIDEO_FPS,
                size=VIDEO_SIZE,
                cuts=(start, end),
                seed=10 + k,
            )
            if i < per_class - 1:
                labels[name] = [label]
            else:
                truth[name] = [{"label": label, "segment": [start / VIDEO_FPS, end / VIDEO_FPS]}]
    return labels, truth


def label_dataset(dataset: Path, labels: dict, truth: dict) -> list[str]:
    """Write the video-level labels into `dataset/annotations.json`; return the videos to detect.

    Labelled videos go to subset "train", each label annotated on the whole video; the others to
    subset "test", with their `truth` segments when known.
    """
    if not labels:
        raise DataError("no video has a label: give video-level labels of the training videos")
    path = dataset / "annotations.json"
    database = json.loads(path.read_text())["database"]
    unknown = sorted(set(labels) - set(database))
    if unknown:
        raise DataError(f"the labels name videos that were not extracted: {unknown}")
    for video, entry in database.items():
        if video in labels:
            whole = [0.0, entry["duration"]]
            entry["subset"] = TRAIN_SUBSET
            entry["annotations"] = [{"label": label, "segment": whole} for label in labels[video]]
        else:
            entry["subset"] = DETECT_SUBSET
            entry["annotations"] = truth.get(video, [])
    write_annotations(dataset, database)
    return sorted(video for video in database if video not in labels)


def keras_wsal_command(*argv: str) -> None:
    """Print the shell command, then run it in-process; a non-zero exit stops the tutorial."""
    print(f"\n$ keras-wsal {shlex.join(argv)}", flush=True)
    status = cli.main(list(argv))
    if status != 0:
        raise KerasWsalError(f"keras-wsal {argv[0]} ended with exit status {status}")


def _read_labels(path: str) -> dict[str, list[str]]:
    try:
        labels = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise DataError(f"--labels {path}: not a readable JSON file ({error})") from None
    if not isinstance(labels, dict) or not all(
        isinstance(names, list) and names and all(isinstance(n, str) and n for n in names)
        for names in labels.values()
    ):
        raise DataError(f'--labels {path}: expected {{"VIDEO": ["label", ...], ...}}')
    return labels


def run(args: argparse.Namespace) -> None:
    out = Path(args.out)
    dataset = out / "dataset"
    run_dir = out / "runs" / "wsgn"
    if args.videos is None:
        videos = out / "videos"
        labels, truth = generate_videos(videos, args.per_class)
        atomic_write_text(out / "labels.json", json.dumps(labels, indent=1) + "\n")
        print(
            f"generated {len(labels) + len(truth)} videos in {videos}; labels: "
            f"{out / 'labels.json'}"
        )
    else:
        videos, labels, truth = Path(args.videos), _read_labels(args.labels), {}
    quiet = ("--quiet",) if args.quiet else ()

    weights = []
    if args.weights:
        weights += ["--weights", args.weights]
    if args.flow_weights:
        weights += ["--flow-weights", args.flow_weights]
    keras_wsal_command(
        "extract", str(videos), str(dataset),
        "--backbone", args.backbone, *weights,
        "--frame-size", args.frame_size, "--crop", str(args.crop),
        "--frame-rate", str(args.frame_rate), "--snippet-frames", str(args.snippet_frames),
        "--subset", DETECT_SUBSET, *quiet,
    )  # fmt: skip

    to_detect = label_dataset(dataset, labels, truth)
    print(f"\nlabelled {len(labels)} training videos in {dataset / 'annotations.json'}")
    subset = DETECT_SUBSET
    if not to_detect:
        print("every video is labelled: detecting in the training videos themselves")
        subset, to_detect = TRAIN_SUBSET, sorted(labels)

    # A larger learning rate than WSGN's 1e-4, which is meant for thousands of steps: a few
    # videos make a few steps per epoch.
    keras_wsal_command(
        "train", "--data", str(dataset), "--subset", TRAIN_SUBSET, "--model", "wsgn",
        "--out", str(run_dir), "--epochs", str(args.epochs), "--batch-size", "4",
        "--learning-rate", "1e-3", *quiet,
    )  # fmt: skip

    results = run_dir / f"{subset}_detections.json"
    snippets = run_dir / "snippets"
    keras_wsal_command(
        "detect", "--data", str(dataset), "--subset", subset, "--model", str(run_dir),
        "--out", str(results), "--save-snippets", str(snippets),
    )  # fmt: skip
    found = json.loads(results.read_text())["results"]
    for video in to_detect:
        best = sorted(found.get(video, []), key=lambda d: -d["score"])[:3]
        described = ", ".join(
            f"{d['label']} {d['segment'][0]:.1f}–{d['segment'][1]:.1f} s ({d['score']:.2f})"
            for d in best
        )
        print(f"  {video}: {len(found.get(video, []))} detections; best: {described or 'none'}")

    for video in to_detect:
        keras_wsal_command(
            "plot", "--data", str(dataset), "--video", video, "--results", str(results),
            "--snippets", str(snippets), "--out", str(out / "plots" / f"{video}.png"),
        )  # fmt: skip

    if truth:
        # Only because these test videos have real segments can the detections be scored.
        keras_wsal_command(
            "evaluate", "--ground-truth", str(dataset / "annotations.json"),
            "--predictions", str(results), "--subset", DETECT_SUBSET, "--tiou", "0.1,0.3,0.5",
        )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default="videos_to_detections_output", help="output folder")
    parser.add_argument(
        "--videos", default=None, help="your folder of videos (default: generate some)"
    )
    parser.add_argument(
        "--labels", default=None, help='with --videos: JSON {"VIDEO": ["label", ...]}'
    )
    parser.add_argument(
        "--per-class", type=int, default=5, help="generated videos per class (>= 2)"
    )
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--backbone", default="bn_inception", help="see keras-wsal extract --help")
    parser.add_argument("--weights", default=None, help="spatial stream weights (a local file)")
    parser.add_argument(
        "--flow-weights", default=None, help="temporal stream weights (a local file)"
    )
    parser.add_argument("--frame-size", default="80x64", help="WIDTHxHEIGHT")
    parser.add_argument("--crop", type=int, default=64)
    parser.add_argument("--frame-rate", type=float, default=10.0)
    parser.add_argument("--snippet-frames", type=int, default=4)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if (args.videos is None) != (args.labels is None):
        parser.error("--videos and --labels go together")
    if args.per_class < 2:
        parser.error("--per-class must be at least 2 (one training and one test video per class)")
    try:
        run(args)
    except KerasWsalError as error:
        print(f"videos_to_detections: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
