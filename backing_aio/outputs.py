"""Writing outputs safely: every path checked before the work starts, every file written
whole or not at all, and no name from a variant able to steer a file out of its directory.

- ``output_file(path)`` / ``output_dir(path)``: checked at the start of a command (exit 2
  naming the path when it cannot be used), so hours of work are never lost to a typo.
- ``write_text(path, text)``: a temporary file in the same directory, flushed and synced,
  then renamed over the target: a reader sees the old file or the new one, and a full disk
  (ENOSPC) leaves the old one in place.
- ``file_stem(name)``: a variant's or property's name as a file name: only letters,
  digits, ``-``, ``_``, ``.`` and ``+``; no leading dot; never empty. Joined to a checked
  directory, the result stays inside it (``inside`` checks that once more).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path
from typing import Final

from backing_aio.errors import BadInput

_UNSAFE: Final = re.compile(r"[^A-Za-z0-9.+-]+")


def file_stem(name: str) -> str:
    """``name`` made safe as (part of) a file name (see the module): runs of anything else
    become one ``_``; no ``_`` at either end and no leading dot (so never ``..``)."""
    stem = _UNSAFE.sub("_", name).strip("_").lstrip(".")
    return stem[:120] or "_"


def inside(directory: Path, name: str) -> Path:
    """``directory / name``, refusing anything that would land elsewhere."""
    target = (directory / name).resolve()
    if target.parent != directory.resolve():
        raise BadInput(f"{name!r} would be written outside {directory}")
    return target


def _writable_dir(d: Path, what: str) -> None:
    if not d.exists():
        raise BadInput(f"{what}: directory {d} does not exist")
    if not d.is_dir():
        raise BadInput(f"{what}: {d} is not a directory")
    # a real file, not os.access: root passes access checks that /proc or a read-only
    # mount still refuse
    try:
        with tempfile.TemporaryFile(dir=d):
            pass
    except OSError as e:
        raise BadInput(f"{what}: cannot write in {d}: {e.strerror or e}") from None


def output_file(path: Path, what: str = "output") -> Path:
    """Check that ``path`` can be written as a file: its directory exists and is writable,
    and it is not a directory or a device (a regular file there is replaced)."""
    if path.exists() and not path.is_file():
        raise BadInput(f"{what}: {path} exists and is not a regular file")
    _writable_dir(path.parent if str(path.parent) else Path("."), what)
    return path


def output_path(path: Path, what: str = "output") -> Path:
    """``output_file`` after making the file's directory if need be (``output_dir``)."""
    output_dir(path.parent if str(path.parent) else Path("."), what)
    return output_file(path, what)


def output_dir(path: Path, what: str = "output directory") -> Path:
    """Check that ``path`` is, or can be made, a writable directory (made now)."""
    if path.exists():
        if not path.is_dir():
            raise BadInput(f"{what}: {path} exists and is not a directory")
    else:
        parent = path.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        _writable_dir(parent, what)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise BadInput(f"{what}: cannot make {path}: {e.strerror}") from None
    _writable_dir(path, what)
    return path


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``path`` atomically (see the module); an OSError names the path. Only a
    regular file is ever replaced: a device or a directory there is refused."""
    if path.exists() and not path.is_file():
        raise BadInput(f"{path} exists and is not a regular file")
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise BadInput(f"cannot write {path}: {e.strerror or e}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode())
