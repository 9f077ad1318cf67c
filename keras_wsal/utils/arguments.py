"""The two checks behind every argument validator of keras_wsal: an int, and a finite real number.

Both refuse `bool` (a Python `True` is an `int`) and accept NumPy scalars. Validators keep their own
messages (each names its argument and what was expected); what counts as an int or a number is
decided here only.
"""

from __future__ import annotations

import math
import numbers


def is_int(value: object, minimum: int | None = None) -> bool:
    """Whether `value` is an integer (not a bool), at least `minimum` when given."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        return False
    return minimum is None or bool(value >= minimum)


def is_real(
    value: object,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> bool:
    """Whether `value` is a finite real number (not a bool) in the interval given.

    `low` and `high` bound it (inclusive, or exclusive with `low_open` / `high_open`).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    if not math.isfinite(value):
        return False
    if low is not None and (value <= low if low_open else value < low):
        return False
    return high is None or bool(value < high if high_open else value <= high)
