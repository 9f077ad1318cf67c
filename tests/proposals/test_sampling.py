"""Clips drawn from proposals, and TSN's snippets drawn from clips."""

import numpy as np
import pytest

from keras_wsal.proposals import sample_clips, segment_frames


def test_segment_frames_centres_by_hand_and_random_frames_in_their_segments():
    clips = np.array([[0, 9], [10, 12], [5, 6]])
    # L = 9: floor(1.5), floor(4.5), floor(7.5); L = 2: floor(1/3), floor(1), floor(5/3).
    np.testing.assert_array_equal(segment_frames(clips, 3), [[1, 4, 7], [10, 11, 11], [5, 5, 5]])
    rng = np.random.default_rng(0)
    long_clips = np.array([[0, 30], [100, 107]])
    draws = np.stack([segment_frames(long_clips, 3, rng) for _ in range(200)])
    for n, (begin, end) in enumerate(long_clips):
        length = end - begin
        for k in range(3):
            # The frames that overlap [b + k L / K, b + (k + 1) L / K) in continuous time.
            low, high = begin + k * length // 3, begin - (-(k + 1) * length // 3) - 1
            frames = draws[:, n, k]
            assert frames.min() == low and frames.max() == high
            assert len(np.unique(frames)) == high - low + 1  # every such frame is drawn
    with pytest.raises(ValueError, match="end > begin"):
        segment_frames(np.array([[4, 4]]), 3)


def test_sample_clips_without_then_with_replacement():
    proposals = np.array([[0, 5], [5, 9], [9, 20], [20, 31]])
    rng = np.random.default_rng(0)
    three = sample_clips(proposals, 3, rng)
    assert len({tuple(c) for c in three}) == 3 and np.all(np.diff(three[:, 0]) > 0)
    six = sample_clips(proposals, 6, rng)
    assert six.shape == (6, 2) and {tuple(c) for c in six} == {tuple(c) for c in proposals}
    assert np.all(np.diff(six[:, 0]) >= 0)
    with pytest.raises(ValueError, match="proposals is empty"):
        sample_clips(np.zeros((0, 2)), 3, rng)
