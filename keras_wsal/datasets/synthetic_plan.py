"""The plan of a synthetic world that `keras_wsal.datasets.make_synthetic_dataset` turns into
features: the feature directions of classes, scenes and events (`synthetic_directions`), where
each video's actions and events happen (random or THUMOS14 timelines, background events), how
strongly (per-snippet amplitudes) and its AR(1) noise."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources

import numpy as np

TEMPORAL_STRUCTURES = ("random", "thumos14")
MAX_INSTANCES_PER_CLASS = 6
# Share of a "random" video that its actions may cover at most.
MAX_ACTION_FRACTION = 0.6


@dataclass(frozen=True)
class SyntheticDirections:
    """The unit directions of one stream's planted signals (see the module docstring).

    Attributes:
        class_signal: [C, D], `e_c`: the class-specific evidence of class `c` on its action
        snippets.
        context: [C, D], `v_c`: the scene context of videos of class `c`, present at every snippet.
        actionness: [D], `w`: present on the action snippets of every class.
        group: [G, D], `g_k`: the evidence shared by the confusable classes of scene group `k`.
    """

    class_signal: np.ndarray
    context: np.ndarray
    actionness: np.ndarray
    group: np.ndarray

    def evidence(self, confusion: float, groups: Sequence[int]) -> np.ndarray:
        """[C, D], `u_c = sqrt(1 - confusion) e_c + sqrt(confusion) g_group(c)`."""
        shared = self.group[np.asarray(groups, dtype=np.int64)]
        return math.sqrt(1.0 - confusion) * self.class_signal + math.sqrt(confusion) * shared


def synthetic_directions(
    num_classes: int,
    feature_dim: int,
    streams: Sequence[str] = ("features",),
    seed: int = 0,
    num_groups: int | None = None,
) -> dict[str, SyntheticDirections]:
    """The directions `make_synthetic_dataset` plants with the same arguments, per stream.

    The `2C + 1` directions are orthonormal when `feature_dim >= 2C + 1` (QR of a Gaussian matrix),
    otherwise independent random unit vectors. The `num_groups` (default C) group directions are
    drawn apart and made orthogonal to those and to each other when they all fit in `feature_dim`.
    """
    num_groups = num_classes if num_groups is None else num_groups
    directions = {}
    for k, stream in enumerate(streams):
        rng = np.random.default_rng([seed, 0, k])
        gaussian = rng.standard_normal((feature_dim, 2 * num_classes + 1))
        if feature_dim >= 2 * num_classes + 1:
            basis, _ = np.linalg.qr(gaussian)
        else:
            basis = gaussian / np.linalg.norm(gaussian, axis=0)
        group = np.random.default_rng([seed, 3, k]).standard_normal((feature_dim, num_groups))
        if feature_dim >= 2 * num_classes + 1 + num_groups:
            group, _ = np.linalg.qr(group - basis @ (basis.T @ group))
        else:
            group = group / np.linalg.norm(group, axis=0)
        directions[stream] = SyntheticDirections(
            class_signal=basis[:, :num_classes].T.copy(),
            context=basis[:, num_classes : 2 * num_classes].T.copy(),
            actionness=basis[:, 2 * num_classes].copy(),
            group=group.T.copy(),
        )
    return directions


@dataclass(frozen=True)
class Plan:
    """One video's snippets: `T`, its instances (start, length, class indices), context classes,
    and its unlabeled events (start, length, class evidence weights [C] or None for none)."""

    num_snippets: int
    instances: tuple[tuple[int, int, tuple[int, ...]], ...]
    context: tuple[int, ...]
    events: tuple = ()


def place(
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


def place_real(num_snippets: int, video: Mapping, feature_fps: float) -> tuple:
    """A THUMOS14 video's instances at their real times, in snippets (at least one snippet each).

    Instances are merged per class where their snippets overlap or touch (two annotations of one
    class in the same snippet are one instance at this rate); instances of different classes may
    overlap, as they do in THUMOS14.
    """
    spans: dict[tuple[int, ...], list[list[int]]] = {}
    for start_s, length_s, classes in video["instances"]:
        start = min(num_snippets - 1, math.floor(start_s * feature_fps))
        end = min(num_snippets, max(start + 1, round((start_s + length_s) * feature_fps)))
        spans.setdefault(tuple(classes), []).append([start, end])
    instances = []
    for classes, runs in spans.items():
        runs.sort()
        merged = [runs[0]]
        for start, end in runs[1:]:
            if start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        instances.extend((start, end - start, classes) for start, end in merged)
    return tuple(sorted(instances))


def random_plan(
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
        for _ in range(int(rng.integers(1, MAX_INSTANCES_PER_CLASS + 1))):
            lengths.append(math.exp(rng.uniform(math.log(2), math.log(max(2, num_snippets / 4)))))
            labels.append((int(c),))
    return num_snippets, lengths, labels


def background_events(
    rng: np.random.Generator,
    instances: tuple,
    num_snippets: int,
    feature_fps: float,
    num_classes: int,
    groups: Sequence[int],
    lookalike_rate: float,
    motion_rate: float,
) -> tuple:
    """Unlabeled events in the background: look-alikes of the video's classes and generic motion.

    Each is `(start, length, weights)`, `weights` [C] the class evidence it carries (look-alike: one
    of the video's classes, or a class of the same scene group, weight 1; generic motion: a random
    mixture summing to 1, weighted ½ by the caller's strength halving). Events keep one snippet
    away from instances and from each other; an event that finds no room after a few draws is
    dropped.
    """
    minutes = num_snippets / feature_fps / 60.0
    busy = np.zeros(num_snippets + 2, dtype=bool)
    for start, length, _ in instances:
        busy[start : start + length + 2] = True  # index shift of 1: a one-snippet margin
    present = sorted({c for _, _, classes in instances for c in classes})
    lengths = [length for _, length, _ in instances] or [2]
    events = []
    kinds = ["lookalike"] * int(rng.poisson(lookalike_rate * minutes)) + ["motion"] * int(
        rng.poisson(motion_rate * minutes)
    )
    for kind in kinds:
        length = int(lengths[int(rng.integers(len(lengths)))])
        if length + 2 > num_snippets:
            continue
        for _ in range(5):
            start = int(rng.integers(0, num_snippets - length + 1))
            if not busy[start : start + length + 2].any():
                break
        else:
            continue
        busy[start : start + length + 2] = True
        weights = np.zeros(num_classes)
        if kind == "lookalike" and present:
            c = present[int(rng.integers(len(present)))]
            if rng.random() < 0.3:
                peers = [k for k in range(num_classes) if groups[k] == groups[c]]
                c = peers[int(rng.integers(len(peers)))]
            weights[c] = 1.0
        else:
            weights = 0.5 * rng.dirichlet(np.ones(num_classes))
        events.append((start, length, weights))
    return tuple(events)


def amplitudes(
    plan: Plan,
    num_classes: int,
    boundary_width: float,
    rng: np.random.Generator | None = None,
    evidence_peak: float | None = None,
    evidence_floor: float = 0.3,
    instance_strength: tuple[float, float] = (1.0, 1.0),
) -> tuple[np.ndarray, np.ndarray]:
    """(a_c(t) [T, C], the ramped presence of each class; presence(t) [T], max over classes).

    With `evidence_peak`, or `instance_strength` other than (1, 1), the class evidence of each
    instance is shaped and scaled (module docstring) from `rng`; the presence (which drives the
    actionness) keeps the plain ramp.
    """
    centres = np.arange(plan.num_snippets) + 0.5
    amplitude = np.zeros((plan.num_snippets, num_classes))
    presence = np.zeros(plan.num_snippets)
    shaped = evidence_peak is not None or tuple(instance_strength) != (1.0, 1.0)
    for start, length, classes in plan.instances:
        inside = np.minimum(centres - start, start + length - centres)
        if boundary_width > 0:
            ramp = np.clip(0.5 + inside / boundary_width, 0.0, 1.0)
        else:
            ramp = (inside > 0).astype(float)
        presence = np.maximum(presence, ramp)
        evidence = ramp
        if shaped:
            scale = rng.uniform(*instance_strength)
            if evidence_peak is not None:
                key = start + rng.uniform(0.0, length)
                width = evidence_peak * length / 2.0 + 0.5
                bump = np.exp(-(((centres - key) / width) ** 2))
                evidence = ramp * (evidence_floor + (1.0 - evidence_floor) * bump)
            evidence = scale * evidence
        for c in classes:
            amplitude[:, c] = np.maximum(amplitude[:, c], evidence)
    return amplitude, presence


def event_amplitudes(plan: Plan, num_classes: int, boundary_width: float) -> tuple:
    """(class evidence [T, C], presence [T]) of the unlabeled events, ramped like instances."""
    centres = np.arange(plan.num_snippets) + 0.5
    evidence = np.zeros((plan.num_snippets, num_classes))
    presence = np.zeros(plan.num_snippets)
    for start, length, weights in plan.events:
        inside = np.minimum(centres - start, start + length - centres)
        ramp = np.clip(0.5 + inside / max(boundary_width, 1e-9), 0.0, 1.0)
        presence = np.maximum(presence, ramp)
        evidence = np.maximum(evidence, ramp[:, None] * weights[None, :])
    return evidence, presence


def ar1_noise(rng: np.random.Generator, length: int, dim: int, correlation: float) -> np.ndarray:
    """[length, dim] stationary AR(1) noise with unit variance and lag-one `correlation`."""
    innovations = rng.standard_normal((length, dim))
    noise = np.empty_like(innovations)
    noise[0] = innovations[0]
    scale = math.sqrt(1.0 - correlation**2)
    for t in range(1, length):
        noise[t] = correlation * noise[t - 1] + scale * innovations[t]
    return noise


def load_thumos14_structure() -> dict:
    path = resources.files("keras_wsal") / "data" / "thumos14_structure.json"
    return json.loads(path.read_text(encoding="utf-8"))


def structure_videos(structure: Mapping, subset: str, real_positions: bool) -> list:
    """The THUMOS14 videos a subset samples: the test set for "test" with real positions."""
    source = "test" if real_positions and subset == "test" else "validation"
    return structure["subsets"][source]


def video_plan(
    rng: np.random.Generator,
    num_classes: int,
    structure_video: Mapping | None,
    feature_fps: float,
    length_range: tuple[int, int],
    two_class_probability: float,
    distractor_probability: float,
    real_positions: bool,
) -> Plan:
    """One video's plan: "random" when `structure_video` is None, else that THUMOS14 video's."""
    if structure_video is None:
        num_snippets, lengths, labels = random_plan(
            rng, num_classes, *length_range, two_class_probability
        )
        instances = place(
            rng, num_snippets, lengths, labels, math.floor(MAX_ACTION_FRACTION * num_snippets)
        )
    else:
        num_snippets = max(2, round(structure_video["duration"] * feature_fps))
        if real_positions:
            instances = place_real(num_snippets, structure_video, feature_fps)
        else:
            lengths = [length * feature_fps for _, length, _ in structure_video["instances"]]
            labels = [tuple(classes) for _, _, classes in structure_video["instances"]]
            instances = place(rng, num_snippets, lengths, labels, num_snippets)
    present = sorted({c for _, _, classes in instances for c in classes})
    absent = [c for c in range(num_classes) if c not in present]
    context = present
    if absent and rng.random() < distractor_probability:
        context = sorted([*present, int(rng.choice(absent))])
    return Plan(num_snippets, instances, tuple(context))
