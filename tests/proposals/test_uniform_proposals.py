"""Uniform clip proposals against the paper's formula."""

import numpy as np
import pytest

from keras_wsal.proposals import uniform_proposals


def test_matches_the_paper_when_n_divides_t():
    # Paper, 1-based inclusive: b_i = (i - 1) T / N + 1, e_i = i T / N; 0-based half-open:
    # [b_i - 1, e_i).
    T, N = 300, 6
    paper = [((i - 1) * T // N + 1, i * T // N) for i in range(1, N + 1)]
    expected = [(b - 1, e) for b, e in paper]
    np.testing.assert_array_equal(uniform_proposals(T, N), expected)


def test_uneven_split_tiles_the_video():
    clips = uniform_proposals(10, 3)
    np.testing.assert_array_equal(clips, [[0, 3], [3, 6], [6, 10]])
    assert clips.dtype == np.int64
    np.testing.assert_array_equal(uniform_proposals(1, 1), [[0, 1]])
    np.testing.assert_array_equal(uniform_proposals(4, 4), [[0, 1], [1, 2], [2, 3], [3, 4]])


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_clips"):
        uniform_proposals(5, 6)
    with pytest.raises(ValueError, match="num_clips"):
        uniform_proposals(5, 0)
    with pytest.raises(ValueError, match="num_frames"):
        uniform_proposals(0, 1)
