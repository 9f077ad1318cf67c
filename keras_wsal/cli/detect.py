"""`keras-wsal detect`: temporal detections of a trained model, as ActivityNet result JSON."""

from __future__ import annotations

import argparse
import sys

from keras_wsal.cli._arguments import (
    add_detection_rule_arguments,
    check_rule_arguments,
    positive_int,
    rule_from_args,
)
from keras_wsal.inference.recognition import VIDEO_SCORE_METHODS  # NumPy only: fine for --help

HELP = "detect actions in time with a trained model (ActivityNet result JSON)"
DESCRIPTION = """\
Run a trained model over every video of DATASET's subset (--data, --subset), or over video files
(VIDEOS: a video or a folder of videos), and write its detections as
{"results": {VIDEO: [{"label", "score", "segment": [start_s, end_s]}]}}.

On video files the run extracts the features it was trained on itself, with the settings that
`keras-wsal extract` recorded (backbone, weights files, flow, snippet rate); a run trained on
features made elsewhere (e.g. W-TALC's I3D) says so and how to pass a feature dataset instead.

--rule default (the default) is the model's measured best rule: for WSGN, Naive, Supervised and
UntrimmedNet, the class probabilities softmax(h_cls) smoothed over 3 snippets, classes whose
video prediction is >= 0.05, thresholds 0.1..0.9 of each class's maximum unioned, outer-inner
segment scores × the video prediction, NMS at tIoU 0.3, at most 200 segments per video; for
W-TALC its own rule.
--rule paper is the model's paper rule: "untrimmednet" (attention >= 1e-4, class score >= 0.5;
soft UntrimmedNet), "wsgn" (g ⊙ softmax(h_cls) >= 0.5 × the class maximum, segments >= 1 s) or
"wtalc" (logits >= min + 0.5 (max - min), classes with top-k logit >= 0, runs >= 2 snippets,
score max + 0.7 × top-k logit). Each option below overrides one setting of the chosen rule.

examples:
  keras-wsal detect my_videos/ --model runs/wsgn --out results.json --plot plots/
  keras-wsal detect --data thumos14 --subset test --model runs/wsgn --out runs/wsgn/test.json
  keras-wsal detect --data thumos14 --subset test --model runs/wsgn --out r.json --rule paper
  keras-wsal detect --data thumos14 --subset test --model runs/wsgn --out r.json \\
      --thresholds 0.3,0.5,0.7 --nms 0.5 --segment-score outer_inner \\
      --save-snippets runs/wsgn/snippets
"""


NEEDS_BACKEND = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "videos", nargs="?", metavar="VIDEOS", help="a video file or a folder of videos"
    )
    parser.add_argument("--data", help="the dataset folder (instead of VIDEOS)")
    parser.add_argument("--subset", help="the subset to detect on (e.g. test), with --data")
    parser.add_argument(
        "--model", required=True, help="a run folder of `keras-wsal train` or a .keras file"
    )
    parser.add_argument("--out", required=True, help="the result JSON to write")
    add_detection_rule_arguments(parser)
    parser.add_argument("--batch-size", type=positive_int, default=1, help="videos per pass")
    parser.add_argument(
        "--save-snippets", metavar="DIR", default=None, help="also write DIR/VIDEO.npz"
    )
    parser.add_argument(
        "--plot", metavar="DIR", default=None, help="also draw DIR/VIDEO.png (timelines)"
    )
    parser.add_argument(
        "--weights", default=None, help="VIDEOS: the spatial stream's weights (default: recorded)"
    )
    parser.add_argument(
        "--flow-weights",
        default=None,
        help="VIDEOS: the temporal stream's weights (default: recorded)",
    )
    parser.add_argument(
        "--skip-bad", action="store_true", help="VIDEOS: skip a video that cannot be decoded"
    )
    parser.add_argument(
        "--recognition",
        choices=VIDEO_SCORE_METHODS,
        default=None,
        help="write video-level class scores (ActivityNet classification results) instead of "
        "detections, pooled by top-k over snippets (UntrimmedNet's WSR), attention, or the "
        "model's own video prediction",
    )
    parser.add_argument(
        "--recognition-k", type=positive_int, default=20, help="k of --recognition top_k"
    )
    parser.add_argument(
        "--frames",
        action="store_true",
        help="--data: run the model on every video frame, the features interpolated in time "
        "(WSGN's inference), its outputs averaged back per snippet",
    )
    parser.add_argument(
        "--recognition-every",
        type=positive_int,
        default=1,
        metavar="N",
        help="--recognition pools every Nth snippet (UntrimmedNet's WSR reads one snippet every "
        "30 frames: 2 on the 15-frame snippets of `extract --recipe paper`)",
    )
    parser.add_argument(
        "--charades",
        action="store_true",
        help="write a Charades localisation submission instead of detections: each video's "
        "snippet scores at its 25 time points (classes c000, c001, ... in order)",
    )


def _check_source(args) -> None:
    from keras_wsal.errors import DataError

    if (args.videos is None) == (args.data is None):
        raise DataError("give either VIDEOS (video files) or --data with --subset (features)")
    if args.data is not None and args.subset is None:
        raise DataError("--data needs --subset (the subset to detect on)")
    if args.videos is not None and args.subset is not None:
        raise DataError("--subset goes with --data, not with VIDEOS")
    if args.videos is not None and args.frames:
        raise DataError("--frames goes with --data, not with VIDEOS")


def run(args) -> int:
    from keras_wsal.utils.atomic_files import check_output_location

    _check_source(args)
    check_rule_arguments(args)
    check_output_location(args.out)
    for folder in (args.save_snippets, args.plot):
        if folder:
            check_output_location(folder, folder=True)
    videos, total, feature_fps, classes, rule = (
        _from_videos(args) if args.videos is not None else _from_dataset(args)
    )
    if args.charades:
        _check_charades_classes(classes)
    detections, scores, points = {}, {}, {}
    for number, (outputs, duration) in enumerate(videos, start=1):
        video = outputs.video
        if args.charades:
            points[video] = _charades_points(outputs, duration, feature_fps)
        elif args.recognition is not None:
            scores[video] = _video_scores(args, outputs)
        found = None
        if args.plot or not (args.charades or args.recognition):
            found = detections[video] = rule.detect(outputs, feature_fps, classes)
        _save_extras(args, outputs, found, feature_fps, classes, duration)
        if total is not None:
            done = "" if found is None else f": {len(found)} detections"
            print(f"[{number}/{total}] {video}{done}", flush=True)
    if args.charades:
        from keras_wsal.formats.charades import write_charades_submission

        write_charades_submission(args.out, points)
        print(f"25 time points of {len(points)} videos (Charades submission) → {args.out}")
    elif args.recognition is not None:
        import json

        from keras_wsal.inference import recognition_results
        from keras_wsal.utils.atomic_files import atomic_write_text

        results = recognition_results(scores, classes)
        atomic_write_text(args.out, json.dumps(results, indent=1) + "\n")
        print(f"video scores ({args.recognition}) of {len(scores)} videos → {args.out}")
    else:
        from keras_wsal.inference import write_detection_results

        write_detection_results(args.out, detections)
        count = sum(len(d) for d in detections.values())
        print(f"{count} detections in {len(detections)} videos ({rule.name} rule) → {args.out}")
    return 0


def _check_charades_classes(classes) -> None:
    from keras_wsal.errors import DataError
    from keras_wsal.formats.charades import charades_class

    expected = [charades_class(k) for k in range(len(classes))]
    if list(classes) != expected:
        raise DataError(
            f"--charades: the model's classes must be Charades' {expected[:2]}... in order, got "
            f"{list(classes)[:3]}..."
        )


def _charades_points(outputs, duration, feature_fps):
    """`--charades`: the snippet scores `[25, C]` at the video's Charades time points."""
    from keras_wsal.evaluation import sample_snippet_scores

    return sample_snippet_scores(outputs.snippet_scores, duration, feature_fps)


def _video_scores(args, outputs):
    """`--recognition`: the video's class scores `[C]` by the chosen pooling."""
    from keras_wsal.inference import video_scores

    every = args.recognition_every
    return video_scores(
        outputs.snippet_scores[::every],
        outputs.selection[::every],
        outputs.video_scores,
        method=args.recognition,
        k=args.recognition_k,
        video=outputs.video,
    )


def _from_dataset(args):
    """(iterator of (outputs, duration), None, feature rate, classes, rule) of `--data`."""
    from keras_wsal.datasets import FeatureDataset
    from keras_wsal.errors import DataError
    from keras_wsal.inference import predict_videos
    from keras_wsal.training import load_run_model

    dataset = FeatureDataset(args.data)
    model, classes = load_run_model(args.model)
    if classes is not None and list(classes) != list(dataset.classes):
        raise DataError(
            f"the model was trained on classes {classes}, dataset {args.data} has {dataset.classes}"
        )
    frames = None
    if args.frames:
        from keras_wsal.datasets.temporal_augmentation import frames_per_snippet_of
        from keras_wsal.training.config import TrainConfig

        given = TrainConfig.load(args.model).frames_per_snippet if _is_run(args.model) else None
        frames = round(frames_per_snippet_of(dataset.meta, given))
    outputs = predict_videos(
        model, dataset, args.subset, batch_size=args.batch_size, frames_per_snippet=frames
    )
    videos = ((video, dataset.duration(video.video)) for video in outputs)
    return videos, None, dataset.feature_fps, list(dataset.classes), rule_from_args(args, model)


def _is_run(path) -> bool:
    from pathlib import Path

    return (Path(path) / "config.json").is_file()


def _from_videos(args):
    """(iterator of (outputs, duration), count, feature rate, classes, rule) of VIDEOS: the
    run's own feature extraction on each file; `--skip-bad` skips a video that cannot be read."""
    from pathlib import Path

    from keras_wsal.errors import DataError, VideoError
    from keras_wsal.inference.video_detection import VideoDetector
    from keras_wsal.training import load_run_model
    from keras_wsal.training.run_folder import load_feature_record
    from keras_wsal.video import find_videos

    source = Path(args.videos)
    if source.is_dir():
        files = find_videos(source)
    elif source.is_file():
        files = {source.stem: source}
    else:
        raise VideoError(f"{source}: no such video file or folder")
    model, classes = load_run_model(args.model)
    if classes is None:
        raise DataError(f"{args.model}: no classes.json beside the model; pass a run folder")
    run = Path(args.model)
    record = load_feature_record(run if run.is_dir() else run.parent)
    detector = VideoDetector.build(
        model, classes, record, args.weights, args.flow_weights, run_name=args.model
    )

    def videos():
        for video, path in files.items():
            try:
                yield detector.outputs(video, path)
            except VideoError as error:
                if not args.skip_bad:
                    raise
                print(f"keras-wsal detect: skipped {video}: {error}", file=sys.stderr)

    rule = rule_from_args(args, detector.model)
    return videos(), len(files), detector.feature_fps, detector.classes, rule


def _save_extras(args, outputs, found, feature_fps, classes, duration) -> None:
    """`--save-snippets` and `--plot` for one video."""
    from pathlib import Path

    if args.save_snippets:
        from keras_wsal.formats.snippet_outputs import save_snippet_outputs

        save_snippet_outputs(
            Path(args.save_snippets) / f"{outputs.video}.npz",
            outputs.snippet_scores,
            outputs.selection,
            feature_fps,
            classes,
        )
    if args.plot:
        from keras_wsal.plotting import plot_video

        plot_video(
            Path(args.plot) / f"{outputs.video}.png",
            outputs.video,
            [],
            found,
            outputs.snippet_scores,
            outputs.selection,
            feature_fps,
            classes,
            duration=duration,
            title=Path(args.model).resolve().name,
        )
