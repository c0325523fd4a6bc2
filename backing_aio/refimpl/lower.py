"""The lower filesystem: real IO on the backing file, served at once with os.preadv and
os.pwritev, or queued to a device (the thread backend here, io_uring in backing_aio.refimpl.uring).

What the helpers may rely on (contracts L1 and L2 of DESIGN.md), and what this lower
filesystem does:

- A synchronous kiocb (``vfs_iter_read/write``) is served at once.
- An asynchronous kiocb is either served at once and its result returned (what buffered IO
  on ext4 always does), or *queued*: the IO is handed to the device, and once it is done
  the clone's ``ki_complete`` is called exactly once (L1), in completion ("irq") context.
  Devices: ``thread`` (a completion thread does the preadv/pwritev, then completes) and
  ``uring`` (backing_aio.refimpl.uring: the kernel's io_uring does the IO, a reaper thread reaps the
  completions). In the inline mode the IO is served and completed on the submitting thread
  before submit returns, which is legal too.
- A kiocb with IOCB_DIRECT goes through the file's O_DIRECT descriptor when the filesystem
  can do real O_DIRECT: a misaligned one then gets -EINVAL from the real kernel, and the
  lower filesystem reports that as its result.
- After queueing, the lower filesystem still touches the clone and its ``ki_filp`` before it
  returns -EIOCBQUEUED (L2: ext4's direct-IO read calls ``file_accessed(iocb->ki_filp)``),
  possibly after the completion already ran.

Faults are the environment's decisions (backing_aio.refimpl.env): an error instead of the IO (EIO,
ENOSPC), a short count, and, elsewhere, allocation failure. The choice a step records is
what happened: a negative result is ``-EIO`` in the model's spelling, whatever errno it was.

The completion's outcome is fixed when the IO is queued, so that a controlled run's
decisions happen inside steps (reproducible); the IO itself then runs on the completion
thread before its first point, in parallel with whatever else runs.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from backing_aio.refimpl.env import FAILS_EIO, FAILS_ENOSPC, SHORT, Refinement, model_choice
from backing_aio.refimpl.kasan import Finding
from backing_aio.refimpl.sched import (
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
from backing_aio.refimpl.vfs import (
    EAGAIN,
    EIO,
    EIOCBQUEUED,
    ENOSPC,
    IOCB_DIO_CALLER_COMP,
    IOCB_DIRECT,
    IOCB_NOWAIT,
    File,
    IovIter,
    Kiocb,
    file_accessed,
)
from backing_aio.vocab import Choice, Kind, PropertyId

if TYPE_CHECKING:
    from backing_aio.refimpl.kernel import Kernel


def _truncate(segments: Sequence[memoryview], n: int) -> list[memoryview]:
    out: list[memoryview] = []
    for s in segments:
        if n <= 0:
            break
        out.append(s[:n])
        n -= len(out[-1])
    return out


def planned(kind: str, segments: Sequence[memoryview], plan: str,
            align: int = 1, iocb_flags: int = 0) -> tuple[list[memoryview], int]:
    """What the device is asked to do under ``plan``: the segments to transfer, or (second
    item, negative errno) an error instead of the IO. A short count of an O_DIRECT IO
    stays a multiple of ``align``, so that the short IO is still a valid direct IO.
    -EAGAIN only answers a kiocb with IOCB_NOWAIT: any other would block, and gets its IO."""
    if plan in FAILS_EIO:
        return [], -EIO
    if plan == Refinement.RETURNS_EAGAIN:
        return ([], -EAGAIN) if iocb_flags & IOCB_NOWAIT else (list(segments), 0)
    if plan in FAILS_ENOSPC:
        return [], -ENOSPC if kind == Kind.WRITE else -EIO
    segments = list(segments)
    if plan in SHORT:
        total = sum(len(s) for s in segments)
        n = max(1, total // 2)
        if align > 1:
            n = max(align, n - n % align)
        if n < total:
            segments = _truncate(segments, n)
    return segments, 0


@dataclass
class DeviceIo:
    """One queued IO as the device sees it: its own descriptor (a dup, closed by the device
    once the IO is done: the device holds the inode, not the clone's file), the segments,
    the position, and the error the plan injects instead of the transfer (0: none)."""

    req: int
    kind: str
    fd: int
    segments: list[memoryview]
    pos: int
    error: int = 0


class Device(Protocol):
    """What does a queued IO and then calls ``done(res)`` in completion context."""

    name: str

    def queue(self, io: DeviceIo, done: Callable[[int], None]) -> None: ...

    def close(self) -> None:
        """Wait for the IO in flight, then release the device."""


class ThreadDevice:
    """A completion thread per queued IO: it does the preadv/pwritev, then completes."""

    name = "thread"

    def __init__(self, lower: LowerFs) -> None:
        self.lower = lower

    def queue(self, io: DeviceIo, done: Callable[[int], None]) -> None:
        def io_thread() -> None:
            try:
                res = self.lower.transfer(io, asynchronous=True)
            finally:
                os.close(io.fd)
            done(res)

        self.lower.k.sched.spawn(io_thread, f"io#{io.req}", "io")

    def close(self) -> None:
        pass  # its threads belong to the scheduler, which waits for them


class LowerFs:
    """The backing file's filesystem, as the helpers see it through the VFS."""

    def __init__(self, k: Kernel) -> None:
        self.k = k
        self.device: Device = ThreadDevice(self)
        # the completion outcome decided for each queued request, until it fires (part of a
        # run's state that the model sees only later: the exhaustive search keys on it)
        self.pending: dict[int, str] = {}
        self.ios = 0  # real reads and writes that reached the kernel
        self.async_ios = 0  # those of them done for an asynchronous kiocb
        # queued IOs the backend transferred and completed on another thread: the real
        # asynchronous completions (not those served inside submit, inline, or faked)
        self.device_ios = 0
        self._count_lock = threading.Lock()

    def count(self, asynchronous: bool) -> None:
        with self._count_lock:
            self.ios += 1
            if asynchronous:
                self.async_ios += 1

    def count_device(self) -> None:
        with self._count_lock:
            self.device_ios += 1

    def transfer(self, io: DeviceIo, asynchronous: bool) -> int:
        """Do (or fail, as planned) one IO with preadv/pwritev; the kernel's result."""
        if io.error:
            return io.error
        self.count(asynchronous)
        try:
            if io.kind == Kind.READ:
                return os.preadv(io.fd, io.segments, io.pos)
            return os.pwritev(io.fd, io.segments, io.pos)
        except OSError as e:
            if io.kind == Kind.WRITE:
                self.torn(io.req)
            return -(e.errno or EIO)

    def torn(self, req: int) -> None:
        """The real kernel failed a write of ``req``: part of it may be on disk anyway."""
        self.k.requests[req].torn = True

    def _align(self, iocb_flags: int) -> int:
        return self.k.dio_align if iocb_flags & IOCB_DIRECT and self.k.direct_io else 1

    def _io(self, kind: str, fd: int, segments: Sequence[memoryview], pos: int, plan: str,
            iocb_flags: int, asynchronous: bool) -> int:
        segs, error = planned(kind, segments, plan, self._align(iocb_flags), iocb_flags)
        return self.transfer(DeviceIo(current().req, kind, fd, segs, pos, error), asynchronous)

    # ->read_iter/->write_iter with a synchronous kiocb (vfs_iter_read/write)
    def sync_rw(self, kind: str, file: File, iter: IovIter, iocb: Kiocb) -> int:
        a = current()
        plan = self.k.env.decide("sync", a.req)
        pos = iocb.ki_pos
        flags = iocb.ki_flags
        ret = self._io(kind, file.fd_for(flags), iter.segments, pos, plan, flags, False)
        choose(Choice.RETURNS_RES if ret >= 0 else Choice.RETURNS_EIO)
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
        flags = iocb.ki_flags
        if model_choice(plan) != Choice.QUEUES:
            ret = self._io(kind, filp.fd_for(flags), iter.segments, pos, plan, flags, True)
            choose(Choice.RETURNS_RES if ret >= 0 else Choice.RETURNS_EIO)
            if ret > 0:
                iocb.ki_pos = pos + ret
            k.requests[req].lower_res = ret
            return ret
        choose(Choice.QUEUES)
        k.requests[req].queued = True
        if iocb.ki_complete is None:
            raise Finding(PropertyId.COMPLETE_IFF_QUEUED, f"request #{req}: the lower filesystem "
                          "queued a kiocb without ki_complete")
        outcome = k.env.decide("complete", req)
        self.pending[req] = outcome
        # The device keeps its own reference to the inode's blocks: the IO does not use the
        # clone's file after this point (the completion checks that file is still alive).
        segments, error = planned(kind, iter.segments, outcome, self._align(flags))
        io = DeviceIo(req, kind, os.dup(filp.fd_for(flags)), segments, pos, error)
        if plan == Refinement.QUEUES_INLINE:
            # Served here whatever the device: waiting on this thread for a device's
            # completion would wait, inside a step, for a reaper that may be waiting for
            # the step to end.
            k.requests[req].inline = True
            try:
                res = self.transfer(io, asynchronous=True)
            finally:
                os.close(io.fd)
            self._complete(req, kind, iocb, res)
        else:
            real = not io.error and bool(io.segments)  # an injected fault moves no byte

            def delivered(res: int) -> None:
                if real:
                    self.count_device()
                self._complete(req, kind, iocb, res)

            self.device.queue(io, delivered)
        # L2: still inside submit, ext4 touches the clone and its file, then returns.
        become(Actor(k, req, LOWER))
        step(LOWER_RETURNS)
        file_accessed(iocb.ki_filp)
        become(a)
        return -EIOCBQUEUED

    def _complete(self, req: int, kind: str, iocb: Kiocb, res: int) -> None:
        """The IO is done: call the clone's ki_complete, in completion context. A write
        whose kiocb carries IOCB_DIO_CALLER_COMP completes as iomap's direct IO does then:
        ki_complete(iocb, 0), the real result left in iocb->dio_complete for the issuer
        to run in task context. (Only a direct write is queued in the kernel; the model
        does not tell queued buffered IO from direct, so neither does this.)"""
        k = self.k
        back = getattr_current()
        become(Actor(k, req, COMPLETION, irq=True))
        step(COMPLETE_FIRES, Choice.RES_RES if res >= 0 else Choice.RES_EIO)
        del self.pending[req]
        filp = iocb.ki_filp
        filp.check("the lower fs completes IO on the clone's ki_filp")
        # The clone's position is final here, deferred completion or not: so the model has
        # it (a deferred completion is judged by its result, not its position)
        if res > 0:
            iocb.ki_pos += res
        k.requests[req].lower_res = res
        ki_complete = iocb.ki_complete
        assert ki_complete is not None
        if kind == Kind.WRITE and iocb.ki_flags & IOCB_DIO_CALLER_COMP:
            k.requests[req].deferred = True
            iocb.dio_complete = lambda: res  # iomap_dio_deferred_complete(dio)
            ki_complete(iocb, 0)
        else:
            ki_complete(iocb, res)
        if back is not None:
            become(back)


def getattr_current() -> Actor | None:
    try:
        return current()
    except RuntimeError:
        return None
