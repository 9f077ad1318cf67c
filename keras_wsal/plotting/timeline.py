"""Pictures of what a weakly supervised model learned on one video, and the per-snippet file.

`plot_video` draws, on one time axis (seconds), the ground-truth segments, the detections (more
opaque for higher scores), the per-snippet class score curves and the selection-weight curve —
the picture of UntrimmedNet's Figure 6 (attention over a video) with the segments laid over it.

The per-snippet outputs it draws are read by `keras_wsal.formats.snippet_outputs`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from keras_wsal.errors import DataError
from keras_wsal.formats.annotations import AMBIGUOUS
from keras_wsal.formats.snippet_outputs import (
    check_class_names,
    check_feature_fps,
    check_selection,
    check_snippet_array,
)
from keras_wsal.utils.atomic_files import atomic_output

PLOT_FORMATS = {".png": "png", ".svg": "svg"}


def plot_video(
    path: str | os.PathLike,
    video: str,
    ground_truth_segments: Sequence[Mapping],
    detections: Sequence[Mapping],
    snippet_scores: np.ndarray | None,
    selection: np.ndarray | None,
    feature_fps: float | None,
    classes: Sequence[str] | None,
    labels_to_show: Sequence[str] | None = None,
    *,
    duration: float | None = None,
    max_labels: int = 5,
    title: str | None = None,
) -> Path:
    """Draw one video's segments and per-snippet curves on one time axis, saved as PNG or SVG.

    Top panel, two rows per shown label: "LABEL GT" (ground-truth bars) and "LABEL det"
    (detection bars, opacity ∝ score / the highest shown score); a grey hatched row "Ambiguous"
    when the ground truth has such intervals. Bottom panel: each shown label's per-snippet class
    score as a step curve over [t/fps, (t+1)/fps) (left axis), and the selection weights (right
    axis, dashed: one black curve for `[T, 1]`, one per shown label in its colour for `[T, C]`).

    Args:
        path: output file; `.png` or `.svg` chooses the format. Written atomically.
        video: the video's name (the title).
        ground_truth_segments: `[{"label": str, "segment": [s, e]}, ...]` (annotation entries;
            "Ambiguous" allowed).
        detections: `[{"label": str, "score": float, "segment": [s, e]}, ...]`.
        snippet_scores: float `[T, C]`, or None to draw segments only.
        selection: float `[T, C]` or `[T, 1]`, or None (drawn only with `snippet_scores`).
        feature_fps: snippets per second (needed with `snippet_scores`).
        classes: the C class names of the score columns (needed with `snippet_scores`).
        labels_to_show: the labels drawn. Default: the ground-truth labels, then the labels of
            the detections by decreasing best score, then (when still none) the classes of
            highest snippet score, at most `max_labels` in all.
        duration: the x-axis length in seconds (default: the last snippet's end or the last
            segment's end, whichever is later).
        max_labels: the cap on the default `labels_to_show`.
        title: what made the detections (e.g. the model or run), shown after the video's name.

    Returns:
        The path written.

    Raises:
        ValueError: an extension other than .png/.svg; `snippet_scores` without `feature_fps` or
            `classes`; `selection` without `snippet_scores`.
        DataError: curves with NaN/inf or of mismatched shapes (naming the video).
    """
    from matplotlib.figure import Figure

    target = Path(path)
    image_format = PLOT_FORMATS.get(target.suffix.lower())
    if image_format is None:
        raise ValueError(f"plot file {target} must end with .png or .svg")
    truth = _check_entries(ground_truth_segments, video, "ground_truth_segments", scored=False)
    found = _check_entries(detections, video, "detections", scored=True)
    scores, weights, fps = _check_curves(snippet_scores, selection, feature_fps, classes, video)
    labels = (
        list(labels_to_show)
        if labels_to_show is not None
        else _default_labels(truth, found, scores, classes, max_labels)
    )
    if duration is None:
        snippets_end = 0.0 if scores is None else len(scores) / fps
        duration = max([snippets_end, *(end for _, _, end, _ in truth + found), 1e-3])
    rows = 2 * len(labels) + (1 if any(label == AMBIGUOUS for label, *_ in truth) else 0)
    segment_height = 0.32 * max(rows, 1)
    figure = Figure(figsize=(12, 1.2 + segment_height + (2.6 if scores is not None else 0)))
    if scores is None:
        segment_axes = figure.subplots(1, 1)
        segment_axes.set_xlabel("time (s)")
    else:
        segment_axes, curve_axes = figure.subplots(
            2, 1, sharex=True, gridspec_kw={"height_ratios": [segment_height, 2.6]}
        )
        _draw_curves(curve_axes, labels, scores, weights, fps, list(classes))
    figure.suptitle(video if not title else f"{video} · {title}")
    _draw_segments(segment_axes, labels, truth, found, rows)
    segment_axes.set_xlim(0, duration)
    figure.tight_layout()
    with atomic_output(target, "wb") as handle:
        figure.savefig(handle, format=image_format, dpi=110)
    return target


def _draw_segments(axes, labels: list[str], truth: list, found: list, rows: int) -> None:
    """Two rows per label (GT bars, then detection bars with opacity by score), Ambiguous last."""
    ticks, tick_labels = [], []
    shown = [score for label, _, _, score in found if label in labels]
    top_score = max(shown + [0.0])
    for index, label in enumerate(labels):
        color = f"C{index % 10}"
        gt_row, det_row = rows - 1 - 2 * index, rows - 2 - 2 * index
        spans = [(start, end - start) for name, start, end, _ in truth if name == label]
        axes.broken_barh(spans, (gt_row + 0.15, 0.7), facecolors=color)
        for name, start, end, score in found:
            if name == label:
                opacity = min(1.0, max(0.1, score / top_score)) if top_score > 0 else 0.5
                axes.broken_barh(
                    [(start, end - start)],
                    (det_row + 0.15, 0.7),
                    facecolors=color,
                    alpha=opacity,
                    edgecolors="black",
                    linewidth=0.4,
                )
        ticks += [gt_row + 0.5, det_row + 0.5]
        tick_labels += [f"{label} GT", f"{label} det"]
    ambiguous = [(start, end - start) for name, start, end, _ in truth if name == AMBIGUOUS]
    if ambiguous:
        axes.broken_barh(
            ambiguous, (0.15, 0.7), facecolors="lightgrey", hatch="//", edgecolors="grey"
        )
        ticks.append(0.5)
        tick_labels.append(AMBIGUOUS)
    axes.set_yticks(ticks, tick_labels)
    axes.set_ylim(0, max(rows, 1))
    axes.grid(axis="x", alpha=0.3)


def _draw_curves(axes, labels, scores, weights, fps, classes) -> None:
    """Class-score step curves (left axis) and selection weights (right axis, dashed)."""
    edges = np.arange(len(scores) + 1) / fps
    column = {name: index for index, name in enumerate(classes)}
    drawn = [(index, label) for index, label in enumerate(labels) if label in column]
    for index, label in drawn:
        axes.stairs(scores[:, column[label]], edges, color=f"C{index % 10}", label=f"{label} score")
    axes.set_ylim(0, 1.05)
    axes.set_ylabel("class score")
    axes.set_xlabel("time (s)")
    axes.grid(alpha=0.3)
    handles, names = axes.get_legend_handles_labels()
    if weights is not None:
        selection_axes = axes.twinx()
        if weights.shape[1] == 1:
            curves = [(weights[:, 0], "black", "selection")]
        else:
            curves = [
                (weights[:, column[label]], f"C{index % 10}", f"{label} selection")
                for index, label in drawn
            ]
        for values, color, name in curves:
            selection_axes.stairs(values, edges, color=color, linestyle="--", label=name)
        selection_axes.set_ylim(0, max(float(weights.max()), 1e-12) * 1.05)
        selection_axes.set_ylabel("selection weight")
        more_handles, more_names = selection_axes.get_legend_handles_labels()
        handles, names = handles + more_handles, names + more_names
    if handles:
        # Outside the plot, right of the selection axis, so that it never covers a curve.
        axes.legend(handles, names, loc="upper left", bbox_to_anchor=(1.07, 1.0), fontsize="small")


def _check_entries(entries: Sequence[Mapping], video: str, name: str, scored: bool) -> list:
    """`[(label, start, end, score)]` from segment dicts; DataError naming a malformed video."""
    checked = []
    for index, entry in enumerate(entries):
        try:
            label = entry["label"]
            start, end = (float(value) for value in entry["segment"])
            score = float(entry["score"]) if scored else 1.0
        except (KeyError, TypeError, ValueError):
            raise DataError(
                f"video {video!r}, {name}[{index}]: expected "
                + ('{"label", "score", "segment": [s, e]}' if scored else '{"label", "segment"}')
                + f"; got {entry!r}"
            ) from None
        if not isinstance(label, str) or not all(map(math.isfinite, (start, end, score))):
            raise DataError(f"video {video!r}, {name}[{index}]: bad label or non-finite value")
        if start > end:
            raise DataError(f"video {video!r}, {name}[{index}]: start {start} is after end {end}")
        checked.append((label, start, end, score))
    return checked


def _default_labels(truth: list, found: list, scores, classes, max_labels: int) -> list[str]:
    labels: list[str] = []
    for label, *_ in truth:
        if label != AMBIGUOUS and label not in labels:
            labels.append(label)
    for label, *_ in sorted(found, key=lambda entry: -entry[3]):
        if label not in labels:
            labels.append(label)
    if not labels and scores is not None:
        labels = [classes[index] for index in np.argsort(-scores.max(axis=0), kind="stable")]
    return labels[:max_labels]


def _check_curves(snippet_scores, selection, feature_fps, classes, video):
    if snippet_scores is None:
        if selection is not None:
            raise ValueError("plot_video: selection is drawn with snippet_scores, which is None")
        return None, None, None
    if feature_fps is None or classes is None:
        raise ValueError("plot_video: snippet_scores need feature_fps and classes")
    fps = check_feature_fps(feature_fps, video)
    scores = check_snippet_array(snippet_scores, "snippet_scores", video)
    check_class_names(classes, scores.shape[1], video)
    weights = None if selection is None else check_selection(selection, scores.shape, video)
    return scores, weights, fps
