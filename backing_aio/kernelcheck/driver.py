"""What an async IO driver does: submit a batch of reads and writes, reap every result.

Two drivers reach the backing-file helpers: io_uring (backing_aio.kernelcheck.uring) and Linux
native AIO (backing_aio.kernelcheck.aio). Both issue non-sync kiocbs, which is what makes overlayfs
and FUSE passthrough allocate a wrapper; a thread pool doing pread/pwrite would not.
"""

from __future__ import annotations

import mmap
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

CURRENT_POS: Final = -1  # io_uring: use (and advance) the file position
RWF_DSYNC: Final = 0x2  # include/uapi/linux/fs.h


@dataclass(frozen=True)
class Op:
    """One IO: ``bufs`` are the iovecs (memoryviews the caller keeps alive until the result
    is back); ``offset`` may be CURRENT_POS with io_uring only."""

    fd: int
    write: bool
    offset: int
    bufs: Sequence[memoryview]
    rw_flags: int = 0

    @property
    def length(self) -> int:
        return sum(len(b) for b in self.bufs)


class Driver(ABC):
    """Submits up to ``depth`` IOs at a time; ``run`` returns each op's result (bytes or
    -errno) in order."""

    name: str = ""
    supports_current_pos: bool = False

    def __init__(self, depth: int = 64) -> None:
        self.depth = depth

    @abstractmethod
    def run(self, ops: Sequence[Op]) -> list[int]: ...

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Driver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def aligned(size: int) -> mmap.mmap:
    """A page-aligned anonymous buffer: what O_DIRECT needs (bytearrays are not aligned)."""
    return mmap.mmap(-1, max(size, mmap.PAGESIZE))
