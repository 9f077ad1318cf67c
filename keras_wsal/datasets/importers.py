"""Importers from the feature layouts people download into the keras_wsal dataset format.

- `import_wtalc`: the W-TALC THUMOS14 layout: one pickled object array of per-video I3D features
  (`Thumos14reduced-I3D-JOINTFeatures.npy`, rgb then flow) plus the annotation `.npy` files
  (`videoname`, `subset`, `duration`, `segments`, `labels`, `classlist`) and `Ambiguous_test.txt`.
- `import_activitynet`: a folder of per-video `.npy` files plus an ActivityNet-style JSON
  (ActivityNet, ActionFormer's `thumos14.json`, ...).

Both write through `write_dataset_by_video` (atomic files, annotations and meta last) and return an
`ImportReport` of what they wrote and what they left out, and why. Annotations are kept as they are:
THUMOS14's CliffDiving instances stay annotated as Diving too, and segments past a video's end stay.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from keras_wsal.datasets.feature_dataset import FeatureDataset
from keras_wsal.datasets.writers import write_dataset_by_video
from keras_wsal.errors import DataError
from keras_wsal.formats.annotations import AMBIGUOUS
from keras_wsal.formats.dataset_layout import SINGLE_STREAM
from keras_wsal.formats.json_files import read_json

logger = logging.getLogger(__name__)

STREAM_LAYOUTS = ("joint", "split")
WTALC_FEATURES_FILE = "Thumos14reduced-I3D-JOINTFeatures.npy"
WTALC_AMBIGUOUS_FILE = "Ambiguous_test.txt"


@dataclass
class ImportReport:
    """What an importer did.

    Attributes:
        dataset: the written dataset.
        skipped: (video, reason) of each annotated video left out (with `skip_bad`).
        ignored: descriptions of input left unused (e.g. feature files of unannotated videos,
            Ambiguous lines of unknown videos).
    """

    dataset: FeatureDataset
    skipped: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def _stream_splitter(streams: str) -> Callable[[str, np.ndarray], dict[str, np.ndarray]]:
    """{stream: array} from one [T, D] array: "joint" keeps it, "split" cuts rgb | flow at D / 2."""
    if streams not in STREAM_LAYOUTS:
        raise DataError(f"streams must be one of {STREAM_LAYOUTS}, got {streams!r}")

    def split(video: str, array: np.ndarray) -> dict[str, np.ndarray]:
        if streams == "joint":
            return {SINGLE_STREAM: array}
        if array.ndim != 2 or array.shape[1] % 2:
            raise DataError(
                f'video "{video}": streams="split" needs features [T, D] with an even D (rgb then '
                f"flow), got shape {array.shape}"
            )
        half = array.shape[1] // 2
        return {"rgb": array[:, :half], "flow": array[:, half:]}

    return split


def _text(value: object) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _load_pickled(path: Path) -> np.ndarray:
    # W-TALC stores object arrays, so this trusted, explicitly requested import unpickles them.
    try:
        return np.load(path, allow_pickle=True, encoding="latin1")
    except FileNotFoundError as error:
        raise DataError(f"{path}: file not found") from error
    except (ValueError, OSError, EOFError) as error:
        raise DataError(f"{path}: not a readable .npy file ({error})") from error


def _read_wtalc_ambiguous(path: Path) -> dict[str, list[list[float]]]:
    """{video: [[start_s, end_s], ...]} from lines "VIDEO START END"."""
    ambiguous = {}
    with open(path, encoding="utf-8") as file:
        for number, line in enumerate(file, 1):
            if not line.strip():
                continue
            fields = line.split()
            try:
                video, start, end = fields[0], float(fields[1]), float(fields[2])
            except (IndexError, ValueError) as error:
                raise DataError(
                    f'{path}: line {number} must be "VIDEO START END", got {line.strip()!r}'
                ) from error
            ambiguous.setdefault(video, []).append([start, end])
    return ambiguous


def _wtalc_database(annotations_dir: Path) -> tuple[list[str], dict, list[str], list[str]]:
    """(videos in file order, the ActivityNet-style database, classes, ignored inputs)."""
    arrays = {
        name: _load_pickled(annotations_dir / f"{name}.npy")
        for name in ("videoname", "subset", "duration", "segments", "labels", "classlist")
    }
    videos = [_text(v) for v in arrays["videoname"]]
    for name in ("subset", "duration", "segments", "labels"):
        if len(arrays[name]) != len(videos):
            raise DataError(
                f"{annotations_dir / name}.npy has {len(arrays[name])} entries, "
                f"videoname.npy has {len(videos)}"
            )
    database = {}
    for i, video in enumerate(videos):
        segments, labels = list(arrays["segments"][i]), list(arrays["labels"][i])
        if len(segments) != len(labels):
            raise DataError(
                f'{annotations_dir}: video "{video}" has {len(segments)} segments but '
                f"{len(labels)} labels"
            )
        database[video] = {
            "subset": _text(arrays["subset"][i]),
            "duration": float(np.ravel(arrays["duration"][i])[0]),
            "annotations": [
                {"segment": [float(s) for s in segment], "label": _text(label)}
                for segment, label in zip(segments, labels, strict=True)
            ],
        }
    ignored = []
    ambiguous_path = annotations_dir / WTALC_AMBIGUOUS_FILE
    if ambiguous_path.exists():
        for video, segments in _read_wtalc_ambiguous(ambiguous_path).items():
            if video not in database:
                ignored.append(
                    f"{ambiguous_path}: {len(segments)} Ambiguous lines of unknown video {video}"
                )
                continue
            database[video]["annotations"] += [
                {"segment": segment, "label": AMBIGUOUS} for segment in segments
            ]
    return videos, database, [_text(c) for c in arrays["classlist"]], ignored


def _report(
    dataset: FeatureDataset, skipped: list[tuple[str, str]], ignored: list[str]
) -> ImportReport:
    for line in ignored:
        logger.warning("ignored %s", line)
    logger.info(
        "imported %d videos into %s (%d skipped, %d inputs ignored)",
        len(dataset.videos()),
        dataset.root,
        len(skipped),
        len(ignored),
    )
    return ImportReport(dataset, skipped, ignored)


def import_wtalc(
    features_file: str | os.PathLike,
    annotations_dir: str | os.PathLike,
    out_root: str | os.PathLike,
    feature_fps: float = 25 / 16,
    streams: str = "joint",
    skip_bad: bool = False,
) -> ImportReport:
    """Import W-TALC's THUMOS14 features and annotations.

    Security: W-TALC ships its features and annotations as pickled NumPy object arrays, which
    are read here with `allow_pickle=True`. Unpickling can run arbitrary code: give this
    function only files from a source you trust (e.g. downloaded from W-TALC's own release).

    Args:
        features_file: `Thumos14reduced-I3D-JOINTFeatures.npy`: an object array of [T, D] arrays
            (I3D rgb then flow, D = 2048), one per entry of `videoname.npy`, in that order.
        annotations_dir: `Thumos14reduced-Annotations/` with `videoname.npy`, `subset.npy`
            ("validation" / "test", kept as the subset names), `duration.npy`, `segments.npy`,
            `labels.npy`, `classlist.npy` (the classes, in order) and optionally
            `Ambiguous_test.txt` (its lines become "Ambiguous" annotations).
        out_root: the dataset folder to write.
        feature_fps: snippets per second (W-TALC: 16-frame snippets of 25 fps video, 25 / 16).
        streams: "joint" (one stream "features" of D) or "split" ("rgb" = the first D / 2 columns,
            "flow" = the last D / 2).
        skip_bad: leave out videos whose features are empty, NaN/inf or malformed instead of
            raising.

    Returns:
        The `ImportReport`.

    Raises:
        DataError: a missing or malformed input file, a label not in `classlist.npy`, or a bad
            video (unless `skip_bad`).
    """
    split = _stream_splitter(streams)
    annotations_dir = Path(annotations_dir)
    videos, database, classes, ignored = _wtalc_database(annotations_dir)
    features = _load_pickled(Path(features_file))
    if len(features) != len(videos):
        raise DataError(
            f"{features_file}: holds features of {len(features)} videos, "
            f"{annotations_dir / 'videoname.npy'} names {len(videos)}"
        )
    row = {video: i for i, video in enumerate(videos)}
    dataset, skipped = write_dataset_by_video(
        out_root,
        database,
        lambda video: split(video, np.asarray(features[row[video]])),
        feature_fps,
        classes,
        {"source": f"W-TALC THUMOS14 ({Path(features_file).name})"},
        skip_bad=skip_bad,
    )
    return _report(dataset, skipped, ignored)


def import_activitynet(
    features_dir: str | os.PathLike,
    annotations_json: str | os.PathLike,
    out_root: str | os.PathLike,
    feature_fps: float,
    streams: str = "joint",
    filename: str = "{video}.npy",
    classes: list[str] | None = None,
    skip_bad: bool = False,
) -> ImportReport:
    """Import a folder of per-video feature files and an ActivityNet-style JSON.

    Args:
        features_dir: the folder of `.npy` files, each float [T, D].
        annotations_json: `{"database": {VIDEO: {"subset", "duration", "annotations": [{"segment",
            "label"}, ...]}}}`; subset names are kept as they are (e.g. "Validation").
        out_root: the dataset folder to write.
        feature_fps: snippets per second of the features (e.g. ActionFormer THUMOS14 I3D: 30 fps
            video, one snippet every 4 frames: 7.5).
        streams: "joint" or "split", as for `import_wtalc`.
        filename: the feature file name of a video, `str.format`ted with `video`
            (e.g. "v_{video}.npy").
        classes: class names in index order; default: the sorted labels, "Ambiguous" excluded.
        skip_bad: leave out videos whose feature file is missing or bad instead of raising.

    Returns:
        The `ImportReport`; feature files of videos not in the JSON are listed as ignored.

    Raises:
        DataError: a missing or malformed JSON, a label not in `classes`, or a bad video (unless
            `skip_bad`).
    """
    split = _stream_splitter(streams)
    features_dir = Path(features_dir)
    if not features_dir.is_dir():
        raise DataError(f"features folder {features_dir} does not exist")
    annotations = read_json(annotations_json, "annotations")
    database = annotations.get("database") if isinstance(annotations, Mapping) else None
    if not isinstance(database, Mapping):
        raise DataError(f'{annotations_json}: expected a JSON object with a "database" object')

    def load(video: str) -> dict[str, np.ndarray]:
        path = features_dir / filename.format(video=video)
        try:
            return split(video, np.load(path))
        except FileNotFoundError as error:
            raise DataError(f'video "{video}": feature file {path} not found') from error
        except (ValueError, OSError, EOFError) as error:
            raise DataError(
                f'video "{video}": cannot read feature file {path} ({error})'
            ) from error

    dataset, skipped = write_dataset_by_video(
        out_root,
        database,
        load,
        feature_fps,
        classes,
        {"source": f"{Path(annotations_json).name} + {features_dir.name}/"},
        skip_bad=skip_bad,
    )
    expected = {filename.format(video=video) for video in database}
    ignored = sorted(
        f"{path}: no video of that name in {annotations_json}"
        for path in features_dir.glob("*.npy")
        if path.name not in expected
    )
    return _report(dataset, skipped, ignored)
