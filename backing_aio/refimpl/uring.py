"""The io_uring device: queued IO is done by the kernel's io_uring (backing_aio.refimpl.io_uring,
the raw system calls), and its completions are reaped on a thread of their own.

``Ring`` is one io_uring instance. Submitters prepare a readv/writev SQE over their iovecs
(a buffer from ``mmap`` is page aligned, so real O_DIRECT works; a misaligned O_DIRECT IO
gets -EINVAL from the kernel in its CQE). The reaper thread sleeps in io_uring_enter until
a CQE is ready (ctypes lets go of Python's global lock for the call, so the other threads
run meanwhile); each wake-up drains every CQE ready and calls its submitter's callback.
No more IOs are in flight than the CQ holds, so no completion ever overflows it.

``UringDevice`` is the lower filesystem's device on top of it. A queued IO is a hold on the
scheduler (backing_aio.refimpl.sched: the run is not over while it is in flight); the reaper hands
its completion to the scheduler with ``deliver``: a free run completes on the reaper itself,
like softirq on the CPU that took the interrupt; a controlled run completes on a thread per
completion, so that every armed completion is ready to move at once, as the model says.
A fault the plan injects (an error instead of the IO) is a NOP through the same ring: its
completion still arrives on the reaper, with the planned error.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, Final

from backing_aio.refimpl.io_uring import IoUring, iovecs
from backing_aio.refimpl.lower import DeviceIo
from backing_aio.refimpl.probe import in_child
from backing_aio.vocab import Kind

if TYPE_CHECKING:
    from backing_aio.refimpl.lower import LowerFs

_QUIT: Final[int] = 0  # user_data of the NOP that stops the reaper
ENTRIES: Final[int] = 256  # SQ entries; the CQ has twice as many

# What the probe runs: a ring, a NOP, a write and a read back (io_uring.selftest).
PROBE = "backing_aio.refimpl.io_uring:selftest"


@cache
def unavailable() -> str | None:
    """Why io_uring cannot be used here, or None if it can. The probe runs in a child
    process: whatever kills it (SIGSYS from a seccomp filter, say) makes io_uring
    unavailable with that reason, and leaves this process alone."""
    return in_child(PROBE, "io_uring")


Reaped = Callable[[int], None]


class Ring:
    """One io_uring instance and the thread that reaps its completions."""

    def __init__(self, entries: int = ENTRIES) -> None:
        self._ring = IoUring(entries)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        # user_data -> (callback, what must stay alive until the CQE: the iovec array the
        # kernel reads, and the caller's buffers it points into)
        self._pending: dict[int, tuple[Reaped, Any]] = {}
        self._next = _QUIT + 1
        self._closed = False
        self.errors: list[BaseException] = []  # raised by callbacks (bugs, not findings)
        self._thread = threading.Thread(target=self._reap, name="uring-reaper", daemon=True)
        self._thread.start()

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._pending)

    def readv(self, fd: int, segments: Sequence[memoryview], pos: int,
              reaped: Reaped) -> None:
        self._rw(False, fd, segments, pos, reaped)

    def writev(self, fd: int, segments: Sequence[memoryview], pos: int,
               reaped: Reaped) -> None:
        self._rw(True, fd, segments, pos, reaped)

    def nop(self, reaped: Reaped) -> None:
        with self._lock:
            ud = self._take(reaped, None)
            self._ring.prep_nop(ud)
            self._ring.submit()

    def _rw(self, write: bool, fd: int, segments: Sequence[memoryview], pos: int,
            reaped: Reaped) -> None:
        iov = iovecs(segments)
        with self._lock:
            ud = self._take(reaped, (iov, list(segments)))
            self._ring.prep_rw(write, fd, iov, len(segments), pos, ud)
            self._ring.submit()

    def _take(self, reaped: Reaped, keep: Any) -> int:
        # the caller holds the lock; wait for room in the CQ (the reaper makes it)
        while len(self._pending) >= self._ring.cq_entries - 1 and not self._closed:
            self._idle.wait()
        if self._closed:
            raise RuntimeError("the ring is closed")
        ud = self._next
        self._next += 1
        self._pending[ud] = (reaped, keep)
        return ud

    def _reap(self) -> None:
        stop = False
        while not stop:
            try:
                self._ring.wait(1)
            except OSError as e:
                self.errors.append(e)
                return
            for c in self._ring.reap():
                if c.user_data == _QUIT:
                    stop = True
                    continue
                with self._lock:
                    reaped, _ = self._pending.pop(c.user_data)
                    self._idle.notify_all()
                try:
                    reaped(c.res)
                except BaseException as e:
                    self.errors.append(e)

    def close(self, timeout: float = 30.0) -> None:
        """Wait for the IO in flight, stop the reaper, release the ring."""
        with self._lock:
            if self._closed:
                return
            deadline = time.monotonic() + timeout
            while self._pending and time.monotonic() < deadline:
                self._idle.wait(0.1)
            self._closed = True
            stuck = len(self._pending)
            self._idle.notify_all()
            self._ring.prep_nop(_QUIT)
            self._ring.submit()
        self._thread.join(timeout)
        if stuck or self._thread.is_alive():
            # Never free a ring the kernel may still write completions into.
            self.errors.append(TimeoutError(f"io_uring: {stuck} IO(s) still in flight"))
            return
        self._ring.close()


class UringDevice:
    """The lower filesystem's device: queued IO through io_uring (see the module)."""

    name = "uring"

    def __init__(self, lower: LowerFs) -> None:
        self.lower = lower
        self.ring = Ring()
        self._closed = False

    def queue(self, io: DeviceIo, done: Callable[[int], None]) -> None:
        sched = self.lower.k.sched

        def reaped(res: int) -> None:
            os.close(io.fd)
            if io.error:
                res = io.error
            elif res < 0 and io.kind == Kind.WRITE:
                self.lower.torn(io.req)
            sched.deliver(lambda: done(res), f"io#{io.req}")

        if io.error or not io.segments:
            self.ring.nop(reaped)
        else:
            self.lower.count(asynchronous=True)
            if io.kind == Kind.READ:
                self.ring.readv(io.fd, io.segments, io.pos, reaped)
            else:
                self.ring.writev(io.fd, io.segments, io.pos, reaped)
        # Held only now that the SQE is in: a failed submission leaves no hold behind. The
        # completion may already have been delivered; the submitting thread is counted
        # meanwhile, so the run cannot look finished in between.
        sched.hold()

    def close(self) -> None:
        if self.ring.in_flight or not self._closed:
            self.ring.close()
            if self.ring.errors and not self._closed:
                self.lower.k.sched.fail(self.ring.errors[0])
            self._closed = True
