"""The lower filesystem: real IO on the backing file with os.preadv/os.pwritev.

What the helpers may rely on (contracts L1 and L2 of DESIGN.md), and what this lower
filesystem does:

- A synchronous kiocb (``vfs_iter_read/write``) is served at once.
- An asynchronous kiocb is either served at once and its result returned (what buffered IO
  on ext4 always does), or *queued*: the IO is handed to a completion thread, which does the
  preadv/pwritev and then calls the clone's ``ki_complete`` exactly once (L1), in completion
  ("irq") context. In the inline mode the completion runs on the submitting thread before
  submit returns, which is legal too.
- After queueing, the lower filesystem still touches the clone and its ``ki_filp`` before it
  returns -EIOCBQUEUED (L2: ext4's direct-IO read calls ``file_accessed(iocb->ki_filp)``),
  possibly after the completion already ran.

Faults are the environment's decisions (refimpl.env): an error instead of the IO (EIO,
ENOSPC), a short count, and, elsewhere, allocation failure. The choice a step records is
what happened: a negative result is ``-EIO`` in the model's spelling, whatever errno it was.

The completion's outcome is fixed when the IO is queued, so that a controlled run's
decisions happen inside steps (reproducible); the IO itself then runs on the completion
thread before its first point, in parallel with whatever else runs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from refimpl.kasan import Finding
from refimpl.sched import (
    COMPLETE_FIRES,
    COMPLETION,
    LOWER,
    LOWER_RETURNS,
    Actor,
    become,
    choose,
    current,
    step,
)
from refimpl.vfs import EIO, EIOCBQUEUED, ENOSPC, File, IovIter, Kiocb, file_accessed

if TYPE_CHECKING:
    from refimpl.kernel import Kernel



def _truncate(segments: Sequence[memoryview], n: int) -> list[memoryview]:
    out: list[memoryview] = []
    for s in segments:
        if n <= 0:
            break
        out.append(s[:n])
        n -= len(out[-1])
    return out


class LowerFs:
    """The backing file's filesystem, as the helpers see it through the VFS."""

    def __init__(self, k: Kernel) -> None:
        self.k = k
        # the completion outcome decided for each queued request, until it fires (part of a
        # run's state that the model sees only later: the exhaustive search keys on it)
        self.pending: dict[int, str] = {}
        self.ios = 0

    def _io(self, kind: str, fd: int, segments: Sequence[memoryview], pos: int,
            plan: str) -> int:
        """Do (or fail) the IO as ``plan`` says; the result as the kernel returns it."""
        if "-EIO" in plan:
            return -EIO
        if "-ENOSPC" in plan:
            return -ENOSPC if kind == "write" else -EIO
        if "(short)" in plan:
            total = sum(len(s) for s in segments)
            segments = _truncate(segments, max(1, total // 2))
        self.ios += 1
        try:
            if kind == "read":
                return os.preadv(fd, segments, pos)
            return os.pwritev(fd, segments, pos)
        except OSError as e:
            return -(e.errno or EIO)

    # ->read_iter/->write_iter with a synchronous kiocb (vfs_iter_read/write)
    def sync_rw(self, kind: str, file: File, iter: IovIter, iocb: Kiocb) -> int:
        a = current()
        plan = self.k.env.decide("sync", a.req)
        pos = iocb.ki_pos
        ret = self._io(kind, file.fd, iter.segments, pos, plan)
        choose("returns RES" if ret >= 0 else "returns -EIO")
        if ret > 0:
            iocb.ki_pos = pos + ret
        self.k.requests[a.req].lower_res = ret
        return ret

    # ->read_iter/->write_iter with an asynchronous kiocb (the helpers' clone)
    def submit(self, kind: str, iocb: Kiocb, iter: IovIter) -> int:
        a = current()
        req = a.req
        k = self.k
        plan = k.env.decide("submit", req)
        filp = iocb.ki_filp
        pos = iocb.ki_pos
        if not plan.startswith("queues"):
            ret = self._io(kind, filp.fd, iter.segments, pos, plan)
            choose("returns RES" if ret >= 0 else "returns -EIO")
            if ret > 0:
                iocb.ki_pos = pos + ret
            k.requests[req].lower_res = ret
            return ret
        choose("queues")
        k.requests[req].queued = True
        if iocb.ki_complete is None:
            raise Finding("COMPLETE_IFF_QUEUED", f"request #{req}: the lower filesystem "
                          "queued a kiocb without ki_complete")
        outcome = k.env.decide("complete", req)
        self.pending[req] = outcome
        # The device keeps its own reference to the inode's blocks: the IO does not use the
        # clone's file after this point (the completion checks that file is still alive).
        fd = os.dup(filp.fd)
        segments = list(iter.segments)
        if plan == "queues (inline)":
            res = self._io(kind, fd, segments, pos, outcome)
            os.close(fd)
            self._complete(req, iocb, res)
        else:
            def io_thread() -> None:
                try:
                    res = self._io(kind, fd, segments, pos, outcome)
                finally:
                    os.close(fd)
                self._complete(req, iocb, res)

            k.sched.spawn(io_thread, f"io#{req}", "io")
        # L2: still inside submit, ext4 touches the clone and its file, then returns.
        become(Actor(k, req, LOWER))
        step(LOWER_RETURNS)
        file_accessed(iocb.ki_filp)
        become(a)
        return -EIOCBQUEUED

    def _complete(self, req: int, iocb: Kiocb, res: int) -> None:
        """The IO is done: call the clone's ki_complete, in completion context."""
        k = self.k
        back = getattr_current()
        become(Actor(k, req, COMPLETION, irq=True))
        step(COMPLETE_FIRES, "res RES" if res >= 0 else "res -EIO")
        del self.pending[req]
        filp = iocb.ki_filp
        filp.check("the lower fs completes IO on the clone's ki_filp")
        if res > 0:
            iocb.ki_pos += res
        k.requests[req].lower_res = res
        ki_complete = iocb.ki_complete
        assert ki_complete is not None
        ki_complete(iocb, res)
        if back is not None:
            become(back)


def getattr_current() -> Actor | None:
    try:
        return current()
    except RuntimeError:
        return None
