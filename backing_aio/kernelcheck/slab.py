"""The leak oracle: how many wrappers are in use, from the backing_aio slab.

The cache is merged with other caches of the same size, and its raw ``objects`` counts
whole slabs' worth of objects (it moves in steps of 32). Shrinking first releases the
empty slabs and the per-CPU partial lists, after which ``objects`` is the exact number of
allocated objects. The other caches merged with it are counted too, so a check compares
the count before and after a run rather than with zero.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from backing_aio.kernelcheck.errors import Unavailable

SLAB: Final = Path("/sys/kernel/slab/backing_aio")


def in_use() -> int:
    if not SLAB.exists():
        raise Unavailable(f"{SLAB} is missing (no SLUB sysfs or no backing-file support)")
    try:
        (SLAB / "shrink").write_text("1")
    except OSError as e:
        raise Unavailable(f"cannot shrink {SLAB.name}: {e.strerror}") from None
    return int((SLAB / "objects").read_text().split()[0])
