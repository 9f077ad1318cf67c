import json
import math
from collections import Counter, defaultdict
from itertools import pairwise

import numpy as np
import pytest

from keras_wsal.datasets import make_synthetic_dataset, synthetic_directions
from keras_wsal.datasets.synthetic_plan import load_thumos14_structure
from scripts.make_thumos14_structure import summarise


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return make_synthetic_dataset(tmp_path_factory.mktemp("synthetic"), num_videos=30, seed=4)


def _truth(dataset, video):
    """[T, C] bool: snippet t's centre lies in an instance of class c (the written segments)."""
    centres = (np.arange(dataset.num_snippets(video)) + 0.5) / dataset.feature_fps
    truth = np.zeros((len(centres), len(dataset.classes)), bool)
    for segment in dataset.ground_truth():
        if segment.video == video:
            truth[:, dataset.classes.index(segment.label)] |= (centres >= segment.start) & (
                centres < segment.end
            )
    return truth


def _never_touch(segments):
    """Sorted (start, end, ...) tuples: each ends before the next starts."""
    return all(first[1] < second[0] for first, second in pairwise(segments))


def _auc(positive, negative):
    """P(score of a positive > score of a negative), by ranks (Mann-Whitney)."""
    ranks = np.concatenate([positive, negative]).argsort().argsort() + 1
    return (ranks[: len(positive)].sum() - len(positive) * (len(positive) + 1) / 2) / (
        len(positive) * len(negative)
    )


def test_seeded_and_deterministic(tmp_path, synthetic):
    again = make_synthetic_dataset(tmp_path / "again", num_videos=30, seed=4)
    other = make_synthetic_dataset(tmp_path / "other", num_videos=30, seed=5)
    for name in ("annotations.json", "meta.json"):
        assert (synthetic.root / name).read_bytes() == (again.root / name).read_bytes()
    video = synthetic.videos()[0]
    path = synthetic.feature_paths(video)["features"]
    assert path.read_bytes() == again.feature_paths(video)["features"].read_bytes()
    assert (synthetic.root / "annotations.json").read_bytes() != (
        other.root / "annotations.json"
    ).read_bytes()
    assert synthetic.meta["synthetic"]["seed"] == 4


def test_temporal_structure(synthetic):
    assert synthetic.subsets() == ["test", "validation"]
    assert len(synthetic.videos("validation")) == 15 and len(synthetic.videos("test")) == 15
    assert synthetic.classes == [f"class_{c:02d}" for c in range(5)]
    lengths, classes_per_video, instance_lengths = [], [], []
    for video in synthetic.videos():
        length = synthetic.num_snippets(video)
        lengths.append(length)
        assert synthetic.duration(video) == pytest.approx(length / synthetic.feature_fps)
        segments = sorted(
            (s.start, s.end, s.label) for s in synthetic.ground_truth() if s.video == video
        )
        counts = Counter(label for _, _, label in segments)
        classes_per_video.append(len(counts))
        assert all(1 <= n <= 6 for n in counts.values())
        assert _never_touch(segments)
        for start, end, _ in segments:
            snippets = (end - start) * synthetic.feature_fps
            assert 0 <= start < end <= synthetic.duration(video) + 1e-9
            assert snippets == pytest.approx(round(snippets))  # instance edges on snippet edges
            instance_lengths.append(round(snippets))
        assert (
            sum(end - start for start, end, _ in segments) <= 0.6 * synthetic.duration(video) + 1e-9
        )
    assert all(60 <= n <= 400 for n in lengths) and max(lengths) - min(lengths) > 100
    assert set(classes_per_video) == {1, 2}
    assert min(instance_lengths) <= 3 and max(instance_lengths) >= 30


def test_planted_segments_are_where_the_class_signal_is(synthetic):
    directions = synthetic_directions(5, 32, seed=4)["features"]
    action, background = [], []
    for video in synthetic.videos():
        features = synthetic.load_features(video)["features"]
        truth = _truth(synthetic, video)
        for c in np.flatnonzero(truth.any(axis=0)):
            probe = features @ (directions.class_signal[c] + directions.actionness)
            action.append(probe[truth[:, c]])
            background.append(probe[~truth.any(axis=1)])
    assert _auc(np.concatenate(action), np.concatenate(background)) > 0.9


def test_context_marks_the_video_not_the_action(synthetic):
    directions = synthetic_directions(5, 32, seed=4)["features"]
    with_class, without_class, action, background = [], [], [], []
    for video in synthetic.videos():
        features = np.asarray(synthetic.load_features(video)["features"])
        truth = _truth(synthetic, video)
        context = features @ directions.context.T  # [T, C]
        for c in range(5):
            (with_class if truth[:, c].any() else without_class).append(context[:, c].mean())
            if truth[:, c].any():
                action.append(context[truth[:, c], c])
                background.append(context[~truth.any(axis=1), c])
    # Present all through the videos of the class (k in [0.5, 1.5]), absent elsewhere but for
    # distractors, and no help in finding where the action is.
    assert np.median(with_class) > 0.7 and np.median(without_class) < 0.15
    assert _auc(np.array(with_class), np.array(without_class)) > 0.85
    assert abs(_auc(np.concatenate(action), np.concatenate(background)) - 0.5) < 0.1


def test_noise_free_amplitudes_ramp_at_the_edges(tmp_path):
    dataset = make_synthetic_dataset(tmp_path, subsets={"validation": 3}, noise=0.0, seed=2)
    directions = synthetic_directions(5, 32, seed=2)["features"]
    for video in dataset.videos():
        amplitude = dataset.load_features(video)["features"] @ directions.class_signal.T / 2.5
        segment = next(s for s in dataset.ground_truth() if s.video == video)
        c = dataset.classes.index(segment.label)
        start, end = (
            round(segment.start * dataset.feature_fps),
            round(segment.end * dataset.feature_fps),
        )
        inside = amplitude[start:end, c]
        # a(t) = clip(0.5 + d / 2, 0, 1): d = 0.5 on the edge snippets, 1.5 one further in.
        assert inside[0] == pytest.approx(0.75) and inside[-1] == pytest.approx(0.75)
        if end - start >= 4:
            assert inside[1:-1] == pytest.approx(1.0)
        if start > 1:
            assert amplitude[start - 1, c] == pytest.approx(0.25)
            assert amplitude[start - 2, c] == pytest.approx(0.0, abs=1e-6)


def test_two_streams_share_the_timeline(tmp_path):
    dataset = make_synthetic_dataset(
        tmp_path, subsets={"validation": 2}, streams=("rgb", "flow"), feature_dim=16
    )
    directions = synthetic_directions(5, 16, ("rgb", "flow"))
    assert dataset.feature_dims == {"rgb": 16, "flow": 16}
    assert abs(directions["rgb"].class_signal[0] @ directions["flow"].class_signal[0]) < 0.99
    features = dataset.load_features(dataset.videos()[0])
    assert features["rgb"].shape == features["flow"].shape
    assert not np.allclose(features["rgb"], features["flow"])


def test_directions_are_orthonormal_when_they_fit():
    d = synthetic_directions(3, 8, seed=1)["features"]
    basis = np.vstack([d.class_signal, d.context, d.actionness])
    np.testing.assert_allclose(basis @ basis.T, np.eye(7), atol=1e-12)
    small = synthetic_directions(3, 4, seed=1)["features"]
    np.testing.assert_allclose(np.linalg.norm(small.class_signal, axis=1), 1.0)


def test_thumos14_structure(tmp_path):
    structure = load_thumos14_structure()
    dataset = make_synthetic_dataset(
        tmp_path, subsets={"validation": 12}, temporal_structure="thumos14", seed=0
    )
    assert dataset.classes == structure["classes"] and len(dataset.classes) == 20
    real = structure["subsets"]["validation"]
    durations = {round(v["duration"] * dataset.feature_fps) for v in real}
    cooccurring = {
        frozenset(dataset.classes[c] for c in labels)
        for v in real
        for _, _, labels in v["instances"]
    }
    for video in dataset.videos():
        assert dataset.num_snippets(video) in durations
        by_segment = defaultdict(set)
        for segment in dataset.ground_truth():
            if segment.video == video:
                by_segment[(segment.start, segment.end)].add(segment.label)
        assert all(frozenset(labels) in cooccurring for labels in by_segment.values())
    # CliffDiving always comes with Diving on the same instance, as in THUMOS14.
    assert (
        frozenset({"CliffDiving"}) not in cooccurring
        and frozenset({"CliffDiving", "Diving"}) in cooccurring
    )
    with pytest.raises(ValueError, match="has 20 classes"):
        make_synthetic_dataset(tmp_path / "x", temporal_structure="thumos14", num_classes=5)


def test_structure_summary_derivation():
    database = {
        "v2": {
            "subset": "Validation",
            "duration": 10.004,
            "annotations": [
                {"label": "Diving", "segment": [1.0, 2.5]},
                {"label": "CliffDiving", "segment": [1.0, 2.5]},
                {"label": "Ambiguous", "segment": [4.0, 5.0]},
                {"label": "Diving", "segment": [6.0, 6.3]},
            ],
        },
        "v1": {
            "subset": "Validation",
            "duration": 3.0,
            "annotations": [{"label": "Golf", "segment": [0.0, 1.0]}],
        },
        "t1": {
            "subset": "Test",
            "duration": 9.0,
            "annotations": [{"label": "Tennis", "segment": [0.0, 1.0]}],
        },
    }
    summary = summarise({"database": database}, "x.json", "abc")
    assert summary["classes"] == ["CliffDiving", "Diving", "Golf", "Tennis"]
    assert summary["subsets"] == {
        "validation": [
            {"duration": 3.0, "instances": [[0.0, 1.0, [2]]]},
            {"duration": 10.0, "instances": [[1.0, 1.5, [0, 1]], [6.0, 0.3, [1]]]},
        ],
        "test": [{"duration": 9.0, "instances": [[0.0, 1.0, [3]]]}],
    }


def test_shipped_structure_is_small_and_complete():
    structure = load_thumos14_structure()
    assert len(json.dumps(structure)) < 150_000
    assert {name: len(videos) for name, videos in structure["subsets"].items()} == {
        "validation": 200,
        "test": 212,
    }
    # 3007 annotated instances in the THUMOS14 validation set (CliffDiving ones are also Diving),
    # of which 4 start after their video's end and are dropped.
    validation = structure["subsets"]["validation"]
    assert sum(len(labels) for v in validation for _, _, labels in v["instances"]) == 3003


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"streams": ("rgb",)}, "streams must be"),
        ({"temporal_structure": "charades"}, "temporal_structure must be one of"),
        ({"num_videos": 3, "subsets": {"a": 2}}, "add up to another count"),
        ({"subsets": {"a": 0}}, "at least one video"),
        ({"min_length": 2}, "4 <= min_length <= max_length"),
        ({"num_classes": 0}, "num_classes must be at least 1"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_synthetic_dataset(tmp_path, **kwargs)


def test_short_videos_still_fit_their_instances(tmp_path):
    dataset = make_synthetic_dataset(
        tmp_path, num_videos=20, min_length=4, max_length=6, num_classes=2, seed=3
    )
    for video in dataset.videos():
        segments = sorted((s.start, s.end) for s in dataset.ground_truth() if s.video == video)
        assert segments and _never_touch(segments)
        assert all(
            math.isclose(e * dataset.feature_fps, round(e * dataset.feature_fps))
            for _, e in segments
        )
