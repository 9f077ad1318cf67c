"""`is_int` and `is_real`, by hand, with the edges every validator relies on."""

import numpy as np
import pytest

from keras_wsal.utils.arguments import is_int, is_real


@pytest.mark.parametrize(
    "value, minimum, expected",
    [
        (3, None, True),
        (np.int64(3), 1, True),
        (0, 1, False),
        (True, None, False),
        (2.0, None, False),
    ],
)
def test_is_int(value, minimum, expected):
    assert is_int(value, minimum) is expected


@pytest.mark.parametrize(
    "value, bounds, expected",
    [
        (0.5, {}, True),
        (np.float32(0.5), {"low": 0, "high": 1}, True),
        (float("nan"), {}, False),
        (float("inf"), {}, False),
        (False, {}, False),
        ("1", {}, False),
        (0.0, {"low": 0.0}, True),
        (0.0, {"low": 0.0, "low_open": True}, False),
        (1.0, {"high": 1.0, "high_open": True}, False),
        (1.0, {"low": 0.0, "high": 1.0}, True),
    ],
)
def test_is_real(value, bounds, expected):
    assert is_real(value, **bounds) is expected
