"""Charades' own files: the annotation CSV and the localisation submission of its evaluator.

- The annotation CSV (`Charades_v1_train.csv`, `Charades_v1_test.csv`) has a header and one row
  per video; keras_wsal reads the columns `id`, `length` (seconds) and `actions`, a `;`-separated
  list of `CLASS START END` (e.g. `c092 11.90 21.20;c147 0.00 12.60`, classes `c000`..`c156`).
  `charades_annotations` turns it into keras_wsal's ActivityNet-style annotations.
- The localisation submission of `Charades_v1_localize.m` has one line per video and time point:
  `VIDEO FRAME S_1 ... S_C`, FRAME = 1..25 (the point `(FRAME - 1) / 25 · length`) and one score
  per class, column k being class `c{k:03d}`. `read_charades_submission` and
  `write_charades_submission` read and write it.

Every malformed row or line raises a DataError naming the file, the line and the field.
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from keras_wsal.errors import DataError
from keras_wsal.utils.atomic_files import atomic_write_text

CHARADES_POINTS = 25
_CLASS = re.compile(r"c\d{3}")
_COLUMNS = ("id", "length", "actions")


def charades_class(index: int) -> str:
    """The Charades name of score column `index`: "c000", "c001", ..."""
    return f"c{index:03d}"


def charades_annotations(csv_path: str | os.PathLike, subset: str) -> tuple[dict, int]:
    """`({"database": {VIDEO: {"subset", "duration", "annotations"}}}, skipped)` from a CSV.

    Each action `CLASS START END` becomes `{"label": CLASS, "segment": [START, END]}`. An action
    that ends before it starts cannot be a segment; it is left out and counted in `skipped`.

    Raises:
        DataError: a missing file or column, or a malformed row (file, line and field named).
    """
    path = Path(csv_path)
    try:
        handle = open(path, newline="", encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: Charades annotation CSV not found") from None
    database, skipped = {}, 0
    with handle:
        reader = csv.DictReader(handle)
        missing = [c for c in _COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path}: no column {missing} in the header (is it a Charades CSV?)")
        for row in reader:
            where = f"{path}, line {reader.line_num}"
            video = (row["id"] or "").strip()
            if not video:
                raise DataError(f"{where}, field 'id': empty")
            if video in database:
                raise DataError(f"{where}, field 'id': video {video!r} appears twice")
            length = _number(row["length"], f"{where}, field 'length'")
            if not length > 0:
                raise DataError(f"{where}, field 'length': must be > 0, got {row['length']!r}")
            annotations = []
            for action in filter(None, (a.strip() for a in (row["actions"] or "").split(";"))):
                parts = action.split()
                field = f"{where}, field 'actions' ({action!r})"
                if len(parts) != 3 or not _CLASS.fullmatch(parts[0]):
                    raise DataError(f"{field}: expected 'CLASS START END' with CLASS like c092")
                start, end = (_number(p, field) for p in parts[1:])
                if end < start:
                    skipped += 1
                    continue
                annotations.append({"label": parts[0], "segment": [start, end]})
            database[video] = {"subset": subset, "duration": length, "annotations": annotations}
    return {"database": database}, skipped


def read_charades_submission(
    path: str | os.PathLike, num_points: int = CHARADES_POINTS
) -> tuple[dict[str, np.ndarray], list[str]]:
    """The scores of a localisation submission: `({VIDEO: [num_points, C]}, classes)`.

    Every video must have each frame 1..num_points exactly once, and every line the same number
    of scores C; the classes are `c000`..`c{C-1}`.

    Raises:
        DataError: a missing file, a malformed line (file, line and field named), a missing or
            repeated frame of a video.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DataError(f"{path}: Charades submission not found") from None
    rows: dict[str, dict[int, np.ndarray]] = {}
    width = None
    for number, line in enumerate(lines, start=1):
        parts = line.split()
        if not parts:
            continue
        where = f"{path}, line {number}"
        if len(parts) < 3:
            raise DataError(f"{where}: expected 'VIDEO FRAME SCORE...', got {line.strip()!r}")
        video, frame_text, scores = parts[0], parts[1], parts[2:]
        if not frame_text.isdigit() or not 1 <= int(frame_text) <= num_points:
            raise DataError(f"{where}, field 'frame': expected 1..{num_points}, got {frame_text!r}")
        if width is None:
            width = len(scores)
        elif len(scores) != width:
            raise DataError(f"{where}, field 'scores': {len(scores)} scores, earlier lines {width}")
        values = np.array([_number(s, f"{where}, field 'scores'") for s in scores])
        frames = rows.setdefault(video, {})
        if int(frame_text) in frames:
            raise DataError(f"{where}: video {video!r} frame {frame_text} appears twice")
        frames[int(frame_text)] = values
    scores_by_video = {}
    for video, frames in rows.items():
        absent = [f for f in range(1, num_points + 1) if f not in frames]
        if absent:
            raise DataError(f"{path}: video {video!r} has no line for frames {absent}")
        scores_by_video[video] = np.stack([frames[f] for f in range(1, num_points + 1)])
    return scores_by_video, [charades_class(k) for k in range(width or 0)]


def write_charades_submission(
    path: str | os.PathLike, point_scores: Mapping[str, np.ndarray]
) -> None:
    """Write `{VIDEO: [num_points, C]}` as a localisation submission (atomically)."""
    lines = []
    for video, scores in point_scores.items():
        for frame, row in enumerate(np.asarray(scores, dtype=np.float64), start=1):
            lines.append(f"{video} {frame} " + " ".join(f"{value:.6g}" for value in row))
    atomic_write_text(path, "\n".join(lines) + "\n")


def _number(text: object, where: str) -> float:
    try:
        value = float(str(text).strip())
    except ValueError:
        raise DataError(f"{where}: not a number: {text!r}") from None
    if not math.isfinite(value):
        raise DataError(f"{where}: not a finite number: {text!r}")
    return value
