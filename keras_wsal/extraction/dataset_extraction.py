"""Extracting a folder of videos into a keras_wsal feature dataset: resumable, sharded, and
written through `keras_wsal.datasets`' writers (features, `meta.json`, `annotations.json`)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from keras_wsal.datasets import write_annotations, write_features, write_json, write_meta
from keras_wsal.errors import DataError
from keras_wsal.extraction.snippet_features import ExtractionSettings, extract_video_features
from keras_wsal.formats.dataset_layout import feature_path
from keras_wsal.utils.atomic_files import make_folder, remove_stale_temporaries
from keras_wsal.video.files import find_videos, shard_videos


@dataclass
class ExtractionReport:
    """What `extract_dataset` did: videos extracted, skipped (already done) and failed."""

    extracted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    report_path: Path | None = None

    def summary(self) -> str:
        line = (
            f"extracted {len(self.extracted)}, skipped {len(self.skipped)} (already done), "
            f"failed {len(self.failures)}"
        )
        if self.failures:
            line += f" (see {self.report_path})"
        return line


EXTRACTION_DIR = "extraction"


def _video_is_done(dataset: Path, video: str) -> bool:
    record = dataset / EXTRACTION_DIR / "videos" / f"{video}.json"
    return record.is_file() and all(
        feature_path(dataset, stream, video).is_file() for stream in ("rgb", "flow")
    )


def _prepare_meta(dataset: Path, meta: dict) -> None:
    """Write `meta.json`, or check that the existing one describes the same extraction."""
    path = dataset / "meta.json"
    if not path.is_file():
        write_meta(dataset, meta)
        return
    try:
        existing = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: cannot be read as JSON ({error})") from error
    for key in ("feature_fps", "streams", "feature_dim", "extraction"):
        if existing.get(key) != json.loads(json.dumps(meta[key])):
            raise DataError(
                f"{path} describes other features ({key}: {existing.get(key)!r}, this "
                f"extraction: {meta[key]!r}); extract into a new dataset folder"
            )


def _update_annotations(dataset: Path, subset: str) -> None:
    """Add every extracted video missing from `annotations.json` (no annotations, `subset`).

    The videos come from the per-video records of every run and shard, so the last shard to
    finish writes the complete list; existing entries (with their annotations) are kept.
    """
    try:
        import fcntl
    except ImportError:  # no advisory locks on this platform
        fcntl = None
    lock_path = dataset / EXTRACTION_DIR / ".annotations.lock"
    with open(lock_path, "a") as lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        path = dataset / "annotations.json"
        database = {}
        if path.is_file():
            try:
                database = dict(json.loads(path.read_text())["database"])
            except (OSError, ValueError, KeyError, TypeError) as error:
                raise DataError(f"{path}: not a readable annotations file ({error})") from error
        added = 0
        for record_path in sorted((dataset / EXTRACTION_DIR / "videos").glob("*.json")):
            video = record_path.stem
            if video not in database and _video_is_done(dataset, video):
                record = json.loads(record_path.read_text())
                database[video] = {
                    "subset": subset,
                    "duration": record["duration"],
                    "annotations": [],
                }
                added += 1
        if added:
            write_annotations(dataset, database)


def _feature_folders(dataset: Path) -> list[Path]:
    return [feature_path(dataset, stream, "x").parent for stream in ("rgb", "flow")]


def extract_dataset(
    videos_dir: str | os.PathLike,
    dataset: str | os.PathLike,
    rgb_model,
    flow_model,
    settings: ExtractionSettings,
    *,
    subset: str = "test",
    shard: tuple[int, int] = (0, 1),
    extra_meta: dict | None = None,
    on_video: Callable[[str, str], None] | None = None,
) -> ExtractionReport:
    """Extract the two-stream features of a folder of videos into a keras_wsal dataset.

    Writes, in `dataset`: `features/rgb/VIDEO.npy` and `features/flow/VIDEO.npy` (float32
    `[T, D]`, same T), `meta.json` (`feature_fps`, streams `["rgb", "flow"]`, `feature_dim`,
    and `"extraction"`: the settings and `extra_meta`), `annotations.json` (every extracted
    video, with no annotations, in `subset`; videos it already lists keep their entries),
    `extraction/videos/VIDEO.json` (duration, fps, frames, snippets: written last, it marks the
    video done) and `extraction/failures.json` (`failures.shard-I-of-N.json` for a shard): the
    videos extracted, skipped and failed, with each failure's reason.

    Resumable: a video whose record and feature files exist is skipped. Every file is written
    atomically; a video that fails leaves no feature file of its own behind, and the others go
    on.

    Args:
        videos_dir: the folder of videos (`find_videos`).
        dataset: the dataset folder (created if needed).
        rgb_model, flow_model: the two streams (`make_streams`).
        settings: the sampling.
        subset: the subset of the videos added to `annotations.json`.
        shard: `(I, N)`: extract only `sorted(videos)[I::N]`.
        extra_meta: more fields for `meta.json`'s `"extraction"` (e.g. the weights files).
        on_video: called with `(video, status)` after each video, status `"extracted"`,
            `"skipped"` or `"failed"`.

    Raises:
        VideoError: no videos folder; DataError: `meta.json` describes another extraction.
    """
    dataset = Path(dataset)
    videos = find_videos(videos_dir)
    names = shard_videos(list(videos), shard)
    meta = {
        "feature_fps": settings.feature_fps,
        "streams": ["rgb", "flow"],
        "feature_dim": {
            "rgb": int(rgb_model.output_shape[-1]),
            "flow": int(flow_model.output_shape[-1]),
        },
        "extraction": {**settings.describe(), **(extra_meta or {})},
    }
    make_folder(dataset / EXTRACTION_DIR / "videos")
    _prepare_meta(dataset, meta)
    for folder in (dataset / EXTRACTION_DIR / "videos", *_feature_folders(dataset)):
        remove_stale_temporaries(folder)  # what a killed extraction was writing
    report = ExtractionReport()
    for video in names:
        if _video_is_done(dataset, video):
            report.skipped.append(video)
            status = "skipped"
        else:
            try:
                features = extract_video_features(videos[video], rgb_model, flow_model, settings)
                write_features(dataset, video, "rgb", features.rgb)
                write_features(dataset, video, "flow", features.flow)
                record = {
                    "path": str(videos[video]),
                    "duration": features.duration,
                    "fps": features.fps,
                    "frames": features.num_frames,
                    "snippets": len(features.rgb),
                }
                write_json(dataset / EXTRACTION_DIR / "videos" / f"{video}.json", record)
                report.extracted.append(video)
                status = "extracted"
            except Exception as error:  # one bad video never stops the others
                for stream in ("rgb", "flow"):
                    feature_path(dataset, stream, video).unlink(missing_ok=True)
                report.failures[video] = f"{type(error).__name__}: {error}"
                status = "failed"
        if on_video is not None:
            on_video(video, status)
    index, count = shard
    name = "failures.json" if count == 1 else f"failures.shard-{index}-of-{count}.json"
    report.report_path = dataset / EXTRACTION_DIR / name
    write_json(
        report.report_path,
        {
            "videos_dir": str(videos_dir),
            "shard": f"{index}/{count}",
            "extracted": report.extracted,
            "skipped": report.skipped,
            "failures": report.failures,
        },
    )
    _update_annotations(dataset, subset)
    return report
