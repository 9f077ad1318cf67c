"""Writing files so that a reader never sees half of one: a temporary file, then a rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """A file object on a temporary file beside `path`, moved onto `path` when the block succeeds.

    The data goes to a temporary file in the same folder (named `.NAME.*.tmp`), which is flushed
    to disk and renamed over `path` (`os.replace` is atomic within one file system). A failure
    inside the block removes the temporary file and leaves `path` as it was, so no half-written
    output is ever seen. Missing parent folders are created. `mode` is "wb" or "w" (UTF-8).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
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
