"""WSGN's temporal augmentation: features at every 5th frame from a random start."""

import numpy as np
import pytest

from keras_wsal.datasets import (
    TemporalAugmentation,
    WeakLabels,
    make_training_dataset_from_weak_labels,
)
from keras_wsal.datasets.temporal_augmentation import interpolate


def test_frame_positions_are_hand_computed():
    # Snippets of F = 4 frames: frame f sits at (f + 0.5) / 4 - 0.5 in snippet units.
    augmentation = TemporalAugmentation(frame_stride=5, start_frames=15, frames_per_snippet=4)
    np.testing.assert_allclose(augmentation.positions(3, 0), [-0.375, 0.875, 2.125])  # f 0, 5, 10
    np.testing.assert_allclose(augmentation.positions(3, 2), [0.125, 1.375])  # f 2, 7
    # A start beyond the video is pulled back to its last frame: one step, never none.
    np.testing.assert_allclose(augmentation.positions(1, 14), [0.375])


def test_resampling_interpolates_linearly_between_snippets():
    augmentation = TemporalAugmentation(frame_stride=5, start_frames=15, frames_per_snippet=4)
    features = np.stack([np.arange(3.0), 10 * np.arange(3.0)], axis=1)  # f[t] = (t, 10 t)
    resampled = augmentation.resample(features, 0)
    # Positions -0.375 (before the first centre: the first snippet), 0.875, 2.125 (clipped to 2).
    np.testing.assert_allclose(resampled, [[0.0, 0.0], [0.875, 8.75], [2.0, 20.0]], rtol=1e-6)
    assert resampled.dtype == np.float32


def test_interpolation_writes_into_out_and_reads_only_the_rows_it_needs(tmp_path):
    rng = np.random.default_rng(0)
    values = rng.standard_normal((50, 8)).astype(np.float32)
    np.save(tmp_path / "f.npy", values)
    features = np.load(tmp_path / "f.npy", mmap_mode="r")
    positions = np.array([10.25, 10.9, 11.0, 12.5, 13.75])
    # The formula in float32, term by term in the same order.
    lower = np.floor(positions).astype(int)
    weight = (positions - lower).astype(np.float32)[:, None]
    expected = (1.0 - weight) * values[lower] + weight * values[lower + 1]
    out = np.full((7, 8), -1.0, np.float32)
    returned = interpolate(features, positions, out[1:6])
    # The formula up to rounding (the same bits where SciPy does not fuse multiply-adds).
    np.testing.assert_allclose(out[1:6], expected, rtol=1e-6, atol=1e-7)
    assert returned.base is out  # written in place, no copy
    assert np.all(out[[0, 6]] == -1.0)
    # Rows past the last one needed are never read: NaN there does not leak in.
    values[15:] = np.nan
    np.testing.assert_allclose(interpolate(values, positions), expected, rtol=1e-6, atol=1e-7)
    # float16 files are read as float32; the last row has no row above it (weight ignored).
    np.testing.assert_array_equal(
        interpolate(values[:14].astype(np.float16), np.array([13.0, 20.0])),
        values[[13, 13]].astype(np.float16).astype(np.float32),
    )


def test_the_i3d_rate_gives_about_3_steps_per_snippet():
    augmentation = TemporalAugmentation()  # every 5th of 16 frames per snippet
    assert len(augmentation.positions(100, 0)) == 320
    assert len(augmentation.positions(100, 14)) == 318  # frames 14, 19, ..., 1599


def test_the_pipeline_resamples_each_element_from_a_random_start():
    features = {"v": np.arange(20, dtype=np.float32)[:, None] * np.ones((1, 2), np.float32)}
    labels = WeakLabels(("x",), ("v",), np.ones((1, 1), np.float32))
    batches = make_training_dataset_from_weak_labels(
        labels, lambda video: {"features": features[video]}, [20], {"features": 2},
        batch_size=1, max_length=None, seed=0, repeat=True,
        augmentation=TemporalAugmentation(frames_per_snippet=16),
    )  # fmt: skip
    starts = set()
    for inputs, _ in batches.take(40):
        values = inputs["features"].numpy()[0, :, 0]
        assert 62 <= len(values) <= 64  # 320 frames, every 5th from s: ⌈(320 - s) / 5⌉
        assert np.all(np.diff(values) >= 0) and values[-1] <= 19  # interpolated, in order
        # f[t] = t, so step 5 holds the position of frame s + 25: (s + 25.5) / 16 - 0.5.
        start = (values[5] + 0.5) * 16 - 25.5
        assert abs(start - round(start)) < 1e-3 and 0 <= round(start) < 15
        assert len(values) == -(-(320 - round(start)) // 5)
        starts.add(round(start))
    assert len(starts) >= 8


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"frame_stride": 0}, "`frame_stride`"),
        ({"start_frames": 0}, "`start_frames`"),
        ({"frames_per_snippet": 0.0}, "`frames_per_snippet`"),
    ],
)
def test_bad_settings_are_named(settings, message):
    with pytest.raises(ValueError, match=message):
        TemporalAugmentation(**settings)
