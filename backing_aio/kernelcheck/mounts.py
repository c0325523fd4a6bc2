"""mount(2) and umount2(2) through libc, and what is mounted (from /proc/self/mounts)."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Final

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                        ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]

MNT_DETACH: Final = 2
MS_NOSUID: Final = 2
MS_NODEV: Final = 4


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def mount(source: str, target: str | Path, fstype: str, flags: int, data: str) -> None:
    rc = _libc.mount(source.encode(), os.fsencode(target), fstype.encode(), flags,
                     data.encode())
    _check(rc, f"mount -t {fstype} {target}")


def umount(target: str | Path, flags: int = 0) -> None:
    _check(_libc.umount2(os.fsencode(target), flags), f"umount {target}")


def _unescape(field: str) -> str:
    # /proc/self/mounts escapes space, tab, newline and backslash as \ooo
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) + 0 and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mount_points() -> list[tuple[str, str]]:
    """(mount point, filesystem type) of every mount this process sees."""
    out = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3:
            out.append((_unescape(parts[1]), parts[2]))
    return out


def unmount_all(target: str | Path) -> None:
    """Unmount ``target``; if it is busy, detach it lazily (it goes when the last user
    does). Never raises if it is not mounted at all."""
    p = os.path.realpath(target)
    if p not in [m for m, _ in mount_points()]:
        return
    try:
        umount(p)
    except OSError:
        umount(p, MNT_DETACH)
