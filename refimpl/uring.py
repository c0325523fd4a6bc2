"""The io_uring device: queued IO is done by the kernel's io_uring, through the ``liburing``
binding, and its completions are reaped on a thread of their own.

``Ring`` is one io_uring instance. Submitters prepare a readv/writev SQE over their iovecs
(a buffer from ``mmap`` is page aligned, so real O_DIRECT works; a misaligned O_DIRECT IO
gets -EINVAL from the kernel in its CQE). The reaper thread sleeps in ``read`` on an
eventfd registered with the ring: the binding's own wait for a CQE keeps Python's global
lock, which would stop every other thread for as long as the IO takes. Each wake-up drains
every CQE ready and calls its submitter's callback.

``UringDevice`` is the lower filesystem's device on top of it. A queued IO is a hold on the
scheduler (refimpl.sched: the run is not over while it is in flight); the reaper hands its
completion to the scheduler with ``deliver``: a free run completes on the reaper itself,
like softirq on the CPU that took the interrupt; a controlled run completes on a thread per
completion, so that every armed completion is ready to move at once, as the model says.
A fault the plan injects (an error instead of the IO) is a NOP through the same ring: its
completion still arrives on the reaper, with the planned error.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Callable, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, Final

import liburing

from refimpl.iovec import Unplaceable, iovec
from refimpl.lower import DeviceIo

if TYPE_CHECKING:
    from refimpl.lower import LowerFs

_QUIT: Final[int] = 0  # user_data of the NOP that stops the reaper
ENTRIES: Final[int] = 256  # SQ entries; the CQ has twice as many, and overflows wait


class UringUnavailable(RuntimeError):
    """The kernel refuses io_uring here (disabled by sysctl, seccomp, too old)."""


@cache
def unavailable() -> str | None:
    """Why io_uring cannot be used in this process, or None if it can."""
    try:
        Ring(2).close()
    except UringUnavailable as e:
        return str(e)
    return None


Reaped = Callable[[int], None]


class Ring:
    """One io_uring instance and the thread that reaps its completions."""

    def __init__(self, entries: int = ENTRIES) -> None:
        try:
            iovec([bytearray(1)])  # the binding's Iovec can be aimed at any memory
        except Unplaceable as e:
            raise UringUnavailable(str(e)) from e
        self._ring = liburing.Ring()
        try:
            liburing.io_uring_queue_init(entries, self._ring)
        except OSError as e:
            raise UringUnavailable(f"io_uring_queue_init: {e.strerror or e}") from e
        self._efd = os.eventfd(0, os.EFD_CLOEXEC)
        liburing.io_uring_register_eventfd(self._ring, self._efd)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        # user_data -> (callback, what must stay alive until the CQE: the iovec array the
        # kernel reads, which points into the caller's buffers)
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
        self._rw(liburing.io_uring_prep_readv, fd, segments, pos, reaped)

    def writev(self, fd: int, segments: Sequence[memoryview], pos: int,
               reaped: Reaped) -> None:
        self._rw(liburing.io_uring_prep_writev, fd, segments, pos, reaped)

    def nop(self, reaped: Reaped) -> None:
        with self._lock:
            ud = self._take(reaped, None)
            sqe = self._sqe()
            liburing.io_uring_prep_nop(sqe)
            liburing.io_uring_sqe_set_data64(sqe, ud)
            self._submit()

    def _rw(self, prep: Callable[..., None], fd: int, segments: Sequence[memoryview],
            pos: int, reaped: Reaped) -> None:
        # the kernel reads the entries at submission, the memory until the completion
        iov, keep = iovec(segments)
        with self._lock:
            ud = self._take(reaped, (iov, keep))
            sqe = self._sqe()
            prep(sqe, fd, iov, pos)
            liburing.io_uring_sqe_set_data64(sqe, ud)
            self._submit()

    def _take(self, reaped: Reaped, keep: Any) -> int:
        if self._closed:
            raise RuntimeError("the ring is closed")
        ud = self._next
        self._next += 1
        self._pending[ud] = (reaped, keep)
        return ud

    def _sqe(self) -> Any:
        sqe = liburing.io_uring_get_sqe(self._ring)
        while sqe is None:  # the SQ is full: hand it to the kernel, which empties it
            self._submit()
            sqe = liburing.io_uring_get_sqe(self._ring)
        return sqe

    def _submit(self) -> None:
        while True:
            try:
                liburing.io_uring_submit(self._ring)
                return
            except OSError as e:
                # EBUSY/EAGAIN: the CQ overflowed and the kernel wants it drained first;
                # the reaper is draining it.
                if e.errno not in (errno.EBUSY, errno.EAGAIN):
                    raise
            time.sleep(0.0005)

    def _reap(self) -> None:
        cqe = liburing.Cqe()
        stop = False
        while not stop:
            os.eventfd_read(self._efd)  # releases the global lock while it sleeps
            while True:
                try:
                    # Also flushes completions that overflowed the CQ (no lost CQE).
                    liburing.io_uring_peek_cqe(self._ring, cqe)
                except OSError as e:
                    if e.errno != errno.EAGAIN:
                        self.errors.append(e)
                    break
                c = cqe[0]
                ud = c.user_data
                try:
                    res = c.res
                except OSError as e:  # the binding raises a negative res as OSError
                    res = -(e.errno or errno.EIO)
                liburing.io_uring_cqe_seen(self._ring, c)
                if ud == _QUIT:
                    stop = True
                    continue
                with self._lock:
                    reaped, _ = self._pending.pop(ud)
                    if not self._pending:
                        self._idle.notify_all()
                try:
                    reaped(res)
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
            sqe = self._sqe()
            liburing.io_uring_prep_nop(sqe)
            liburing.io_uring_sqe_set_data64(sqe, _QUIT)
            self._submit()
        self._thread.join(timeout)
        if stuck or self._thread.is_alive():
            # Never free a ring the kernel may still write completions into.
            self.errors.append(TimeoutError(f"io_uring: {stuck} IO(s) still in flight"))
            return
        liburing.io_uring_queue_exit(self._ring)
        os.close(self._efd)


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
            elif res < 0 and io.kind == "write":
                self.lower.torn(io.req)
            sched.deliver(lambda: done(res), f"io#{io.req}")

        if io.error or not io.segments:
            self.ring.nop(reaped)
        else:
            self.lower.count(asynchronous=True)
            if io.kind == "read":
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
