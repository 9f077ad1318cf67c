import inspect
import json
import logging
import shutil

import numpy as np
import pytest
import tensorflow as tf
from dataset_helpers import indexed_features, write_indexed_dataset

from keras_wsal.datasets import (
    ClipSampling,
    FeatureDataset,
    TemporalAugmentation,
    feature_dataset,
    make_inference_dataset,
    make_synthetic_dataset,
    make_training_dataset,
    pipeline,
)
from keras_wsal.errors import DataError
from keras_wsal.formats import annotations

LENGTHS = {"v0": 7, "v1": 3, "v2": 12, "v3": 1, "v4": 9}
LABELS = {"v0": ["A"], "v1": ["B"], "v2": ["A", "C"], "v3": ["C"], "v4": ["Ambiguous", "B"]}
MULTI_HOT = {"v0": [1, 0, 0], "v1": [0, 1, 0], "v2": [1, 0, 1], "v3": [0, 0, 1], "v4": [0, 1, 0]}
VIDEOS = list(LENGTHS)


@pytest.fixture
def dataset(tmp_path):
    return write_indexed_dataset(tmp_path / "data", LENGTHS, LABELS, dim=4)


def _elements(batches):
    """(video, source snippet rows, label) of every real element of the batches, in order."""
    elements = []
    for inputs, labels in batches:
        features, mask = inputs["features"].numpy(), inputs["mask"].numpy()
        for row, valid, label in zip(features, mask, labels.numpy(), strict=True):
            length = int(valid.sum())
            assert valid[:length].all() and not valid[length:].any()
            assert (row[length:] == 0).all()
            elements.append(
                (VIDEOS[int(row[0, 1])], row[:length, 0].astype(int).tolist(), label.tolist())
            )
    return elements


def test_whole_videos_padded_with_mask(dataset):
    batches = list(
        make_training_dataset(dataset, "train", batch_size=2, max_length=None, shuffle=False)
    )
    assert [b[0]["features"].shape.as_list() for b in batches] == [[2, 7, 4], [2, 12, 4], [1, 9, 4]]
    elements = _elements(batches)
    assert [video for video, _, _ in elements] == VIDEOS
    for video, rows, label in elements:
        assert rows == list(range(LENGTHS[video]))
        assert label == MULTI_HOT[video]
    first = batches[0][0]["features"].numpy()
    np.testing.assert_array_equal(first[1, :3], indexed_features(1, 3, 4))
    np.testing.assert_array_equal(first[1, 3:], 0.0)


def test_random_crop_reads_consecutive_source_rows(dataset):
    batches = make_training_dataset(
        dataset, "train", batch_size=5, max_length=4, seed=3, repeat=True
    )
    starts = {video: set() for video in VIDEOS}
    for video, rows, label in _elements(batches.take(40)):
        length = LENGTHS[video]
        assert len(rows) == min(length, 4)
        assert rows == list(range(rows[0], rows[0] + len(rows)))
        assert 0 <= rows[0] <= length - len(rows)
        assert label == MULTI_HOT[video]
        starts[video].add(rows[0])
    # Over 40 epochs every start offset of the 12-snippet video turns up.
    assert starts["v2"] == set(range(12 - 4 + 1)) and starts["v3"] == {0}


def test_uniform_sub_sampling_indices(dataset):
    elements = _elements(
        make_training_dataset(
            dataset, "train", batch_size=5, max_length=4, crop="uniform", shuffle=False
        )
    )
    rows = {video: r for video, r, _ in elements}
    # floor(i * T / 4) for i = 0..3
    assert rows["v0"] == [0, 1, 3, 5]  # T = 7
    assert rows["v2"] == [0, 3, 6, 9]  # T = 12
    assert rows["v4"] == [0, 2, 4, 6]  # T = 9
    assert rows["v1"] == [0, 1, 2] and rows["v3"] == [0]


def test_fixed_length_gives_static_shapes(dataset):
    batches = make_training_dataset(
        dataset, "train", batch_size=2, max_length=8, fixed_length=True, drop_remainder=True, seed=0
    )
    inputs_spec, labels_spec = batches.element_spec
    assert inputs_spec["features"].shape.as_list() == [2, 8, 4]
    assert inputs_spec["mask"].shape.as_list() == [2, 8] and labels_spec.shape.as_list() == [2, 3]
    elements = _elements(batches)
    assert len(elements) == 4  # 5 videos, the last, smaller batch dropped
    assert all(len(rows) == min(LENGTHS[video], 8) for video, rows, _ in elements)


def test_same_seed_same_batches(dataset):
    def run(seed):
        batches = make_training_dataset(
            dataset, "train", batch_size=2, max_length=3, seed=seed, repeat=True
        )
        return _elements(batches.take(12))

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_sharding_covers_every_video_once(dataset):
    seen = []
    for pipeline_id in range(2):
        context = tf.distribute.InputContext(
            num_input_pipelines=2, input_pipeline_id=pipeline_id, num_replicas_in_sync=2
        )
        batches = list(
            make_training_dataset(dataset, "train", batch_size=4, input_context=context, seed=0)
        )
        assert all(b[1].shape[0] <= 2 for b in batches)  # per-replica batch: 4 / 2
        seen.append([video for video, _, _ in _elements(batches)])
    assert sorted(seen[0] + seen[1]) == VIDEOS
    assert not set(seen[0]) & set(seen[1]) and seen[0] and seen[1]


def test_two_streams_have_static_feature_sizes(tmp_path):
    dataset = write_indexed_dataset(
        tmp_path, {"v": 5, "w": 2}, {"v": ["A"], "w": ["B"]}, streams=("rgb", "flow"), dim=3
    )
    batches = make_training_dataset(dataset, "train", batch_size=2, max_length=None, shuffle=False)
    inputs_spec, labels_spec = batches.element_spec
    assert sorted(inputs_spec) == ["flow", "mask", "rgb"]
    assert inputs_spec["rgb"].shape.as_list() == [
        None,
        None,
        3,
    ] and labels_spec.shape.as_list() == [None, 2]
    inputs, _ = next(iter(batches))
    np.testing.assert_array_equal(inputs["flow"].numpy()[0], inputs["rgb"].numpy()[0] + 1000)
    np.testing.assert_array_equal(inputs["flow"].numpy()[1, 2:], 0.0)


def test_features_are_memory_mapped(dataset, monkeypatch):
    calls = []
    load = np.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("mmap_mode"))
        return load(*args, **kwargs)

    monkeypatch.setattr(np, "load", spy)
    batches = list(make_training_dataset(dataset, "train", batch_size=2, max_length=2, seed=0))
    assert sum(b[1].shape[0] for b in batches) == 5
    assert len(calls) >= 10 and set(calls) == {"r"}  # the validation pass and the 5 elements


def test_nan_file_is_named_or_skipped(dataset, caplog):
    path = dataset.feature_paths("v2")["features"]
    array = np.load(path)
    array[10, 2] = np.nan
    np.save(path, array)
    with pytest.raises(DataError, match=rf'video "v2": feature file {path} has NaN or inf values'):
        make_training_dataset(dataset, "train", batch_size=2)
    with caplog.at_level(logging.WARNING):
        batches = make_training_dataset(dataset, "train", batch_size=8, skip_bad=True)
    assert "skipped 1 of 5 videos" in caplog.text
    assert sorted(video for video, _, _ in _elements(batches)) == ["v0", "v1", "v3", "v4"]
    # Without the scan, the element that reads the NaN row stops the pipeline with the same message.
    unchecked = make_training_dataset(
        dataset, "train", batch_size=8, max_length=None, check_values=False
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"{path} has NaN or inf values"):
        list(unchecked)


def test_missing_feature_file_fails_before_tensorflow(dataset):
    dataset.feature_paths("v3")["features"].unlink()
    with pytest.raises(DataError, match='video "v3": feature file .*v3.npy not found'):
        make_training_dataset(dataset, "train", batch_size=2, check_values=False)
    batches = make_training_dataset(dataset, "train", batch_size=8, skip_bad=True)
    assert len(_elements(batches)) == 4


def test_empty_or_unknown_subset(dataset):
    with pytest.raises(
        DataError, match=r"subset 'validation' has no video \(subsets in the file: 'train'\)"
    ):
        make_training_dataset(dataset, "validation", batch_size=2)
    for video in VIDEOS:
        dataset.feature_paths(video)["features"].unlink()
    with pytest.raises(DataError, match='every video of subset "train" was skipped as bad'):
        make_training_dataset(dataset, "train", batch_size=2, skip_bad=True)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"batch_size": 2, "max_length": 0}, "max_length must be a positive integer or None"),
        ({"batch_size": 2, "crop": "middle"}, "crop must be one of"),
        ({"batch_size": True}, "batch_size must be a positive integer"),
        ({"batch_size": 2, "max_length": None, "fixed_length": True}, "needs a max_length"),
        ({"batch_size": 2, "feature_dtype": "float64"}, "feature_dtype must be one of"),
    ],
)
def test_bad_arguments(dataset, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_training_dataset(dataset, "train", **kwargs)


def test_inference_dataset_keeps_order_and_whole_videos(dataset):
    batches = list(make_inference_dataset(dataset, "train", batch_size=2))
    assert [index.numpy().tolist() for _, index in batches] == [[0, 1], [2, 3], [4]]
    for inputs, index in batches:
        for row, mask, i in zip(
            inputs["features"].numpy(), inputs["mask"].numpy(), index.numpy(), strict=True
        ):
            video = dataset.videos("train")[i]
            assert mask.sum() == LENGTHS[video]
            np.testing.assert_array_equal(
                row[: LENGTHS[video]], indexed_features(i, LENGTHS[video], 4)
            )


def _batch_bytes(dataset):
    batches = make_training_dataset(
        dataset, "validation", batch_size=3, max_length=50, seed=11, repeat=True
    )
    return [
        b"".join(t.numpy().tobytes() for t in (inputs["features"], inputs["mask"], labels))
        for inputs, labels in batches.take(6)
    ]


def test_training_batches_ignore_action_boundaries(tmp_path):
    original = make_synthetic_dataset(tmp_path / "a", num_videos=8, seed=5)
    shutil.copytree(original.root, tmp_path / "b")
    path = tmp_path / "b" / "annotations.json"
    content = json.loads(path.read_text())
    rng = np.random.default_rng(0)
    for entry in content["database"].values():
        for annotation in entry["annotations"]:
            annotation["segment"] = rng.permutation(
                [rng.uniform(-1e6, 1e6), "garbage", None]
            ).tolist()
    path.write_text(json.dumps(content))
    moved = FeatureDataset(tmp_path / "b")
    with pytest.raises(DataError, match="field 'segment'"):
        moved.ground_truth()
    assert _batch_bytes(original) == _batch_bytes(moved)


def test_training_pipeline_never_reads_segments(tmp_path, monkeypatch):
    assert "segment" not in inspect.getsource(pipeline).lower()
    dataset = make_synthetic_dataset(tmp_path, num_videos=4, seed=1)

    def forbidden(*args, **kwargs):
        raise AssertionError("the training pipeline read segment boundaries")

    monkeypatch.setattr(FeatureDataset, "ground_truth", forbidden)
    monkeypatch.setattr(annotations, "parse_segments", forbidden)
    monkeypatch.setattr(annotations, "segment_pair", forbidden)
    monkeypatch.setattr(feature_dataset, "parse_segments", forbidden)
    batches = list(make_training_dataset(dataset, "validation", batch_size=2, seed=0))
    assert sum(labels.shape[0] for _, labels in batches) == 2


def test_pad_length_to_multiple_adds_masked_zero_steps():
    from keras_wsal.datasets.pipeline import pad_length_to_multiple

    inputs = {"features": tf.ones([2, 5, 3]), "mask": tf.ones([2, 5], tf.bool)}
    labels = tf.ones([2, 4])
    batches = tf.data.Dataset.from_tensors((inputs, labels))
    padded, padded_labels = next(iter(pad_length_to_multiple(batches, 4)))
    # 5 steps → 8 (the next multiple of 4): 3 extra zero steps with mask False.
    assert padded["features"].shape == (2, 8, 3) and padded["mask"].shape == (2, 8)
    np.testing.assert_array_equal(padded["features"].numpy()[:, 5:], 0.0)
    np.testing.assert_array_equal(padded["mask"].numpy(), np.arange(8)[None].repeat(2, 0) < 5)
    np.testing.assert_array_equal(padded_labels.numpy(), labels.numpy())


@pytest.mark.parametrize("feature_dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize(
    "reading",
    [
        {"max_length": 5, "crop": "random"},
        {"max_length": 6, "augmentation": TemporalAugmentation(5, 15, 16.0)},
        {"clip_sampling": ClipSampling(num_clips=4, num_segments=2, clip_snippets=3)},
    ],
    ids=["crop", "resampled frames", "clips"],
)
def test_a_mixed_policys_features_are_the_float32_ones_rounded_once(
    tmp_path, feature_dtype, reading
):
    """Features given in a compute dtype: the float32 batch (the same crops, frames and clips)
    cast by TensorFlow, as the model would cast it; the mask and labels unchanged."""
    rng = np.random.default_rng(0)
    dataset = make_synthetic_dataset(
        tmp_path / "data", num_classes=3, feature_dim=6, subsets={"train": 5},
        min_length=4, max_length=20, seed=2,
    )  # fmt: skip
    # Values that bfloat16 and float16 round (float32's low bits set), ties and overflow aside.
    for video in dataset.videos("train"):
        path = dataset.feature_paths(video)["features"]
        np.save(path, (np.load(path) + rng.uniform(-1, 1, np.load(path).shape)).astype(np.float32))

    def batches(dtype):
        return list(
            make_training_dataset(
                dataset, "train", batch_size=2, seed=7, feature_dtype=dtype, **reading
            )
        )

    full, rounded = batches("float32"), batches(feature_dtype)
    assert len(full) == len(rounded) == 3
    for (inputs, labels), (inputs16, labels16) in zip(full, rounded, strict=True):
        assert inputs16["features"].dtype == tf.as_dtype(feature_dtype)
        np.testing.assert_array_equal(
            inputs16["features"].numpy(), tf.cast(inputs["features"], feature_dtype).numpy()
        )
        assert not np.array_equal(
            inputs16["features"].numpy().astype(np.float32), inputs["features"].numpy()
        )  # rounded indeed
        np.testing.assert_array_equal(inputs16["mask"], inputs["mask"])
        np.testing.assert_array_equal(labels16, labels)


@pytest.mark.parametrize("feature_dtype", ["float32", "bfloat16"])
def test_batches_in_their_own_memory_maps_are_the_same_batches(dataset, monkeypatch, feature_dtype):
    """Every batch in its own anonymous map (`element_reader.zeroed_batch`, as large batches
    are): the tensors TensorFlow makes of them hold the values read, after NumPy's arrays are
    gone, equal to those of batches allocated with `np.zeros`."""
    import gc

    from keras_wsal.datasets import element_reader

    def batches():
        return list(
            make_training_dataset(
                dataset, "train", batch_size=2, max_length=None, shuffle=False,
                feature_dtype=feature_dtype,
            )
        )  # fmt: skip

    expected = batches()
    monkeypatch.setattr(element_reader, "OWN_MAP_BYTES", 0)
    mapped = batches()
    gc.collect()
    assert len(mapped) == len(expected) == 3
    for (inputs, labels), (want, want_labels) in zip(mapped, expected, strict=True):
        assert inputs["features"].dtype == tf.as_dtype(feature_dtype)
        np.testing.assert_array_equal(inputs["features"].numpy(), want["features"].numpy())
        np.testing.assert_array_equal(inputs["mask"], want["mask"])
        np.testing.assert_array_equal(labels, want_labels)
    assert _elements(
        [({**i, "features": tf.cast(i["features"], tf.float32)}, y) for i, y in mapped]
    ) == [(v, list(range(LENGTHS[v])), MULTI_HOT[v]) for v in VIDEOS]
