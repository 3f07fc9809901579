"""Where runs write: checks made before any work starts, and OS errors turned into one line.

Every command that writes (``segment --out``, ``train-sft --out``, ``validate --write-passing``,
``stats --png``, ``eval --out``) checks its target at once with :func:`check_folder` or
:func:`check_file`, so a file where a folder belongs or a read-only parent is refused before a
model loads or a trace is annotated. :func:`writing` turns an ``OSError`` raised while writing
(the disk full, permission lost) into an :class:`~openmementos.errors.OutputError` that says what
failed and what to do.
"""

from __future__ import annotations

import errno
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import OutputError

_RESUME = "run the same command again to resume: finished shards are kept"


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(".")


def _refuse_unwritable(path: Path, option: str) -> None:
    parent = _nearest_existing(path)
    if not parent.is_dir():
        raise OutputError(f"{option} {path}: {parent} is a file, not a folder", f"choose another {option}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{option} {path}: cannot write in {parent} (permission denied)",
                          f"choose a {option} you can write to")


def check_folder(path: Path, option: str) -> None:
    """Refuse ``path`` as an output folder when it is a file or cannot be created or written."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{option} {path} is a file, not a folder", f"choose a folder for {option}")
    _refuse_unwritable(path, option)


def check_file(path: Path, option: str) -> None:
    """Refuse ``path`` as an output file when it is a folder or its folder cannot be written."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{option} {path} is a folder, not a file", f"name a file for {option}, e.g. {path / 'report.json'}")
    _refuse_unwritable(path.parent, option)


def output_error(error: OSError, where: Path, hint: str = _RESUME) -> OutputError:
    """One line for an ``OSError`` raised while writing under ``where``."""
    code = error.errno
    if code is None and "No space left" in str(error):   # pyarrow's errors may not carry errno
        code = errno.ENOSPC
    reason = os.strerror(code) if code else " ".join(str(error).split())[:200]
    name = error.filename or where
    if code == errno.ENOSPC:
        return OutputError(f"cannot write {name}: {reason}", f"free some space, then {hint}")
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        return OutputError(f"cannot write {name}: {reason}", "choose a folder you can write to, or fix its permissions")
    return OutputError(f"cannot write {name}: {reason}", hint)


@contextmanager
def writing(where: Path, hint: str = _RESUME) -> Iterator[None]:
    """Turn an ``OSError`` raised in the block into an :class:`OutputError` about ``where``."""
    try:
        yield
    except OSError as error:
        raise output_error(error, where, hint) from error
