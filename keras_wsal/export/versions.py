"""The folder layout TensorFlow Serving polls, and putting a new version into it atomically.

```
saved_models/NAME/              --model_base_path of tensorflow_model_server
  1/                            a SavedModel: saved_model.pb, variables/, assets/
  2/
  keras/1.keras                 the same model as a Keras file (not a version: TF Serving skips it)
  .tmp-export-PID-*/            an export in progress (skipped too; gone when it ends, or by the
                                next export if its process was killed)
```

TF Serving's file system poller (`FileSystemStoragePathSource`) serves the children of the base
path whose names parse as integers (`strings::safe_strto64`: optional spaces and sign, digits)
and skips every other name. A new version is written under a `.tmp-export-` folder in the base
path and renamed into place (one `rename` on the same file system), so a poller sees either no
version directory or the whole SavedModel.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from keras_wsal.errors import ExportError
from keras_wsal.utils.arguments import is_int
from keras_wsal.utils.processes import process_alive

KERAS_DIR = "keras"
STAGING_PREFIX = ".tmp-export-"
_VERSION_NAME = re.compile(r"\s*[+-]?[0-9]+\s*")


def version_number(name: str) -> int | None:
    """The version TF Serving reads from a child's name, or None when it skips that child."""
    return int(name) if _VERSION_NAME.fullmatch(name) else None


def existing_versions(base: str | os.PathLike) -> list[int]:
    """The versions under `base`: version directories, and `keras/VERSION.keras` files, sorted."""
    base = Path(base)
    if not base.is_dir():
        return []
    found = {version_number(child.name) for child in base.iterdir() if child.is_dir()}
    keras_dir = base / KERAS_DIR
    if keras_dir.is_dir():
        found |= {version_number(child.stem) for child in keras_dir.glob("*.keras")}
    return sorted(v for v in found if v is not None)


def next_version(base: str | os.PathLike) -> int:
    """1 for a new base path, else one more than the highest existing version."""
    versions = existing_versions(base)
    return versions[-1] + 1 if versions else 1


def check_new_version(base: str | os.PathLike, version) -> int:
    """`version` as an int >= 1 that has no directory and no `.keras` file under `base` yet."""
    if not is_int(version, 1):
        raise ExportError(f"version must be an integer >= 1; got {version!r}")
    base = Path(base)
    taken = [p for p in (base / str(version), base / KERAS_DIR / f"{version}.keras") if p.exists()]
    if taken or version in existing_versions(base):
        where = taken[0] if taken else base
        raise ExportError(
            f"version {version} already exists ({where}); an export never replaces a version — "
            f"choose another version or leave it out to get version {next_version(base)}"
        )
    return version


@contextlib.contextmanager
def staging_directory(base: str | os.PathLike) -> Iterator[Path]:
    """A fresh `.tmp-export-*` folder inside `base`, removed with its contents on exit.

    It lives in the base path so that the final `rename` stays on one file system, and its name
    does not parse as an integer, so TF Serving never takes it for a version.
    """
    base = Path(base)
    try:
        base.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ExportError(f"{base}: the export folder exists and is not a directory") from None
    remove_stale_staging(base)
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=base))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def remove_stale_staging(base: Path) -> None:
    """Remove the `.tmp-export-PID-*` folders of exports whose process is gone (killed)."""
    for child in base.glob(f"{STAGING_PREFIX}*"):
        pid = child.name[len(STAGING_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(child, ignore_errors=True)


def publish(
    staged_saved_model: Path, staged_keras: Path, base: Path, version: int, chosen: bool = False
) -> Path:
    """Move a staged SavedModel to `base/VERSION` and its `.keras` file to `base/keras/`.

    The version directory appears in one `rename`, which fails rather than replace a version
    another export published meanwhile (its directory is never empty). Then a `version` that was
    `chosen` (not given by the user) moves on to the next free one; a given one is an error.

    Returns:
        The version directory.
    """
    while True:
        if chosen:
            version = next_version(base)
        check_new_version(base, version)
        target = base / str(version)
        try:
            os.rename(staged_saved_model, target)
            break
        except OSError as error:
            if not (chosen and target.exists()):
                raise ExportError(
                    f"{target}: cannot publish the export ({error.strerror})"
                ) from None
    (base / KERAS_DIR).mkdir(exist_ok=True)
    os.rename(staged_keras, base / KERAS_DIR / f"{version}.keras")
    return target
