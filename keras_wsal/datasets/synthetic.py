"""Synthetic untrimmed-video feature datasets with planted action instances.

Each video of `T` snippets has one or two action classes, each with one or more instances
(consecutive snippets `[s, s + L)`, never touching another instance). Snippet `t` of a stream gets

    x_t = class_signal * sum_c a_c(t) u_c                  class evidence, only on the class's instances
        + actionness_signal * max_c a_c(t) w               "something happens here", shared by classes
        + context_signal * k * sum_{c in context} v_c      scene context, the same at every snippet
        + noise * n_t,   n_t = ρ n_{t-1} + sqrt(1 - ρ²) e_t,  e_t ~ N(0, I_D),  n_0 = e_0

where `u_c` (class), `v_c` (context) and `w` (actionness) are unit directions, mutually orthogonal
when `D >= 2C + 1` (`synthetic_directions`). The amplitude `a_c(t) = clip(0.5 + d / boundary_width,
0, 1)`, with `d` the signed distance (in snippets, positive inside) from the centre `t + 0.5` to the
nearest edge of an instance of class `c`, ramps up over `boundary_width` snippets around each edge:
boundaries are ambiguous. The noise is a stationary AR(1) process with unit variance and lag-one
correlation ρ = `noise_correlation` (0.9 by default): consecutive real snippet features overlap in
time and are strongly correlated, and white noise (ρ = 0) would make per-snippet scores jitter far
more than real ones. The context classes are the video's classes plus, with probability
`distractor_probability`, one class absent from the video; `k ~ U(0.5, 1.5)` per video. Because
context is present at every snippet of a video of class `c`, a model that averages all snippets
learns `v_c` and cannot tell where the action is; selecting snippets (attention, WSGN's `g`) is
what finds `u_c` and `w`.

Temporal structure: "random" draws T uniformly in `[min_length, max_length]`, two classes with
probability `two_class_probability`, 1-6 instances per class and log-uniform instance lengths from
2 snippets to T / 4 (actions then cover at most 60% of the video); "thumos14" draws whole videos of
the THUMOS14 validation set (duration, instance lengths, classes of each instance, e.g. CliffDiving
instances that are also Diving) from `keras_wsal/data/thumos14_structure.json` (see
`_make_structure.py`), converted to snippets at `feature_fps`, with the 20 THUMOS14 class names.

Everything is drawn from `seed`: video `i` (counted over all subsets, in the order of `subsets`) has
its own generators, so the same arguments always give the same files.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources

import numpy as np

from keras_wsal.datasets._files import STREAM_SETS
from keras_wsal.datasets.feature_dataset import FeatureDataset
from keras_wsal.datasets.writers import write_videos

TEMPORAL_STRUCTURES = ("random", "thumos14")
_MAX_INSTANCES_PER_CLASS = 6
# Share of a "random" video that its actions may cover at most.
_MAX_ACTION_FRACTION = 0.6


@dataclass(frozen=True)
class SyntheticDirections:
    """The unit directions of one stream's planted signals (see the module docstring).

    Attributes:
        class_signal: [C, D], `u_c`: the evidence of class `c` on its action snippets.
        context: [C, D], `v_c`: the scene context of videos of class `c`, present at every snippet.
        actionness: [D], `w`: present on the action snippets of every class.
    """

    class_signal: np.ndarray
    context: np.ndarray
    actionness: np.ndarray


def synthetic_directions(
    num_classes: int, feature_dim: int, streams: Sequence[str] = ("features",), seed: int = 0
) -> dict[str, SyntheticDirections]:
    """The directions `make_synthetic_dataset` plants with the same arguments, per stream.

    The `2C + 1` directions are orthonormal when `feature_dim >= 2C + 1` (QR of a Gaussian matrix),
    otherwise independent random unit vectors.
    """
    directions = {}
    for k, stream in enumerate(streams):
        rng = np.random.default_rng([seed, 0, k])
        gaussian = rng.standard_normal((feature_dim, 2 * num_classes + 1))
        if feature_dim >= 2 * num_classes + 1:
            basis, _ = np.linalg.qr(gaussian)
        else:
            basis = gaussian / np.linalg.norm(gaussian, axis=0)
        directions[stream] = SyntheticDirections(
            class_signal=basis[:, :num_classes].T.copy(),
            context=basis[:, num_classes : 2 * num_classes].T.copy(),
            actionness=basis[:, 2 * num_classes].copy(),
        )
    return directions


@dataclass(frozen=True)
class _Plan:
    """One video's snippets: `T`, its instances (start, length, class indices) and context classes."""

    num_snippets: int
    instances: tuple[tuple[int, int, tuple[int, ...]], ...]
    context: tuple[int, ...]


def _place(
    rng: np.random.Generator, num_snippets: int, lengths: list[float], labels: list, max_action: int
) -> tuple:
    """Instances of about `lengths` snippets placed in random order, at random, never touching.

    Lengths are scaled down so that they fit in `max_action` snippets with one background snippet
    between neighbours; instances are dropped at random if even one snippet each does not fit.
    """
    keep = rng.permutation(len(lengths))[: (num_snippets + 1) // 2]
    lengths = [max(1, round(lengths[i])) for i in keep]
    labels = [labels[i] for i in keep]
    room = max(len(lengths), min(max_action, num_snippets - (len(lengths) - 1)))
    while sum(lengths) > room:
        scale = room / sum(lengths)
        lengths = [max(1, math.floor(length * scale)) for length in lengths]
    free = num_snippets - sum(lengths) - (len(lengths) - 1)
    gaps = rng.multinomial(free, rng.dirichlet(np.ones(len(lengths) + 1)))
    instances, start = [], gaps[0]
    for length, label, gap in zip(lengths, labels, gaps[1:], strict=True):
        instances.append((int(start), length, tuple(label)))
        start += length + 1 + gap
    return tuple(instances)


def _random_plan(
    rng: np.random.Generator,
    num_classes: int,
    min_length: int,
    max_length: int,
    two_class_probability: float,
) -> tuple[int, list, list]:
    num_snippets = int(rng.integers(min_length, max_length + 1))
    two = num_classes > 1 and rng.random() < two_class_probability
    classes = rng.choice(num_classes, 2 if two else 1, replace=False)
    lengths, labels = [], []
    for c in classes:
        for _ in range(int(rng.integers(1, _MAX_INSTANCES_PER_CLASS + 1))):
            lengths.append(math.exp(rng.uniform(math.log(2), math.log(max(2, num_snippets / 4)))))
            labels.append((int(c),))
    return num_snippets, lengths, labels


def _thumos14_plan(
    rng: np.random.Generator, structure: Mapping, feature_fps: float
) -> tuple[int, list, list]:
    video = structure["videos"][int(rng.integers(len(structure["videos"])))]
    num_snippets = max(2, round(video["duration"] * feature_fps))
    lengths = [length * feature_fps for length, _ in video["instances"]]
    labels = [tuple(classes) for _, classes in video["instances"]]
    return num_snippets, lengths, labels


def _video_plan(
    rng: np.random.Generator,
    num_classes: int,
    structure: Mapping | None,
    feature_fps: float,
    length_range: tuple[int, int],
    two_class_probability: float,
    distractor_probability: float,
) -> _Plan:
    """One video's plan: "random" when `structure` is None, else a THUMOS14 video's structure."""
    if structure is None:
        num_snippets, lengths, labels = _random_plan(
            rng, num_classes, *length_range, two_class_probability
        )
        max_action = math.floor(_MAX_ACTION_FRACTION * num_snippets)
    else:
        num_snippets, lengths, labels = _thumos14_plan(rng, structure, feature_fps)
        max_action = num_snippets
    instances = _place(rng, num_snippets, lengths, labels, max_action)
    present = sorted({c for _, _, classes in instances for c in classes})
    absent = [c for c in range(num_classes) if c not in present]
    context = present
    if absent and rng.random() < distractor_probability:
        context = sorted([*present, int(rng.choice(absent))])
    return _Plan(num_snippets, instances, tuple(context))


def _amplitudes(plan: _Plan, num_classes: int, boundary_width: float) -> np.ndarray:
    """a_c(t), [T, C]: the ramped presence of each class at each snippet (module docstring)."""
    centres = np.arange(plan.num_snippets) + 0.5
    amplitude = np.zeros((plan.num_snippets, num_classes))
    for start, length, classes in plan.instances:
        inside = np.minimum(centres - start, start + length - centres)
        if boundary_width > 0:
            ramp = np.clip(0.5 + inside / boundary_width, 0.0, 1.0)
        else:
            ramp = (inside > 0).astype(float)
        for c in classes:
            amplitude[:, c] = np.maximum(amplitude[:, c], ramp)
    return amplitude


def _ar1_noise(rng: np.random.Generator, length: int, dim: int, correlation: float) -> np.ndarray:
    """[length, dim] stationary AR(1) noise with unit variance and lag-one `correlation`."""
    innovations = rng.standard_normal((length, dim))
    noise = np.empty_like(innovations)
    noise[0] = innovations[0]
    scale = math.sqrt(1.0 - correlation**2)
    for t in range(1, length):
        noise[t] = correlation * noise[t - 1] + scale * innovations[t]
    return noise


def _load_thumos14_structure() -> dict:
    path = resources.files("keras_wsal") / "data" / "thumos14_structure.json"
    return json.loads(path.read_text(encoding="utf-8"))


def make_synthetic_dataset(
    root: str | os.PathLike,
    num_videos: int | None = None,
    num_classes: int | None = None,
    feature_dim: int = 32,
    streams: Sequence[str] = ("features",),
    feature_fps: float = 25 / 16,
    seed: int = 0,
    subsets: Mapping[str, int] | None = None,
    temporal_structure: str = "random",
    min_length: int = 60,
    max_length: int = 400,
    two_class_probability: float = 0.25,
    class_signal: float = 2.5,
    actionness_signal: float = 1.5,
    context_signal: float = 1.0,
    noise: float = 1.0,
    boundary_width: float = 2.0,
    distractor_probability: float = 0.3,
    noise_correlation: float = 0.9,
    scene_size: int = 1,
) -> FeatureDataset:
    """Write a seeded synthetic feature dataset (module docstring) to `root` and open it.

    Args:
        root: the dataset folder (created if needed).
        num_videos: the number of videos when `subsets` is None (default 40, split half "validation",
            half "test"); if both are given they must agree.
        num_classes: C (default 5; "thumos14" has 20 and accepts only 20 or None).
        feature_dim: D of each stream.
        streams: ("features",) or ("rgb", "flow") (each with its own directions and noise).
        feature_fps: snippets per second (segments are written in seconds).
        seed: the seed of everything.
        subsets: {subset name: number of videos}.
        temporal_structure: "random" or "thumos14".
        min_length, max_length: the range of T for "random".
        two_class_probability: the chance a "random" video has two classes.
        class_signal, actionness_signal, context_signal, noise: the strengths in the equation.
        boundary_width: the width, in snippets, of the ramp at instance edges (0: hard edges).
        distractor_probability: the chance a video also carries the context of an absent class.
        noise_correlation: ρ in [0, 1), the lag-one correlation of the AR(1) noise over time.
        scene_size: classes share scenes in groups of this size: class `c`'s context direction is
            `v_{c // scene_size}` (1: every class has its own context).

    Returns:
        The written `FeatureDataset`; `meta["synthetic"]` records these arguments.

    Raises:
        ValueError: an argument out of range.
    """
    streams = tuple(streams)
    if streams not in STREAM_SETS:
        raise ValueError(f'streams must be ("features",) or ("rgb", "flow"), got {streams}')
    if temporal_structure not in TEMPORAL_STRUCTURES:
        raise ValueError(
            f"temporal_structure must be one of {TEMPORAL_STRUCTURES}, got {temporal_structure!r}"
        )
    structure = _load_thumos14_structure() if temporal_structure == "thumos14" else None
    if structure is not None:
        if num_classes not in (None, len(structure["classes"])):
            raise ValueError(
                f'temporal_structure="thumos14" has {len(structure["classes"])} classes, '
                f"got num_classes={num_classes}"
            )
        classes = list(structure["classes"])
    else:
        num_classes = 5 if num_classes is None else num_classes
        if num_classes < 1:
            raise ValueError(f"num_classes must be at least 1, got {num_classes}")
        classes = [f"class_{c:02d}" for c in range(num_classes)]
    if subsets is None:
        total = 40 if num_videos is None else num_videos
        subsets = {"validation": total - total // 2, "test": total // 2}
    elif num_videos is not None and num_videos != sum(subsets.values()):
        raise ValueError(
            f"num_videos={num_videos} but subsets {dict(subsets)} add up to another count"
        )
    if not subsets or any(n < 1 for n in subsets.values()):
        raise ValueError(f"subsets must give each subset at least one video, got {dict(subsets)}")
    if isinstance(scene_size, bool) or not isinstance(scene_size, int) or scene_size < 1:
        raise ValueError(f"scene_size must be an int >= 1, got {scene_size!r}")
    if not 0.0 <= noise_correlation < 1.0:
        raise ValueError(f"noise_correlation must be in [0, 1), got {noise_correlation}")
    if feature_dim < 1 or not 4 <= min_length <= max_length:
        raise ValueError(
            f"need feature_dim >= 1 and 4 <= min_length <= max_length, got feature_dim={feature_dim}, "
            f"min_length={min_length}, max_length={max_length}"
        )
    num_classes = len(classes)

    plans, database = {}, {}
    videos = [
        (subset, f"video_{subset}_{i:05d}")
        for subset, n in subsets.items()
        for i in range(1, n + 1)
    ]
    for number, (subset, video) in enumerate(videos):
        plan = _video_plan(
            np.random.default_rng([seed, 1, number]),
            num_classes,
            structure,
            feature_fps,
            (min_length, max_length),
            two_class_probability,
            distractor_probability,
        )
        plans[video] = (number, plan)
        database[video] = {
            "subset": subset,
            "duration": plan.num_snippets / feature_fps,
            "annotations": [
                {
                    "segment": [start / feature_fps, (start + length) / feature_fps],
                    "label": classes[c],
                }
                for start, length, instance_classes in plan.instances
                for c in instance_classes
            ],
        }

    directions = synthetic_directions(num_classes, feature_dim, streams, seed)

    def load_features(video: str) -> dict[str, np.ndarray]:
        number, plan = plans[video]
        rng = np.random.default_rng([seed, 2, number])
        amplitude = _amplitudes(plan, num_classes, boundary_width)
        context_strength = context_signal * rng.uniform(0.5, 1.5)
        scenes = sorted({c // scene_size for c in plan.context})
        features = {}
        for stream in streams:
            d = directions[stream]
            features[stream] = (
                class_signal * amplitude @ d.class_signal
                + actionness_signal * amplitude.max(axis=1, keepdims=True) * d.actionness
                + context_strength * d.context[scenes].sum(axis=0)
                + noise * _ar1_noise(rng, plan.num_snippets, feature_dim, noise_correlation)
            )
        return features

    arguments = {
        "seed": seed,
        "temporal_structure": temporal_structure,
        "subsets": dict(subsets),
        "min_length": min_length,
        "max_length": max_length,
        "two_class_probability": two_class_probability,
        "class_signal": class_signal,
        "actionness_signal": actionness_signal,
        "context_signal": context_signal,
        "noise": noise,
        "boundary_width": boundary_width,
        "distractor_probability": distractor_probability,
        "noise_correlation": noise_correlation,
        "scene_size": scene_size,
    }
    dataset, _ = write_videos(
        root, database, load_features, feature_fps, classes, {"synthetic": arguments}
    )
    return dataset
