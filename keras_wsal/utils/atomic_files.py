"""Writing files so that a reader never sees half of one: a temporary file, then a rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from keras_wsal.errors import DataError
from keras_wsal.utils.processes import process_alive

_TEMPORARY_SUFFIX = ".tmp"


def remove_stale_temporaries(folder: str | os.PathLike) -> int:
    """Remove the temporary files of `atomic_output` in `folder` whose writing process is gone.

    Returns:
        How many were removed.
    """
    removed = 0
    for leftover in Path(folder).glob(f".*{_TEMPORARY_SUFFIX}"):
        parts = leftover.name.split(".")  # "", NAME..., PID, random + suffix
        pid = parts[-3] if len(parts) >= 4 else ""
        if pid.isdigit() and not process_alive(int(pid)) and leftover.is_file():
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
                removed += 1
    return removed


def make_folder(path: str | os.PathLike) -> Path:
    """Create the folder `path` and its parents (nothing if it exists).

    Raises:
        DataError: naming `path`, when it or a parent is a file or cannot be created.
    """
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise DataError(
            f"{folder}: cannot create this folder: it, or a folder above it, is a file"
        ) from None
    except OSError as error:
        raise DataError(f"{folder}: cannot create this folder ({error.strerror})") from None
    return folder


def check_output_location(path: str | os.PathLike, folder: bool = False) -> Path:
    """Check, before any work, that `path` (a file, or a folder when `folder`) can be created.

    The nearest existing folder above it must be a folder (not a file) that can be written; an
    existing `path` must be a file (a folder when `folder`).

    Raises:
        DataError: naming `path` and what is in the way.
    """
    target = Path(path)
    if target.exists() and target.is_dir() != folder:
        kind = "a folder" if target.is_dir() else "a file"
        raise DataError(f"{target}: is {kind}; expected {'a folder' if folder else 'a file'}")
    parent = target.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise DataError(f"{target}: cannot be created: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DataError(f"{target}: cannot be created: no permission to write in {parent}")
    return target


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """A file object on a temporary file beside `path`, moved onto `path` when the block succeeds.

    The data goes to a temporary file in the same folder (`.NAME.PID.*.tmp`), which is flushed
    to disk and renamed over `path` (`os.replace` is atomic within one file system). A failure
    inside the block removes the temporary file and leaves `path` as it was, so no half-written
    output is ever seen. Missing parent folders are created. `mode` is "wb" or "w" (UTF-8).
    """
    target = Path(path)
    make_folder(target.parent)
    descriptor, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.{os.getpid()}.", suffix=_TEMPORARY_SUFFIX
    )
    try:
        with os.fdopen(
            descriptor, mode, **({} if "b" in mode else {"encoding": "utf-8"})
        ) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> None:
    """Write `path` atomically through `write(binary_file)`."""
    with atomic_output(path, "wb") as handle:
        write(handle)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    with atomic_output(path, "w") as handle:
        handle.write(text)
