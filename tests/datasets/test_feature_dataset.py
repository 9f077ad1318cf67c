import json
import logging
import os

import numpy as np
import pytest
from dataset_helpers import indexed_features, write_indexed_dataset

from keras_wsal.datasets import (
    FeatureDataset,
    GroundTruthSegment,
    make_synthetic_dataset,
    weak_labels_from_names,
    write_annotations,
    write_dataset,
    write_features,
    write_meta,
)
from keras_wsal.errors import DataError

LENGTHS = {"b": 5, "a": 3, "c": 1}
LABELS = {"b": ["Run", "Jump", "Run"], "a": ["Ambiguous"], "c": ["Jump"]}


@pytest.fixture
def dataset(tmp_path):
    return write_indexed_dataset(
        tmp_path / "data", LENGTHS, LABELS, subsets={"c": "test"}, dim=3, feature_fps=2.0
    )


def test_round_trip(dataset):
    assert dataset.classes == ["Jump", "Run"]  # sorted, "Ambiguous" is not a class
    assert dataset.feature_fps == 2.0
    assert dataset.streams == ("features",)
    assert dataset.feature_dims == {"features": 3}
    assert dataset.subsets() == ["test", "train"]
    assert dataset.videos() == ["a", "b", "c"]
    assert dataset.videos("train") == ["a", "b"]
    assert dataset.duration("b") == 2.5
    assert [dataset.num_snippets(v) for v in "abc"] == [3, 5, 1]
    features = dataset.load_features("b")["features"]
    assert isinstance(features, np.memmap)
    np.testing.assert_array_equal(features, indexed_features(0, 5, 3))
    assert not isinstance(dataset.load_features("b", mmap=False)["features"], np.memmap)
    assert dataset.ground_truth("train") == [
        GroundTruthSegment("a", "Ambiguous", 0.0, 1.5),
        GroundTruthSegment("b", "Run", 0.0, 2.5),
        GroundTruthSegment("b", "Jump", 0.0, 2.5),
        GroundTruthSegment("b", "Run", 0.0, 2.5),
    ]
    assert dataset.meta["classes"] == ["Jump", "Run"]


def test_weak_labels_are_multi_hot_by_class_name(dataset):
    labels = dataset.weak_labels("train")
    assert labels.classes == ("Jump", "Run") and labels.videos == ("a", "b")
    # "a" has only an Ambiguous instance: no class; "b" has Run twice and Jump once.
    np.testing.assert_array_equal(labels.multi_hot, [[0, 0], [1, 1]])
    assert labels.multi_hot.dtype == np.float32 and not labels.multi_hot.flags.writeable
    np.testing.assert_array_equal(labels.select(["b"]).multi_hot, [[1, 1]])
    assert dataset.weak_labels().videos == ("a", "b", "c")
    with pytest.raises(DataError, match="no weak labels"):
        labels.select(["c"])


def test_weak_labels_reject_unknown_label():
    with pytest.raises(DataError, match='video "v" has label "Swim"'):
        weak_labels_from_names(["Run"], {"v": ["Run", "Swim"]})
    empty = weak_labels_from_names(["Run"], {})
    assert empty.multi_hot.shape == (0, 1)


def test_classes_from_meta_keep_their_order_and_reject_unknown_labels(tmp_path):
    dataset = write_indexed_dataset(
        tmp_path / "d", {"v": 2}, {"v": ["Run"]}, classes=["Run", "Jump"]
    )
    assert dataset.classes == ["Run", "Jump"]
    np.testing.assert_array_equal(dataset.weak_labels().multi_hot, [[1, 0]])
    meta = json.loads((tmp_path / "d" / "meta.json").read_text())
    meta["classes"] = ["Jump"]
    (tmp_path / "d" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(
        DataError, match=r"annotations.json: video 'v' has label 'Run', which is not"
    ):
        FeatureDataset(tmp_path / "d")


def test_unknown_subset_lists_the_subsets(dataset):
    with pytest.raises(
        DataError,
        match=r"subset 'val' has no video \(subsets in the file: 'test', 'train'\)",
    ):
        dataset.videos("val")
    with pytest.raises(DataError, match='no video "zzz"'):
        dataset.duration("zzz")


def _edit_json(path, edit):
    content = json.loads(path.read_text())
    edit(content)
    path.write_text(json.dumps(content))


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda m: m.pop("feature_fps"), 'missing field "feature_fps"'),
        (lambda m: m.update(feature_fps=-1), 'field "feature_fps" must be a positive finite'),
        (lambda m: m.update(feature_fps="fast"), 'field "feature_fps" must be a positive finite'),
        (lambda m: m.update(streams=["rgb"]), 'field "streams" must be'),
        (lambda m: m.update(feature_dim={"rgb": 3}), 'field "feature_dim" must map'),
        (
            lambda m: m.update(feature_dim={"features": 0}),
            'stream "features" must be a positive integer',
        ),
        (lambda m: m.update(classes=["Run", "Ambiguous"]), 'must not contain "Ambiguous"'),
        (lambda m: m.update(classes=["Run", "Run"]), r"lists \['Run'\] more than once"),
    ],
)
def test_bad_meta_is_named(dataset, edit, message):
    _edit_json(dataset.root / "meta.json", edit)
    with pytest.raises(DataError, match=message) as error:
        FeatureDataset(dataset.root)
    assert "meta.json" in str(error.value)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda a: a.pop("database"), "missing the top-level field 'database'"),
        (lambda a: a["database"]["b"].pop("subset"), "video 'b': missing field 'subset'"),
        (lambda a: a["database"]["b"].update(duration="long"), "video 'b', field 'duration'"),
        (lambda a: a["database"]["b"].update(duration=0), "video 'b', field 'duration'"),
        (
            lambda a: a["database"]["b"].update(annotations={}),
            "video 'b', field 'annotations': expected a list",
        ),
        (
            lambda a: a["database"]["b"]["annotations"][1].pop("label"),
            "video 'b', annotation 1: missing field 'label'",
        ),
        (
            lambda a: a["database"].update({"../x": a["database"]["b"]}),
            "'../x' is not usable as a file name",
        ),
        (
            lambda a: a["database"]["b"]["annotations"][0].update(label="Swim"),
            "video 'b' has label 'Swim'",
        ),
    ],
)
def test_bad_annotations_are_named(dataset, edit, message):
    _edit_json(dataset.root / "annotations.json", edit)
    with pytest.raises(DataError, match=message) as error:
        FeatureDataset(dataset.root)
    assert "annotations.json" in str(error.value)


def test_missing_or_broken_files(tmp_path, dataset):
    with pytest.raises(DataError, match="does not exist"):
        FeatureDataset(tmp_path / "nowhere")
    (dataset.root / "annotations.json").write_text("{not json")
    with pytest.raises(DataError, match="annotations.json: not valid JSON"):
        FeatureDataset(dataset.root)
    (dataset.root / "meta.json").unlink()
    with pytest.raises(DataError, match="dataset meta file .*meta.json does not exist"):
        FeatureDataset(dataset.root)


def test_bad_segments_only_matter_to_ground_truth(dataset):
    _edit_json(
        dataset.root / "annotations.json",
        lambda a: a["database"]["b"]["annotations"][2].update(segment=[3.0, 1.0]),
    )
    reopened = FeatureDataset(dataset.root)
    np.testing.assert_array_equal(reopened.weak_labels("train").multi_hot, [[0, 0], [1, 1]])
    with pytest.raises(
        DataError, match=r"video 'b', annotation 2, field 'segment': start 3.0 is after end 1.0"
    ):
        reopened.ground_truth("train")
    assert reopened.ground_truth("test") == [GroundTruthSegment("c", "Jump", 0.0, 0.5)]


def test_segments_past_the_end_are_kept(tmp_path):
    annotations = {
        "v": {
            "subset": "s",
            "duration": 1.0,
            "annotations": [{"segment": [0.5, 9.0], "label": "A"}],
        }
    }
    dataset = write_dataset(tmp_path, annotations, {"v": {"features": np.ones((2, 1))}}, 2.0)
    assert dataset.ground_truth() == [GroundTruthSegment("v", "A", 0.5, 9.0)]


def _write_raw(dataset, video, array, stream="features"):
    np.save(dataset.feature_paths(video)[stream], array)


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((4, 2), np.float32), r"shape \(4, 2\), expected a float array of shape \[T, 3\]"),
        (np.zeros(4, np.float32), r"shape \(4,\), expected"),
        (np.zeros((4, 3), np.int64), "int64 array"),
        (np.zeros((0, 3), np.float32), r"has no snippets \(T = 0\)"),
    ],
)
def test_bad_feature_headers(dataset, array, message):
    _write_raw(dataset, "b", array)
    path = dataset.feature_paths("b")["features"]
    for read in (dataset.num_snippets, dataset.load_features):
        with pytest.raises(DataError, match=message) as error:
            read("b")
        assert f'video "b": feature file {path}' in str(error.value)


def test_missing_and_truncated_feature_files(dataset):
    path = dataset.feature_paths("b")["features"]
    data = path.read_bytes()
    path.write_bytes(data[:-8])
    with pytest.raises(DataError, match=f'video "b": cannot read feature file {path}'):
        dataset.load_features("b")
    path.write_bytes(b"not numpy")
    with pytest.raises(DataError, match="not a readable .npy file"):
        dataset.num_snippets("b")
    path.unlink()
    with pytest.raises(DataError, match=f'video "b": feature file {path} not found'):
        dataset.load_features("b")


def test_streams_must_agree_in_length(tmp_path):
    dataset = write_indexed_dataset(tmp_path, {"v": 4}, {"v": ["A"]}, streams=("rgb", "flow"))
    assert dataset.streams == ("rgb", "flow")
    assert dataset.feature_paths("v")["flow"] == tmp_path / "features" / "flow" / "v.npy"
    _write_raw(dataset, "v", np.zeros((3, 4), np.float32), stream="flow")
    with pytest.raises(DataError, match=r"different numbers of snippets \{'rgb': 4, 'flow': 3\}"):
        dataset.load_features("v")


def test_validate_finds_nan_and_skips_with_a_count(dataset, caplog):
    array = indexed_features(0, 5, 3)
    array[3, 1] = np.inf
    _write_raw(dataset, "b", array)
    path = dataset.feature_paths("b")["features"]
    assert dataset.validate("train", check_values=False) == ["a", "b"]
    with pytest.raises(DataError, match=rf"{path} has NaN or inf values \(first in snippet 3\)"):
        dataset.validate("train")
    with caplog.at_level(logging.WARNING):
        assert dataset.validate(skip_bad=True) == ["a", "c"]
    assert "skipping" in caplog.text and str(path) in caplog.text
    assert "skipped 1 of 3 videos of the dataset" in caplog.text


def test_validate_skips_missing_files(dataset, caplog):
    dataset.feature_paths("a")["features"].unlink()
    with pytest.raises(DataError, match='video "a": feature file .* not found'):
        dataset.validate("train")
    with caplog.at_level(logging.WARNING):
        assert dataset.validate("train", skip_bad=True) == ["b"]
    assert 'skipped 1 of 2 videos of subset "train"' in caplog.text


def test_writers_fill_a_dataset_incrementally(tmp_path):
    root = tmp_path / "incremental"
    path = write_features(root, "v1", "features", np.arange(6).reshape(3, 2))
    assert path == root / "features" / "v1.npy" and sorted(os.listdir(path.parent)) == ["v1.npy"]
    assert np.load(path).dtype == np.float32
    write_meta(
        root,
        {"feature_fps": 1.5, "streams": ["features"], "feature_dim": {"features": 2}, "note": "x"},
    )
    write_features(root, "v2", "features", np.ones((4, 2)))
    write_annotations(
        root,
        {
            v: {"subset": "s", "duration": 2.0, "annotations": [{"segment": [0, 1], "label": "A"}]}
            for v in ("v1", "v2")
        },
    )
    dataset = FeatureDataset(root)
    assert dataset.videos() == ["v1", "v2"] and dataset.num_snippets("v2") == 4
    assert dataset.meta["note"] == "x"
    # Rewriting replaces the file whole.
    write_features(root, "v1", "features", np.zeros((7, 2)))
    assert dataset.num_snippets("v1") == 7


@pytest.mark.parametrize(
    "video, stream, array, message",
    [
        (
            "v",
            "features",
            [[1.0, np.nan]],
            r'video "v" stream "features": NaN or inf values \(first in snippet 0',
        ),
        ("v", "depth", [[1.0]], "stream must be one of"),
        ("a/b", "features", [[1.0]], "not usable as a file name"),
        (".hidden", "features", [[1.0]], "not usable as a file name"),
        ("v", "features", np.zeros((0, 2)), r"shape \[T, D\] with T, D >= 1"),
        ("v", "features", ["x"], "real-valued array"),
    ],
)
def test_write_features_rejects_bad_input_and_keeps_the_old_file(
    tmp_path, video, stream, array, message
):
    old = write_features(tmp_path, "v", "features", np.ones((2, 2)))
    with pytest.raises(DataError, match=message):
        write_features(tmp_path, video, stream, array)
    np.testing.assert_array_equal(np.load(old), np.ones((2, 2)))
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["v.npy"]


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    old = write_features(tmp_path, "v", "features", np.ones((2, 2)))

    def broken_save(file, array):
        file.write(b"\x93NUMPY half")
        raise OSError("disk full")

    monkeypatch.setattr(np, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        write_features(tmp_path, "v", "features", np.zeros((5, 2)))
    monkeypatch.undo()
    np.testing.assert_array_equal(np.load(old), np.ones((2, 2)))
    assert [p.name for p in old.parent.iterdir()] == ["v.npy"]


def test_write_meta_and_annotations_check_their_content(tmp_path):
    with pytest.raises(DataError, match=r'meta: field "streams"'):
        write_meta(tmp_path, {"feature_fps": 1, "streams": ["x"], "feature_dim": {}})
    with pytest.raises(DataError, match=r"video 'v', annotation 0, field 'segment'"):
        write_annotations(
            tmp_path,
            {"v": {"subset": "s", "duration": 1, "annotations": [{"segment": [1], "label": "A"}]}},
        )
    with pytest.raises(DataError, match="cannot be written as JSON"):
        write_meta(
            tmp_path,
            {
                "feature_fps": 1,
                "streams": ["features"],
                "feature_dim": {"features": 1},
                "x": object(),
            },
        )
    assert list(tmp_path.iterdir()) == []


def test_write_dataset_rejects_inconsistent_input(tmp_path):
    def entry(label="A"):
        return {
            "subset": "s",
            "duration": 1.0,
            "annotations": [{"segment": [0, 1], "label": label}],
        }

    one = {"features": np.ones((2, 3))}
    with pytest.raises(DataError, match=r"not in the annotations: \['w'\]"):
        write_dataset(tmp_path, {"v": entry()}, {"v": one, "w": one}, 1.0)
    with pytest.raises(DataError, match='video "w" is in the annotations but has no features'):
        write_dataset(tmp_path, {"v": entry(), "w": entry()}, {"v": one}, 1.0)
    with pytest.raises(DataError, match=r'video "w": feature sizes \{\'features\': 4\} differ'):
        write_dataset(
            tmp_path,
            {"v": entry(), "w": entry()},
            {"v": one, "w": {"features": np.ones((2, 4))}},
            1.0,
        )
    with pytest.raises(DataError, match="streams must be"):
        write_dataset(tmp_path, {"v": entry()}, {"v": {"rgb": np.ones((2, 3))}}, 1.0)
    with pytest.raises(DataError, match=r"different numbers of snippets"):
        write_dataset(
            tmp_path, {"v": entry()}, {"v": {"rgb": np.ones((2, 3)), "flow": np.ones((3, 3))}}, 1.0
        )
    with pytest.raises(DataError, match="video 'v' has label 'B'"):
        write_dataset(tmp_path, {"v": entry("B")}, {"v": one}, 1.0, classes=["A"])
    with pytest.raises(DataError, match=r"must not redefine the format fields \['classes'\]"):
        write_dataset(tmp_path, {"v": entry()}, {"v": one}, 1.0, extra_meta={"classes": []})
    with pytest.raises(DataError, match="feature_fps must be a positive finite number"):
        write_dataset(tmp_path, {"v": entry()}, {"v": one}, 0.0)
    assert not (tmp_path / "meta.json").exists() and not (tmp_path / "annotations.json").exists()


@pytest.mark.parametrize("streams", [("features",), ("rgb", "flow")])
def test_meta_needs_only_the_feature_rate(tmp_path, streams):
    written = make_synthetic_dataset(
        tmp_path / "d", num_classes=2, feature_dim=5, subsets={"train": 3}, streams=streams
    )
    meta = json.loads((written.root / "meta.json").read_text())
    (written.root / "meta.json").write_text(json.dumps({"feature_fps": meta["feature_fps"]}))
    derived = FeatureDataset(written.root)
    assert derived.streams == written.streams == streams
    assert derived.feature_dims == written.feature_dims == {s: 5 for s in streams}


def test_meta_without_feature_dim_and_no_files_names_the_field(tmp_path):
    written = make_synthetic_dataset(tmp_path / "d", num_classes=2, subsets={"train": 2})
    for path in (written.root / "features").glob("*.npy"):
        path.unlink()
    (written.root / "meta.json").write_text(json.dumps({"feature_fps": 2.0}))
    with pytest.raises(DataError, match='no field "feature_dim", and no feature file of stream'):
        FeatureDataset(written.root)
