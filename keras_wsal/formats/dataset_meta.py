"""`meta.json`: what the features of a dataset are (see `keras_wsal.datasets`).

Known fields: "feature_fps" (positive number), "streams" (["features"] or ["rgb", "flow"]),
"feature_dim" ({stream: positive int} for exactly those streams) and the optional "classes"
(distinct non-empty names, "Ambiguous" excluded, their order is the class index). Any other field
is kept as it is. Every check raises `DataError` naming the file and the field.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

import numpy as np

from keras_wsal.errors import DataError
from keras_wsal.formats.annotations import check_classes
from keras_wsal.formats.dataset_layout import STREAM_SETS
from keras_wsal.utils.arguments import is_int


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def positive_real(value: object, what: str) -> float:
    """`value` as a float if it is a positive finite number, else DataError about `what`."""
    if not _is_real(value) or not math.isfinite(value) or value <= 0:
        raise DataError(f"{what} must be a positive finite number, got {value!r}")
    return float(value)


def parse_meta(meta: object, source: str) -> dict:
    """Check the contents of `meta.json`; return it with the known fields normalised.

    Known fields: "feature_fps" (positive number), "streams" (["features"] or ["rgb", "flow"]),
    "feature_dim" ({stream: positive int} for exactly those streams) and the optional "classes"
    (distinct non-empty names, "Ambiguous" excluded, their order is the class index). Any other
    field is kept as it is.
    """
    if not isinstance(meta, Mapping):
        raise DataError(f"{source}: expected a JSON object, got {type(meta).__name__}")
    for field in ("feature_fps", "streams", "feature_dim"):
        if field not in meta:
            raise DataError(f'{source}: missing field "{field}"')
    parsed = dict(meta)
    parsed["feature_fps"] = positive_real(meta["feature_fps"], f'{source}: field "feature_fps"')
    streams = meta["streams"]
    if not isinstance(streams, (list, tuple)) or tuple(streams) not in STREAM_SETS:
        raise DataError(
            f'{source}: field "streams" must be ["features"] or ["rgb", "flow"], got {streams!r}'
        )
    parsed["streams"] = list(streams)
    dims = meta["feature_dim"]
    if not isinstance(dims, Mapping) or set(dims) != set(streams):
        raise DataError(
            f'{source}: field "feature_dim" must map each of the streams {list(streams)} to its '
            f"feature size, got {dims!r}"
        )
    for stream, dim in dims.items():
        if not is_int(dim, 1):
            raise DataError(
                f'{source}: field "feature_dim" of stream "{stream}" must be a positive integer, '
                f"got {dim!r}"
            )
    parsed["feature_dim"] = {stream: int(dims[stream]) for stream in streams}
    if "classes" in meta:
        parsed["classes"] = check_classes(meta["classes"], f'{source}: field "classes"')
    return parsed
