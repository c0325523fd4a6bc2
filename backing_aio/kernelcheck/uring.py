"""io_uring through the project's own ring over the raw system calls (backing_aio.refimpl.io_uring).

Buffers go in as iovecs (READV/WRITEV over memoryviews), so a page-aligned buffer from
``mmap`` does real O_DIRECT. One thread submits and reaps: ``run`` keeps at most
``depth`` IOs in flight, and the CQ has room for twice as many, so it never overflows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from backing_aio.kernelcheck.driver import CURRENT_POS, Driver, Op
from backing_aio.kernelcheck.errors import Unavailable
from backing_aio.refimpl import io_uring


class Uring(Driver):
    name = "io_uring"
    supports_current_pos = True

    def __init__(self, depth: int = 64) -> None:
        super().__init__(depth)
        try:
            self.ring = io_uring.IoUring(depth)
        except io_uring.Unavailable as e:
            raise Unavailable(str(e)) from None
        self._open = True

    def _reap(self, out: list[int], keep: dict[int, Any], pending: int) -> int:
        self.ring.submit(wait=1)
        for c in self.ring.reap():
            out[c.user_data] = c.res
            del keep[c.user_data]  # the kernel is done with the iovec array and buffers
            pending -= 1
        return pending

    def run(self, ops: Sequence[Op]) -> list[int]:
        out = [0] * len(ops)
        keep: dict[int, Any] = {}
        pending = 0
        for i, op in enumerate(ops):
            if op.length == 0 and not op.bufs:
                raise ValueError("an op needs at least one iovec (it may be empty)")
            while pending >= self.depth:
                pending = self._reap(out, keep, pending)
            iov = io_uring.iovecs(op.bufs)
            keep[i] = (iov, op.bufs)
            off = -1 if op.offset == CURRENT_POS else op.offset
            self.ring.prep_rw(op.write, op.fd, iov, len(op.bufs), off, i, op.rw_flags)
            pending += 1
        while pending:
            pending = self._reap(out, keep, pending)
        return out

    def close(self) -> None:
        if self._open:
            self._open = False
            self.ring.close()
