"""`ElementReader`: a batch per call, padded with zeros, every value checked."""

import numpy as np
import pytest

from keras_wsal.datasets.element_reader import ElementReader
from keras_wsal.errors import DataError


def _reader(arrays: dict, max_length=None):
    videos = sorted(arrays)
    return ElementReader(
        lambda video: {"features": arrays[video]},
        videos,
        [len(arrays[v]) for v in videos],
        ["features"],
        max_length,
        "random",
    )


def test_batch_pads_with_zeros_to_the_longest_element_or_a_given_length():
    arrays = {"a": np.arange(6, dtype=np.float32).reshape(3, 2), "b": np.ones((5, 2), np.float32)}
    features, steps = _reader(arrays).batch(np.array([0, 1]), np.array([0, 0]))
    assert features.shape == (2, 5, 2) and features.dtype == np.float32
    np.testing.assert_array_equal(steps, [3, 5])
    np.testing.assert_array_equal(features[0, :3], arrays["a"])
    np.testing.assert_array_equal(features[0, 3:], 0.0)
    np.testing.assert_array_equal(features[1], arrays["b"])
    features, steps = _reader(arrays).batch(np.array([1, 0]), np.array([0, 0]), length=7)
    assert features.shape == (2, 7, 2)
    np.testing.assert_array_equal(steps, [5, 3])


def test_a_crop_reads_consecutive_rows_from_the_drawn_start():
    arrays = {"a": np.arange(10, dtype=np.float32)[:, None]}
    features, steps = _reader(arrays, max_length=4).batch(np.array([0]), np.array([9]))
    # start = 9 mod (10 - 4 + 1) = 2
    np.testing.assert_array_equal(features[0, :, 0], [2, 3, 4, 5])
    np.testing.assert_array_equal(steps, [4])


@pytest.mark.parametrize(
    "bad", [[np.nan], [np.inf], [-np.inf], [np.inf, -np.inf], [3e38, 3e38, np.nan]]
)
def test_any_non_finite_value_is_refused(bad):
    values = np.array([1.0, *bad], np.float32)[:, None]
    with pytest.raises(DataError, match='video "a": .*has NaN or inf values'):
        _reader({"a": values}).batch(np.array([0]), np.array([0]))


def test_finite_values_whose_sum_overflows_float32_are_accepted():
    values = np.array([3e38, 3e38, -1.0], np.float32)[:, None]
    features, _ = _reader({"a": values}).batch(np.array([0]), np.array([0]))
    np.testing.assert_array_equal(features[0], values)


def test_open_files_are_kept_within_their_byte_budget(monkeypatch):
    from keras_wsal.datasets import element_reader

    arrays = {v: np.full((4, 2), i, np.float32) for i, v in enumerate("abc")}  # 32 bytes each
    opened = []

    def load(video):
        opened.append(video)
        return {"features": arrays[video]}

    monkeypatch.setattr(element_reader, "OPEN_FILES_BYTES", 64)  # two videos
    reader = ElementReader(load, ["a", "b", "c"], [4, 4, 4], ["features"], None, "random")
    for index in [0, 1, 0, 1, 2, 0, 2]:
        features, _ = reader.batch(np.array([index]), np.array([0]))
        np.testing.assert_array_equal(features[0], arrays["abc"[index]])
    # a, b open; c closes the least recently used (a), whose next read opens it again.
    assert opened == ["a", "b", "c", "a"]


def _mapping_of(array):
    """The `mmap` an array's memory lies in, or None."""
    import mmap

    while array is not None and not isinstance(array, mmap.mmap):
        array = array.obj if isinstance(array, memoryview) else getattr(array, "base", None)
    return array


@pytest.mark.parametrize("own_map_bytes", [0, 2**30])
@pytest.mark.parametrize(
    "shape, dtype", [((2, 3, 4), np.float32), ((1, 1, 2), "bfloat16"), ((0, 5, 2), np.float32)]
)
def test_a_zeroed_batch_is_zero_writable_and_its_own_memory(
    monkeypatch, own_map_bytes, shape, dtype
):
    import ml_dtypes

    from keras_wsal.datasets import element_reader

    monkeypatch.setattr(element_reader, "OWN_MAP_BYTES", own_map_bytes)
    dtype = np.dtype(ml_dtypes.bfloat16 if dtype == "bfloat16" else dtype)
    first, second = (element_reader.zeroed_batch(shape, dtype) for _ in range(2))
    assert first.shape == shape and first.dtype == dtype
    np.testing.assert_array_equal(first.astype(np.float32), np.zeros(shape, np.float32))
    first[...] = 1
    np.testing.assert_array_equal(second.astype(np.float32), np.zeros(shape, np.float32))
    mapped = own_map_bytes == 0 and first.size > 0
    assert (_mapping_of(first) is not None) == mapped


def test_a_large_batch_is_unmapped_with_its_last_reference():
    import gc
    import weakref

    from keras_wsal.datasets.element_reader import OWN_MAP_BYTES, zeroed_batch

    batch = zeroed_batch((1, OWN_MAP_BYTES // 4), np.float32)
    released = weakref.ref(_mapping_of(batch))
    assert released() is not None
    del batch
    gc.collect()
    assert released() is None


def test_a_batch_read_into_its_own_map_holds_the_rows(monkeypatch):
    from keras_wsal.datasets import element_reader

    monkeypatch.setattr(element_reader, "OWN_MAP_BYTES", 0)
    arrays = {"a": np.arange(6, dtype=np.float32).reshape(3, 2), "b": np.ones((5, 2), np.float32)}
    features, steps = _reader(arrays).batch(np.array([0, 1]), np.array([0, 0]))
    assert _mapping_of(features) is not None
    np.testing.assert_array_equal(features[0], [[0, 1], [2, 3], [4, 5], [0, 0], [0, 0]])
    np.testing.assert_array_equal(features[1], arrays["b"])
    np.testing.assert_array_equal(steps, [3, 5])
