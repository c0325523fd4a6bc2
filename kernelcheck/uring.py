"""io_uring through the PyPI ``liburing`` binding.

Buffers go in as iovecs (``prep_readv``/``prep_writev`` over memoryviews): the binding's
``prep_read``/``prep_write`` take only bytes/bytearray, whose addresses are not page-aligned,
so O_DIRECT would fail with -EINVAL. The binding raises OSError when a completion's ``res``
is negative; the errno is the result then.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import liburing

from kernelcheck.driver import CURRENT_POS, Driver, Op
from kernelcheck.errors import Unavailable
from refimpl.iovec import Unplaceable, iovec

_U64_MAX = (1 << 64) - 1  # the offset that means "the file position"


class Uring(Driver):
    name = "io_uring"
    supports_current_pos = True

    def __init__(self, depth: int = 64) -> None:
        super().__init__(depth)
        try:
            iovec([bytearray(1)])  # the binding's Iovec can be aimed at any memory
        except Unplaceable as e:
            raise Unavailable(str(e)) from None
        self.ring = liburing.Ring()
        try:
            liburing.io_uring_queue_init(depth, self.ring)
        except OSError as e:
            raise Unavailable(f"io_uring_setup failed: {e.strerror}") from None
        self.cqe = liburing.Cqe()
        self._open = True

    def _prep(self, op: Op, tag: int, keep: list[Any]) -> None:
        sqe = liburing.io_uring_get_sqe(self.ring)
        iov, alive = iovec(op.bufs)  # no buffer pinned for ever (refimpl.iovec)
        keep.append((iov, alive))  # the kernel reads the iovec array when the IO is issued
        off = _U64_MAX if op.offset == CURRENT_POS else op.offset
        if op.write:
            liburing.io_uring_prep_writev(sqe, op.fd, iov, off, op.rw_flags)
        else:
            liburing.io_uring_prep_readv(sqe, op.fd, iov, off, op.rw_flags)
        liburing.io_uring_sqe_set_data64(sqe, tag)

    def _reap(self, out: list[int], pending: int) -> int:
        liburing.io_uring_submit_and_wait(self.ring, 1)
        got = 0
        for _ in liburing.CqeIter(self.ring, self.cqe):
            c = self.cqe[0]
            tag = c.user_data
            try:
                res = c.res
            except OSError as e:  # the binding's spelling of a negative res
                res = -(e.errno or 0)
            out[tag] = int(res or 0)
            got += 1
        liburing.io_uring_cq_advance(self.ring, got)
        return pending - got

    def run(self, ops: Sequence[Op]) -> list[int]:
        out = [0] * len(ops)
        keep: list[Any] = []
        pending = 0
        for i, op in enumerate(ops):
            if op.length == 0 and not op.bufs:
                raise ValueError("an op needs at least one iovec (it may be empty)")
            while pending >= self.depth:
                pending = self._reap(out, pending)
            self._prep(op, i, keep)
            pending += 1
        while pending:
            pending = self._reap(out, pending)
        return out

    def close(self) -> None:
        if self._open:
            self._open = False
            liburing.io_uring_queue_exit(self.ring)
