"""Reading annotation and result JSON (a path or an already-loaded dict) with field checks.

Every check raises `DataError` with a message that names the file (or "ground truth" /
"predictions" for an in-memory dict), the video, the entry and the field, and what was expected.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from keras_wsal.errors import DataError

JsonSource = str | os.PathLike | Mapping


def load_json_object(source: JsonSource, what: str, top_key: str) -> tuple[Mapping, str]:
    """The mapping stored under `top_key` of a JSON object, and a name for messages.

    Args:
        source: a path to a JSON file, or an already-loaded dict.
        what: what the source is ("ground truth", "predictions"), used when it is a dict.
        top_key: the key whose value must be a JSON object ("database", "results").

    Returns:
        `(source[top_key], name)` where `name` is the file path or `what`.
    """
    if isinstance(source, Mapping):
        data, name = source, what
    else:
        path = Path(source)
        name = str(path)
        if not path.is_file():
            raise FileNotFoundError(f"{what} file {name} does not exist (or is not a file)")
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except json.JSONDecodeError as error:
            raise DataError(
                f"{name}: not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})"
            ) from None
        except UnicodeDecodeError as error:
            raise DataError(f"{name}: not UTF-8 text ({error.reason})") from None
    if not isinstance(data, Mapping):
        raise DataError(f"{name}: expected a JSON object at the top level, got {_kind(data)}")
    if top_key not in data:
        raise DataError(f"{name}: missing the top-level field {top_key!r}")
    if not isinstance(data[top_key], Mapping):
        raise DataError(
            f"{name}: field {top_key!r} must be an object keyed by video, "
            f"got {_kind(data[top_key])}"
        )
    return data[top_key], name


def finite_number(value: Any, where: str, field: str) -> float:
    """`value` as a float; DataError naming `where` and `field` unless it is a finite number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DataError(f"{where}, field {field!r}: expected a finite number, got {value!r}")
    return float(value)


def segment_pair(value: Any, where: str, field: str = "segment") -> tuple[float, float]:
    """`[start, end]` seconds as floats; DataError unless two finite numbers with start <= end."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise DataError(
            f"{where}, field {field!r}: expected [start, end] in seconds, got {value!r}"
        )
    start = finite_number(value[0], where, f"{field}[0]")
    end = finite_number(value[1], where, f"{field}[1]")
    if start > end:
        raise DataError(f"{where}, field {field!r}: start {start} is after end {end}")
    return start, end


def entry_field(entry: Any, field: str, where: str) -> Any:
    """`entry[field]`; DataError unless `entry` is an object holding `field`."""
    if not isinstance(entry, Mapping):
        raise DataError(f"{where}: expected an object, got {_kind(entry)}")
    if field not in entry:
        raise DataError(f"{where}: missing field {field!r}")
    return entry[field]


def label_field(entry: Mapping, where: str) -> str:
    """`entry["label"]`; DataError unless it is a non-empty string."""
    label = entry_field(entry, "label", where)
    if not isinstance(label, str) or not label:
        raise DataError(f"{where}, field 'label': expected a non-empty string, got {label!r}")
    return label


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__
