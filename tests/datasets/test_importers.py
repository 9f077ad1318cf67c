import json
import logging
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from keras_wsal.datasets import FeatureDataset, import_activitynet, import_wtalc
from keras_wsal.errors import DataError

FIXTURE = Path(__file__).parent / "fixtures" / "thumos14_mini"
WTALC = FIXTURE / "wtalc"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "thumos14"


def _wtalc_arrays(annotations_dir):
    return {
        name: np.load(annotations_dir / f"{name}.npy", allow_pickle=True)
        for name in ("videoname", "subset", "duration", "segments", "labels", "classlist")
    }


def _fake_wtalc_features(path, annotations_dir, dim=8, nan_video=None):
    """W-TALC's features file: a pickled object array of [T, dim] arrays, one per videoname."""
    arrays = _wtalc_arrays(annotations_dir)
    rng = np.random.default_rng(0)
    features = np.empty(len(arrays["videoname"]), object)
    for i, (name, duration) in enumerate(zip(arrays["videoname"], arrays["duration"], strict=True)):
        features[i] = rng.standard_normal((max(1, int(duration[0] * 25 / 16)), dim)).astype(
            np.float32
        )
        if name.decode() == nan_video:
            features[i][1, 0] = np.nan
    np.save(path, features, allow_pickle=True)
    return features


def _by_video(segments, exclude=()):
    grouped = {}
    for s in segments:
        if s.label not in exclude:
            grouped.setdefault(s.video, []).append((s.label, s.start, s.end))
    return {video: sorted(items) for video, items in grouped.items()}


def test_wtalc_import_round_trips_the_real_annotations(tmp_path):
    features = _fake_wtalc_features(tmp_path / "features.npy", WTALC)
    report = import_wtalc(tmp_path / "features.npy", WTALC, tmp_path / "out")
    dataset = report.dataset
    arrays = _wtalc_arrays(WTALC)
    videos = [v.decode() for v in arrays["videoname"]]
    assert (
        dataset.classes == [c.decode() for c in arrays["classlist"]] and len(dataset.classes) == 20
    )
    assert dataset.subsets() == ["test", "validation"]
    assert dataset.videos("validation") == ["video_validation_0000051", "video_validation_0000161"]
    assert dataset.feature_fps == 25 / 16 and dataset.feature_dims == {"features": 8}
    truth = _by_video(dataset.ground_truth())
    for i, video in enumerate(videos):
        assert dataset.duration(video) == arrays["duration"][i][0]
        expected = [
            (label, s, e)
            for label, (s, e) in zip(arrays["labels"][i], arrays["segments"][i], strict=True)
        ]
        assert [item for item in truth[video] if item[0] != "Ambiguous"] == sorted(expected)
        np.testing.assert_array_equal(dataset.load_features(video)["features"], features[i])
    assert report.skipped == []
    assert len(report.ignored) == 1 and "video_test_0001292" in report.ignored[0]


def test_wtalc_ambiguous_lines_become_annotations(tmp_path):
    _fake_wtalc_features(tmp_path / "features.npy", WTALC)
    dataset = import_wtalc(tmp_path / "features.npy", WTALC, tmp_path / "out").dataset
    ambiguous = _by_video(s for s in dataset.ground_truth() if s.label == "Ambiguous")
    assert ambiguous == {
        "video_test_0000278": [("Ambiguous", 0.0, 1.4), ("Ambiguous", 95.7, 97.2)],
        "video_test_0000367": [("Ambiguous", 56.4, 63.8), ("Ambiguous", 167.8, 170.7)],
    }
    assert "Ambiguous" not in dataset.classes
    labels = dataset.weak_labels("test")
    for video, classes in [
        ("video_test_0000278", ["CliffDiving", "Diving"]),
        ("video_test_0000367", ["HighJump", "JavelinThrow", "Shotput"]),
    ]:
        row = labels.multi_hot[labels.videos.index(video)]
        assert [dataset.classes[c] for c in np.flatnonzero(row)] == classes


def test_cliffdiving_double_annotations_and_late_segments_are_kept(tmp_path):
    _fake_wtalc_features(tmp_path / "features.npy", WTALC)
    dataset = import_wtalc(tmp_path / "features.npy", WTALC, tmp_path / "out").dataset
    diving = _by_video(dataset.ground_truth("validation"))["video_validation_0000161"]
    cliff = [(s, e) for label, s, e in diving if label == "CliffDiving"]
    assert len(cliff) == 4 and set(cliff) <= {(s, e) for label, s, e in diving if label == "Diving"}
    late = [s for s in dataset.ground_truth("test") if s.video == "video_test_0000270"]
    entry = json.loads((FIXTURE / "thumos14.json").read_text())["database"]["video_test_0000270"]
    assert dataset.duration("video_test_0000270") == pytest.approx(entry["duration"], abs=0.01)
    past_the_end = sum(a["segment"][1] > entry["duration"] for a in entry["annotations"])
    assert past_the_end == 22 and sum(s.end > entry["duration"] for s in late) == past_the_end


def test_wtalc_split_streams(tmp_path):
    features = _fake_wtalc_features(tmp_path / "features.npy", WTALC, dim=6)
    dataset = import_wtalc(
        tmp_path / "features.npy", WTALC, tmp_path / "out", streams="split"
    ).dataset
    assert dataset.streams == ("rgb", "flow") and dataset.feature_dims == {"rgb": 3, "flow": 3}
    loaded = dataset.load_features("video_test_0000004")
    np.testing.assert_array_equal(loaded["rgb"], features[2][:, :3])
    np.testing.assert_array_equal(loaded["flow"], features[2][:, 3:])
    _fake_wtalc_features(tmp_path / "odd.npy", WTALC, dim=5)
    with pytest.raises(DataError, match=r'streams="split" needs features \[T, D\] with an even D'):
        import_wtalc(tmp_path / "odd.npy", WTALC, tmp_path / "odd", streams="split")
    with pytest.raises(DataError, match="streams must be one of"):
        import_wtalc(tmp_path / "features.npy", WTALC, tmp_path / "x", streams="both")


def test_wtalc_bad_features(tmp_path, caplog):
    _fake_wtalc_features(tmp_path / "nan.npy", WTALC, nan_video="video_test_0000004")
    with pytest.raises(
        DataError,
        match=r'video "video_test_0000004" stream "features": '
        r"NaN or inf values \(first in snippet 1",
    ):
        import_wtalc(tmp_path / "nan.npy", WTALC, tmp_path / "bad")
    assert not (tmp_path / "bad" / "annotations.json").exists()
    with caplog.at_level(logging.WARNING):
        report = import_wtalc(tmp_path / "nan.npy", WTALC, tmp_path / "skip", skip_bad=True)
    assert [video for video, _ in report.skipped] == ["video_test_0000004"]
    assert "video_test_0000004" not in report.dataset.videos() and len(report.dataset.videos()) == 5
    assert "skipped 1 of 6 videos" in caplog.text
    np.save(
        tmp_path / "short.npy",
        np.load(tmp_path / "nan.npy", allow_pickle=True)[:4],
        allow_pickle=True,
    )
    with pytest.raises(DataError, match="holds features of 4 videos, .*videoname.npy names 6"):
        import_wtalc(tmp_path / "short.npy", WTALC, tmp_path / "short")
    with pytest.raises(DataError, match="missing.npy: file not found"):
        import_wtalc(tmp_path / "missing.npy", WTALC, tmp_path / "missing")


def _write_per_video_features(folder, database, pattern="{video}.npy"):
    folder.mkdir(parents=True, exist_ok=True)
    for number, (video, entry) in enumerate(sorted(database.items())):
        np.save(
            folder / pattern.format(video=video),
            np.full((int(entry["duration"] * 7.5), 4), number, np.float32),
        )


def test_activitynet_import_agrees_with_wtalc(tmp_path):
    database = json.loads((FIXTURE / "thumos14.json").read_text())["database"]
    _write_per_video_features(tmp_path / "feats", database, "v_{video}.npy")
    np.save(tmp_path / "feats" / "v_stray.npy", np.ones((2, 4), np.float32))
    report = import_activitynet(
        tmp_path / "feats",
        FIXTURE / "thumos14.json",
        tmp_path / "anet",
        feature_fps=7.5,
        filename="v_{video}.npy",
    )
    dataset = report.dataset
    assert dataset.subsets() == ["Test", "Validation"]
    assert dataset.feature_fps == 7.5 and report.skipped == []
    assert len(report.ignored) == 1 and "v_stray.npy" in report.ignored[0]
    video = "video_test_0000004"
    assert dataset.num_snippets(video) == int(33.83 * 7.5)
    number = sorted(database).index(video)
    np.testing.assert_array_equal(np.unique(dataset.load_features(video)["features"]), [number])
    # The same real videos in W-TALC's layout: same durations, labels and segments.
    _fake_wtalc_features(tmp_path / "features.npy", WTALC)
    wtalc = import_wtalc(tmp_path / "features.npy", WTALC, tmp_path / "wtalc").dataset
    assert dataset.videos() == wtalc.videos()
    assert dataset.classes == sorted(
        {a["label"] for e in database.values() for a in e["annotations"]}
    )
    assert [dataset.duration(v) for v in dataset.videos()] == pytest.approx(
        [wtalc.duration(v) for v in dataset.videos()], abs=0.01
    )
    assert _by_video(dataset.ground_truth()) == _by_video(
        wtalc.ground_truth(), exclude=("Ambiguous",)
    )
    reopened = json.loads((tmp_path / "anet" / "annotations.json").read_text())["database"][video]
    assert (
        reopened["fps"] == 30.0 and reopened["annotations"][0]["label_id"] == 5
    )  # extra fields kept


def test_activitynet_missing_and_bad_files(tmp_path, caplog):
    database = json.loads((FIXTURE / "thumos14.json").read_text())["database"]
    _write_per_video_features(tmp_path / "feats", database)
    missing = tmp_path / "feats" / "video_validation_0000161.npy"
    missing.unlink()
    with pytest.raises(
        DataError, match=f'video "video_validation_0000161": feature file {missing} not found'
    ):
        import_activitynet(tmp_path / "feats", FIXTURE / "thumos14.json", tmp_path / "a", 7.5)
    np.save(
        tmp_path / "feats" / "video_test_0000004.npy",
        np.array([{"x": 1}], object),
        allow_pickle=True,
    )
    with caplog.at_level(logging.WARNING):
        report = import_activitynet(
            tmp_path / "feats", FIXTURE / "thumos14.json", tmp_path / "b", 7.5, skip_bad=True
        )
    assert sorted(video for video, _ in report.skipped) == [
        "video_test_0000004",
        "video_validation_0000161",
    ]
    assert "cannot read feature file" in dict(report.skipped)["video_test_0000004"]
    assert report.dataset.videos() == sorted(
        set(database) - {"video_test_0000004", "video_validation_0000161"}
    )
    assert "skipped 2 of 6 videos" in caplog.text
    with pytest.raises(DataError, match="features folder .* does not exist"):
        import_activitynet(tmp_path / "none", FIXTURE / "thumos14.json", tmp_path / "c", 7.5)
    (tmp_path / "bad.json").write_text(json.dumps({"videos": {}}))
    with pytest.raises(
        DataError, match='bad.json: expected a JSON object with a "database" object'
    ):
        import_activitynet(tmp_path / "feats", tmp_path / "bad.json", tmp_path / "d", 7.5)


@pytest.mark.skipif(
    not SHARED.is_dir(), reason="the shared THUMOS14 annotations are not beside the repository"
)
def test_full_wtalc_annotations_match_the_activitynet_json(tmp_path):
    annotations_dir = SHARED / "wtalc_Thumos14reduced-Annotations"
    _fake_wtalc_features(tmp_path / "features.npy", annotations_dir, dim=2)
    dataset = import_wtalc(tmp_path / "features.npy", annotations_dir, tmp_path / "out").dataset
    database = json.loads((SHARED / "thumos14.json").read_text())["database"]
    assert Counter(dataset.subsets()) == Counter(["test", "validation"])
    assert len(dataset.videos("validation")) == 200 and len(dataset.videos("test")) == 212
    expected = {
        video: sorted((a["label"], *a["segment"]) for a in entry["annotations"])
        for video, entry in database.items()
    }
    assert _by_video(dataset.ground_truth(), exclude=("Ambiguous",)) == expected
    assert FeatureDataset(dataset.root).classes == sorted(
        {a[0] for items in expected.values() for a in items}
    )
