"""Synthetic untrimmed-video feature datasets with planted action instances.

Each video of `T` snippets has one or two action classes, each with one or more instances
(consecutive snippets `[s, s + L)`, never touching another instance). Snippet `t` of a stream gets

    x_t = class_signal * sum_c a_c(t) u_c               class evidence, on the class's instances
        + actionness_signal * max_c a_c(t) w            "something happens", shared by classes
        + context_signal * k * sum_{c in context} v_c   scene context, the same at every snippet
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

Realism (all off by default; `THUMOS14_LIKE` turns them on at strengths that make the
benchmark's table look like the same models' table on real THUMOS14 I3D features):

- `evidence_peak`: inside an instance the class evidence is not flat but peaks at a random key
  moment, `a_c(t) · (f + (1 - f) exp(-((t - key) / w)²))` with `f = evidence_floor` and `w =
  evidence_peak · L / 2 + 0.5` for an instance of `L` snippets;
- `instance_strength = (lo, hi)`: each instance's evidence is scaled by `U(lo, hi)` (weak
  instances);
- `confusion = ρ_c`: classes of one scene group share part of their evidence,
  `u_c = sqrt(1 - ρ_c) e_c + sqrt(ρ_c) g_group(c)` (cosine `ρ_c` between confusable classes);
- `scene_groups`: the group of each class (shared scene context and shared evidence);
- `lookalike_rate`: unlabeled look-alike events per minute (replays, slow-motion repeats): the
  evidence of one of the video's own classes (or a confusable one) at `lookalike_strength`, with
  actionness, placed in the background and never annotated;
- `motion_rate`: generic-motion events per minute: actionness and a random mixture of class
  evidence at `lookalike_strength / 2`, no class;
- `video_offset`: a per-video constant offset `N(0, video_offset² / D · I)` on every snippet
  (camera, lighting);
- `real_positions` ("thumos14" only): instances keep their real THUMOS14 start times, and a
  subset named "test" takes its videos from the THUMOS14 test set (each real video once, in a
  seeded order, while the subset has no more videos than the set).

Temporal structure: "random" draws T uniformly in `[min_length, max_length]`, two classes with
probability `two_class_probability`, 1-6 instances per class and log-uniform instance lengths from
2 snippets to T / 4 (actions then cover at most 60% of the video); "thumos14" draws whole videos of
the THUMOS14 validation set (duration, instance lengths, classes of each instance, e.g. CliffDiving
instances that are also Diving) from `keras_wsal/data/thumos14_structure.json` (see
`scripts/make_thumos14_structure.py`), converted to snippets at `feature_fps`, with the 20 THUMOS14
class names.
Look-alike and generic-motion events are placed in the background with one snippet of gap.

Everything is drawn from `seed`: video `i` (counted over all subsets, in the order of `subsets`) has
its own generators, so the same arguments always give the same files.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping, Sequence

import numpy as np

from keras_wsal.datasets.feature_dataset import FeatureDataset
from keras_wsal.datasets.synthetic_plan import (
    TEMPORAL_STRUCTURES,
    amplitudes,
    ar1_noise,
    background_events,
    event_amplitudes,
    load_thumos14_structure,
    structure_videos,
    synthetic_directions,
    video_plan,
)
from keras_wsal.datasets.writers import write_dataset_by_video
from keras_wsal.formats.dataset_layout import STREAM_SETS
from keras_wsal.utils.arguments import is_int

# The sports of THUMOS14 that share venues and look alike, in the class order of the shipped
# structure (sorted names): scene group of each of the 20 classes (`THUMOS14_LIKE`).
THUMOS14_SCENE_GROUPS = {
    "BaseballPitch": 0,
    "BasketballDunk": 1,
    "Billiards": 2,
    "CleanAndJerk": 3,
    "CliffDiving": 4,
    "CricketBowling": 5,
    "CricketShot": 5,
    "Diving": 4,
    "FrisbeeCatch": 6,
    "GolfSwing": 7,
    "HammerThrow": 8,
    "HighJump": 9,
    "JavelinThrow": 8,
    "LongJump": 9,
    "PoleVault": 9,
    "Shotput": 8,
    "SoccerPenalty": 10,
    "TennisSwing": 11,
    "ThrowDiscus": 8,
    "VolleyballSpiking": 1,
}

# The realism preset of `benchmarks/bench_quality.py`: THUMOS14's real videos and instance times,
# confusable sports sharing scenes, evidence peaking inside instances, weak instances, unlabeled
# look-alikes and generic motion, per-video offsets, correlated noise. Pass as
# `make_synthetic_dataset(root, **THUMOS14_LIKE, feature_dim=..., seed=...)`.
THUMOS14_LIKE = {
    "temporal_structure": "thumos14",
    "real_positions": True,
    "subsets": {"validation": 200, "test": 212},
    "scene_groups": list(THUMOS14_SCENE_GROUPS.values()),
    "class_signal": 6.0,
    "actionness_signal": 1.5,
    "context_signal": 1.5,
    "noise": 1.0,
    "noise_correlation": 0.9,
    "boundary_width": 2.0,
    "distractor_probability": 0.3,
    "evidence_peak": 0.5,
    "evidence_floor": 0.5,
    "instance_strength": (0.5, 1.0),
    "confusion": 0.3,
    "lookalike_rate": 1.0,
    "lookalike_strength": 0.6,
    "motion_rate": 1.0,
    "video_offset": 1.0,
}


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
    scene_groups: Sequence[int] | None = None,
    real_positions: bool = False,
    evidence_peak: float | None = None,
    evidence_floor: float = 0.3,
    instance_strength: tuple[float, float] = (1.0, 1.0),
    confusion: float = 0.0,
    lookalike_rate: float = 0.0,
    lookalike_strength: float = 0.6,
    motion_rate: float = 0.0,
    video_offset: float = 0.0,
) -> FeatureDataset:
    """Write a seeded synthetic feature dataset (module docstring) to `root` and open it.

    Args:
        root: the dataset folder (created if needed).
        num_videos: the number of videos when `subsets` is None (default 40, split half
            "validation",
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
        scene_groups: instead of `scene_size`, the scene group of each class (C ints).
        real_positions, evidence_peak, evidence_floor, instance_strength, confusion,
            lookalike_rate, lookalike_strength, motion_rate, video_offset: the realism of the
            module docstring (all off by default; `THUMOS14_LIKE` turns them on).

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
    structure = load_thumos14_structure() if temporal_structure == "thumos14" else None
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
        if real_positions:
            raise ValueError('real_positions=True needs temporal_structure="thumos14"')
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
    if not is_int(scene_size, 1):
        raise ValueError(f"scene_size must be an int >= 1, got {scene_size!r}")
    if not 0.0 <= noise_correlation < 1.0:
        raise ValueError(f"noise_correlation must be in [0, 1), got {noise_correlation}")
    if feature_dim < 1 or not 4 <= min_length <= max_length:
        raise ValueError(
            f"need feature_dim >= 1 and 4 <= min_length <= max_length, got "
            f"feature_dim={feature_dim}, "
            f"min_length={min_length}, max_length={max_length}"
        )
    num_classes = len(classes)
    groups = (
        [c // scene_size for c in range(num_classes)]
        if scene_groups is None
        else list(scene_groups)
    )
    if len(groups) != num_classes or any(
        isinstance(g, bool) or not isinstance(g, int) or g < 0 for g in groups
    ):
        raise ValueError(f"scene_groups must be {num_classes} ints >= 0, got {scene_groups!r}")
    if not 0.0 <= confusion < 1.0:
        raise ValueError(f"confusion must be in [0, 1), got {confusion}")
    if evidence_peak is not None and not evidence_peak > 0:
        raise ValueError(f"evidence_peak must be > 0 or None, got {evidence_peak}")
    low, high = instance_strength
    if not 0.0 < low <= high:
        raise ValueError(
            f"instance_strength must be (lo, hi) with 0 < lo <= hi, got {instance_strength}"
        )
    for name, value in (
        ("evidence_floor", evidence_floor),
        ("lookalike_rate", lookalike_rate),
        ("lookalike_strength", lookalike_strength),
        ("motion_rate", motion_rate),
        ("video_offset", video_offset),
    ):
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")

    plans, database = {}, {}
    videos = [
        (subset, i, f"video_{subset}_{i + 1:05d}")
        for subset, n in subsets.items()
        for i in range(n)
    ]
    orders = {}
    for number, (subset, index, video) in enumerate(videos):
        rng = np.random.default_rng([seed, 1, number])
        structure_video = None
        if structure is not None:
            pool = structure_videos(structure, subset, real_positions)
            if real_positions:
                order = orders.setdefault(
                    subset, np.random.default_rng([seed, 5, len(orders)]).permutation(len(pool))
                )
                structure_video = pool[order[index % len(pool)]]
            else:
                structure_video = pool[int(rng.integers(len(pool)))]
        plan = video_plan(
            rng,
            num_classes,
            structure_video,
            feature_fps,
            (min_length, max_length),
            two_class_probability,
            distractor_probability,
            real_positions,
        )
        if lookalike_rate > 0 or motion_rate > 0:
            events = background_events(
                rng,
                plan.instances,
                plan.num_snippets,
                feature_fps,
                num_classes,
                groups,
                lookalike_rate,
                motion_rate,
            )
            plan = dataclasses.replace(plan, events=events)
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

    directions = synthetic_directions(
        num_classes, feature_dim, streams, seed, num_groups=max(groups) + 1
    )

    def load_features(video: str) -> dict[str, np.ndarray]:
        number, plan = plans[video]
        rng = np.random.default_rng([seed, 2, number])
        realism = np.random.default_rng([seed, 4, number])
        amplitude, presence = amplitudes(
            plan,
            num_classes,
            boundary_width,
            realism,
            evidence_peak,
            evidence_floor,
            instance_strength,
        )
        event_evidence, event_presence = event_amplitudes(plan, num_classes, boundary_width)
        context_strength = context_signal * rng.uniform(0.5, 1.5)
        scenes = sorted({groups[c] for c in plan.context})
        features = {}
        for stream in streams:
            d = directions[stream]
            evidence = d.evidence(confusion, groups) if confusion else d.class_signal
            features[stream] = (
                class_signal * amplitude @ evidence
                + actionness_signal * presence[:, None] * d.actionness
                + context_strength * d.context[scenes].sum(axis=0)
                + noise * ar1_noise(rng, plan.num_snippets, feature_dim, noise_correlation)
            )
            if plan.events:
                features[stream] += class_signal * lookalike_strength * event_evidence @ evidence
                features[stream] += actionness_signal * event_presence[:, None] * d.actionness
            if video_offset:
                offset = (
                    realism.standard_normal(feature_dim) * video_offset / math.sqrt(feature_dim)
                )
                features[stream] += offset
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
        "scene_groups": groups,
        "real_positions": real_positions,
        "evidence_peak": evidence_peak,
        "evidence_floor": evidence_floor,
        "instance_strength": list(instance_strength),
        "confusion": confusion,
        "lookalike_rate": lookalike_rate,
        "lookalike_strength": lookalike_strength,
        "motion_rate": motion_rate,
        "video_offset": video_offset,
    }
    dataset, _ = write_dataset_by_video(
        root, database, load_features, feature_fps, classes, {"synthetic": arguments}
    )
    return dataset
