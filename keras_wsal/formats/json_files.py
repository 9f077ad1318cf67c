"""Reading the JSON files of keras_wsal (a path or an already-loaded dict) with field checks.

Every check raises `DataError` with a message that names the file (or "ground truth" /
"predictions" for an in-memory dict), the video, the entry and the field, and what was expected,
in one style: `FILE: video 'V', annotation I, field 'F': expected ..., got ...`.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from keras_wsal.errors import DataError, MissingFileError

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
        name = str(Path(source))
        data = read_json(source, what)
    if not isinstance(data, Mapping):
        raise DataError(f"{name}: expected a JSON object at the top level, got {kind(data)}")
    if top_key not in data:
        raise DataError(f"{name}: missing the top-level field {top_key!r}")
    if not isinstance(data[top_key], Mapping):
        raise DataError(
            f"{name}: field {top_key!r} must be an object keyed by video, got {kind(data[top_key])}"
        )
    return data[top_key], name


def read_json(path: str | os.PathLike, what: str) -> Any:
    """The parsed JSON file `path`.

    Raises:
        MissingFileError: `path` does not exist or is not a file ("WHAT file PATH does not exist").
        DataError: it is not UTF-8 text or not valid JSON (the message gives line and column).
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{what} file {path} does not exist (or is not a file)")
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as error:
        raise DataError(
            f"{path}: not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})"
        ) from None
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text ({error.reason})") from None
    except OSError as error:
        raise DataError(f"{path}: cannot be read ({error.strerror or error})") from None


def finite_number(value: Any, where: str, field: str) -> float:
    """`value` as a float; DataError naming `where` and `field` unless it is a finite number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DataError(f"{where}, field {field!r}: expected a finite number, got {value!r}")
    return float(value)


def positive_number(value: Any, where: str, field: str) -> float:
    """`value` as a float; DataError naming `where` and `field` unless it is finite and > 0."""
    number = finite_number(value, where, field)
    if number <= 0:
        raise DataError(f"{where}, field {field!r}: expected a positive number, got {value!r}")
    return number


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
        raise DataError(f"{where}: expected an object, got {kind(entry)}")
    if field not in entry:
        raise DataError(f"{where}: missing field {field!r}")
    return entry[field]


def label_field(entry: Mapping, where: str) -> str:
    """`entry["label"]`; DataError unless it is a non-empty string."""
    label = entry_field(entry, "label", where)
    if not isinstance(label, str) or not label:
        raise DataError(f"{where}, field 'label': expected a non-empty string, got {label!r}")
    return label


def kind(value: Any) -> str:
    """The JSON type name of `value`, for messages."""
    return "null" if value is None else type(value).__name__
