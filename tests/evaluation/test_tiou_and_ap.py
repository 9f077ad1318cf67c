"""tIoU and the two AP definitions, against hand-computed values."""

import numpy as np
import pytest

from keras_wsal.evaluation import (
    interpolated_average_precision,
    precision_at_hits_average_precision,
    segment_tiou,
)
from keras_wsal.evaluation.average_precision import rank_by_score


def test_segment_tiou_by_hand():
    # [0,10] vs [5,15]: intersection 5, union 15 -> 1/3; vs [10,20]: touching -> 0;
    # vs [2,4]: inside -> 2/10; vs [0,10] -> 1.
    tiou = segment_tiou([[0, 10]], [[5, 15], [10, 20], [2, 4], [0, 10]])
    np.testing.assert_allclose(tiou, [[1 / 3, 0.0, 0.2, 1.0]])


def test_zero_length_segments_have_tiou_zero():
    # A zero-length segment inside a segment, and two identical zero-length segments (0 / 0).
    tiou = segment_tiou([[5, 5]], [[0, 10], [5, 5]])
    np.testing.assert_array_equal(tiou, [[0.0, 0.0]])


def test_interpolated_ap_by_hand():
    # hits F,T,T with 2 positives: precision 0, 1/2, 2/3; recall 0, 1/2, 1.
    # Monotone envelope: 2/3 everywhere up to recall 1 -> AP = 1/2*2/3 + 1/2*2/3 = 2/3.
    assert interpolated_average_precision([False, True, True], 2) == pytest.approx(2 / 3)


def test_non_interpolated_ap_by_hand():
    # Same list: (precision@2 + precision@3) / 2 = (1/2 + 2/3) / 2 = 7/12.
    assert precision_at_hits_average_precision([False, True, True], 2) == pytest.approx(7 / 12)


def test_missed_positives_count_in_both():
    # hits T,F,T with 3 positives (one never retrieved):
    # interpolated: envelope 1 on (0,1/3], 2/3 on (1/3,2/3], 0 after -> (1 + 2/3) / 3 = 5/9;
    # non-interpolated: (1 + 2/3) / 3 = 5/9.
    assert interpolated_average_precision([True, False, True], 3) == pytest.approx(5 / 9)
    assert precision_at_hits_average_precision([True, False, True], 3) == pytest.approx(5 / 9)


def test_empty_list_scores_zero():
    assert interpolated_average_precision([], 4) == 0.0
    assert precision_at_hits_average_precision([], 4) == 0.0


def test_rank_by_score_is_stable_and_puts_minus_inf_last():
    order = rank_by_score([0.5, -np.inf, 0.9, 0.5, -np.inf])
    np.testing.assert_array_equal(order, [2, 0, 3, 1, 4])
