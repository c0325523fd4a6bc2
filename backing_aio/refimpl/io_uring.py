"""io_uring over the raw system calls: io_uring_setup, mmap of the rings, io_uring_enter.

No binding and no compiler: the ABI is three small structures (``io_uring_params``, the
64-byte SQE, the 16-byte CQE) and three mappings, driven through libc's ``syscall()`` with
ctypes, the way kernelcheck drives native AIO. A compiled binding is one more native
library that can be built for a CPU the machine does not have (one release of the PyPI
binding was built for AVX-512 and died with SIGILL elsewhere); this module runs wherever
CPython and ctypes do, and the system call numbers are the same on every architecture
(425..427 since v5.1, in the table every architecture shares).

``IoUring`` is one ring, used by one thread at a time for submission (the caller locks)
and by one thread for reaping. It is what both users need and nothing more: READV, WRITEV
and NOP with a 64-bit tag, submission with an optional wait, and the completions ready.

Memory ordering. The kernel posts a CQE and then publishes the CQ tail with a release
store, possibly on another CPU; reading the tail and then the CQE needs an acquire
between them, and handing slots back (the CQ head) needs our CQE reads to be done first.
Python has no fence, so ``_fence`` unlocks and relocks a private mutex: a release followed
by an acquire, which x86 and ARMv8 (whose store-release/load-acquire pairs are
sequentially consistent) both order as a full barrier. The submission side needs none:
the SQE, the array slot and the SQ tail are written by this thread and read by the kernel
inside this thread's own io_uring_enter (program order on one CPU).

The caller keeps every buffer and the iovec array alive until the IO's CQE is reaped, and
never has more IOs in flight than ``cq_entries`` (so the CQ cannot overflow and no
completion waits in the kernel's overflow list).
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

# include/uapi/linux/io_uring.h
IORING_OP_NOP: Final = 0
IORING_OP_READV: Final = 1
IORING_OP_WRITEV: Final = 2
IORING_ENTER_GETEVENTS: Final = 1 << 0
IORING_OFF_SQ_RING: Final = 0
IORING_OFF_CQ_RING: Final = 0x8000000
IORING_OFF_SQES: Final = 0x10000000

# io_uring_setup, io_uring_enter: the same numbers on every architecture
# (arch/*/syscall tables and include/uapi/asm-generic/unistd.h since v5.1)
_SYSCALLS: Final[dict[str, int]] = {"io_uring_setup": 425, "io_uring_enter": 426}
_ARCHITECTURES: Final = ("x86_64", "aarch64", "riscv64")

_libc = ctypes.CDLL(None, use_errno=True)  # CDLL releases the GIL around every call
_libc.syscall.restype = ctypes.c_long
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                       ctypes.c_int, ctypes.c_long]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_MAP_FAILED: Final = ctypes.c_void_p(-1).value
_MAP_POPULATE: Final = 0x8000


class Unavailable(RuntimeError):
    """The kernel refuses io_uring here (disabled by sysctl, seccomp, too old, another
    architecture); the message is one line."""


class _SqringOffsets(ctypes.Structure):
    _fields_ = [("head", ctypes.c_uint32), ("tail", ctypes.c_uint32),
                ("ring_mask", ctypes.c_uint32), ("ring_entries", ctypes.c_uint32),
                ("flags", ctypes.c_uint32), ("dropped", ctypes.c_uint32),
                ("array", ctypes.c_uint32), ("resv1", ctypes.c_uint32),
                ("user_addr", ctypes.c_uint64)]


class _CqringOffsets(ctypes.Structure):
    _fields_ = [("head", ctypes.c_uint32), ("tail", ctypes.c_uint32),
                ("ring_mask", ctypes.c_uint32), ("ring_entries", ctypes.c_uint32),
                ("overflow", ctypes.c_uint32), ("cqes", ctypes.c_uint32),
                ("flags", ctypes.c_uint32), ("resv1", ctypes.c_uint32),
                ("user_addr", ctypes.c_uint64)]


class _Params(ctypes.Structure):
    _fields_ = [("sq_entries", ctypes.c_uint32), ("cq_entries", ctypes.c_uint32),
                ("flags", ctypes.c_uint32), ("sq_thread_cpu", ctypes.c_uint32),
                ("sq_thread_idle", ctypes.c_uint32), ("features", ctypes.c_uint32),
                ("wq_fd", ctypes.c_uint32), ("resv", ctypes.c_uint32 * 3),
                ("sq_off", _SqringOffsets), ("cq_off", _CqringOffsets)]


class _Sqe(ctypes.Structure):
    _fields_ = [("opcode", ctypes.c_uint8), ("flags", ctypes.c_uint8),
                ("ioprio", ctypes.c_uint16), ("fd", ctypes.c_int32),
                ("off", ctypes.c_uint64), ("addr", ctypes.c_uint64),
                ("len", ctypes.c_uint32), ("rw_flags", ctypes.c_uint32),
                ("user_data", ctypes.c_uint64), ("buf_index", ctypes.c_uint16),
                ("personality", ctypes.c_uint16), ("splice_fd_in", ctypes.c_int32),
                ("addr3", ctypes.c_uint64), ("pad2", ctypes.c_uint64)]


class _Cqe(ctypes.Structure):
    _fields_ = [("user_data", ctypes.c_uint64), ("res", ctypes.c_int32),
                ("flags", ctypes.c_uint32)]


class Iovec(ctypes.Structure):
    """struct iovec."""

    _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]


# the ABI, as include/uapi/linux/io_uring.h lays it out
assert ctypes.sizeof(_Params) == 120
assert ctypes.sizeof(_Sqe) == 64 and ctypes.sizeof(_Cqe) == 16


def address(buf: Any) -> int:
    """The address of a writable buffer's first byte. The ctypes view that reads it gives
    its buffer export back at once, so nothing stays pinned: the caller keeps the buffer
    alive, and may close or resize it once the IO is done."""
    if len(buf) == 0:
        return 0
    return ctypes.addressof(ctypes.c_char.from_buffer(buf))


def iovecs(segments: Sequence[Any]) -> ctypes.Array[Iovec]:
    """An iovec array over ``segments`` (writable buffers). At least one entry: an empty
    IO still needs an array to point at."""
    arr = (Iovec * max(1, len(segments)))()
    for entry, seg in zip(arr, segments, strict=False):
        entry.iov_base = address(seg)
        entry.iov_len = len(seg)
    return arr


def _syscall(name: str, *args: Any) -> int:
    rc = int(_libc.syscall(ctypes.c_long(_SYSCALLS[name]), *args))
    if rc < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{name}: {os.strerror(err)}")
    return rc


class _Mutex:
    """A private pthread mutex, held, whose unlock-then-lock is the fence (see the
    module). glibc's PTHREAD_MUTEX_INITIALIZER is all zeros; 64 bytes cover every
    architecture's pthread_mutex_t (40 on x86_64, 48 on aarch64)."""

    def __init__(self) -> None:
        self._m = ctypes.create_string_buffer(64)
        if _libc.pthread_mutex_lock(self._m) != 0:
            raise Unavailable("io_uring: pthread_mutex_lock failed")

    def fence(self) -> None:
        _libc.pthread_mutex_unlock(self._m)
        _libc.pthread_mutex_lock(self._m)

    def close(self) -> None:
        _libc.pthread_mutex_unlock(self._m)


@dataclass(frozen=True)
class Completion:
    """One CQE: the tag given at submission and the result (bytes moved, or -errno)."""

    user_data: int
    res: int


class _Mapping:
    """One mmap of the ring's file descriptor, unmapped by ``close``."""

    def __init__(self, fd: int, length: int, offset: int) -> None:
        addr = _libc.mmap(None, length, mmap.PROT_READ | mmap.PROT_WRITE,
                          mmap.MAP_SHARED | _MAP_POPULATE, fd, offset)
        if addr in (None, _MAP_FAILED):
            err = ctypes.get_errno()
            raise OSError(err, f"mmap of the io_uring rings: {os.strerror(err)}")
        self.addr: int = addr
        self.length = length

    def u32(self, offset: int) -> ctypes.c_uint32:
        return ctypes.c_uint32.from_address(self.addr + offset)

    def close(self) -> None:
        if self.length:
            _libc.munmap(ctypes.c_void_p(self.addr), self.length)
            self.length = 0


class IoUring:
    """One io_uring instance (see the module): ``prep_*`` fill SQEs, ``submit`` hands
    them to the kernel, ``reap`` returns the completions ready."""

    def __init__(self, entries: int) -> None:
        if platform.machine() not in _ARCHITECTURES:
            raise Unavailable(f"io_uring: no system call numbers for architecture "
                              f"{platform.machine()} (known: {', '.join(_ARCHITECTURES)})")
        params = _Params()
        try:
            self.fd = _syscall("io_uring_setup", ctypes.c_uint(entries),
                               ctypes.byref(params))
        except OSError as e:
            raise Unavailable(f"io_uring: {e.strerror}") from None
        self._maps: list[_Mapping] = []
        try:
            self._map(params)
        except OSError as e:
            self.close()
            raise Unavailable(f"io_uring: {e.strerror}") from None
        self.sq_entries: int = params.sq_entries
        self.cq_entries: int = params.cq_entries
        self._mutex = _Mutex()
        self._prepared = 0  # SQEs filled since the last submit
        self._open = True

    def _map(self, p: _Params) -> None:
        sq, cq = p.sq_off, p.cq_off
        sq_ring = _Mapping(self.fd, sq.array + p.sq_entries * 4, IORING_OFF_SQ_RING)
        self._maps.append(sq_ring)
        cq_ring = _Mapping(self.fd, cq.cqes + p.cq_entries * ctypes.sizeof(_Cqe),
                           IORING_OFF_CQ_RING)
        self._maps.append(cq_ring)
        sqes = _Mapping(self.fd, p.sq_entries * ctypes.sizeof(_Sqe), IORING_OFF_SQES)
        self._maps.append(sqes)
        self._sq_head = sq_ring.u32(sq.head)
        self._sq_tail = sq_ring.u32(sq.tail)
        self._sq_mask: int = sq_ring.u32(sq.ring_mask).value
        self._sq_array = (ctypes.c_uint32 * p.sq_entries).from_address(
            sq_ring.addr + sq.array)
        self._sqes = (_Sqe * p.sq_entries).from_address(sqes.addr)
        self._cq_head = cq_ring.u32(cq.head)
        self._cq_tail = cq_ring.u32(cq.tail)
        self._cq_mask: int = cq_ring.u32(cq.ring_mask).value
        self._cqes = (_Cqe * p.cq_entries).from_address(cq_ring.addr + cq.cqes)

    def space(self) -> int:
        """SQEs that can be prepared before the next submit."""
        return self.sq_entries - (self._sq_tail.value - self._sq_head.value
                                  + self._prepared) % (1 << 32)

    def _sqe(self) -> _Sqe:
        if not self.space():
            self.submit()  # the SQ is full: the kernel consumes it inside io_uring_enter
        index = (self._sq_tail.value + self._prepared) & self._sq_mask
        sqe: _Sqe = self._sqes[index]
        ctypes.memset(ctypes.byref(sqe), 0, ctypes.sizeof(sqe))
        self._sq_array[index] = index
        self._prepared += 1
        return sqe

    def prep_rw(self, write: bool, fd: int, iov: ctypes.Array[Iovec], count: int,
                offset: int, user_data: int, rw_flags: int = 0) -> None:
        """READV or WRITEV of ``count`` entries of ``iov`` at ``offset`` (-1: the file
        position, which the IO then advances)."""
        sqe = self._sqe()
        sqe.opcode = IORING_OP_WRITEV if write else IORING_OP_READV
        sqe.fd = fd
        sqe.off = offset & ((1 << 64) - 1)
        sqe.addr = ctypes.addressof(iov)
        sqe.len = count
        sqe.rw_flags = rw_flags
        sqe.user_data = user_data

    def prep_nop(self, user_data: int) -> None:
        sqe = self._sqe()
        sqe.opcode = IORING_OP_NOP
        sqe.user_data = user_data

    def submit(self, wait: int = 0) -> None:
        """Publish the prepared SQEs and enter the kernel, which consumes them; with
        ``wait``, return only once that many completions are ready."""
        tail = self._sq_tail.value
        self._sq_tail.value = (tail + self._prepared) % (1 << 32)
        todo, self._prepared = self._prepared, 0
        flags = IORING_ENTER_GETEVENTS if wait else 0
        while True:
            try:
                done = _syscall("io_uring_enter", ctypes.c_uint(self.fd),
                                ctypes.c_uint(todo), ctypes.c_uint(wait),
                                ctypes.c_uint(flags), None, ctypes.c_size_t(0))
            except OSError as e:
                # EINTR: a signal arrived (the SQEs are still there); EAGAIN: the kernel
                # could not get memory for a request this time; EBUSY: completions to
                # reap first, which another thread is doing
                if e.errno in (errno.EINTR, errno.EAGAIN, errno.EBUSY):
                    os.sched_yield()
                    todo = self._unconsumed()
                    if todo or wait:
                        continue
                    return
                raise
            if done == 0 and todo:
                # without SQPOLL the kernel consumes SQEs only here: none taken and no
                # error would mean a ring this module does not understand
                raise OSError(errno.EIO, "io_uring_enter consumed no SQE")
            todo = self._unconsumed()
            if todo <= 0:
                return
            wait = 0  # the rest are still in the SQ: hand them over before waiting again
            flags = 0

    def _unconsumed(self) -> int:
        return (self._sq_tail.value - self._sq_head.value) % (1 << 32)

    def wait(self, minimum: int = 1) -> None:
        """Sleep in the kernel until ``minimum`` completions are ready."""
        while True:
            try:
                _syscall("io_uring_enter", ctypes.c_uint(self.fd), ctypes.c_uint(0),
                         ctypes.c_uint(minimum), ctypes.c_uint(IORING_ENTER_GETEVENTS),
                         None, ctypes.c_size_t(0))
                return
            except OSError as e:
                if e.errno != errno.EINTR:
                    raise

    def reap(self) -> list[Completion]:
        """Every completion ready now, in order; their CQ slots go back to the kernel."""
        head = self._cq_head.value
        tail = self._cq_tail.value
        self._mutex.fence()  # the CQEs up to that tail are visible after it
        out = []
        while head != tail:
            c = self._cqes[head & self._cq_mask]
            out.append(Completion(int(c.user_data), int(c.res)))
            head = (head + 1) % (1 << 32)
        if out:
            self._mutex.fence()  # done reading the CQEs before their slots go back
            self._cq_head.value = head
        return out

    def close(self) -> None:
        """Unmap the rings and close the ring (the caller has reaped every IO)."""
        for m in self._maps:
            m.close()
        self._maps.clear()
        if getattr(self, "_mutex", None) is not None:
            self._mutex.close()
        if getattr(self, "fd", -1) >= 0:
            os.close(self.fd)
            self.fd = -1
        self._open = False


def selftest() -> None:
    """A NOP and a small writev/readv round trip through a new ring: what a probe runs (in
    a child process, see backing_aio.refimpl.probe) before anything depends on io_uring."""
    import tempfile

    ring = IoUring(4)
    try:
        ring.prep_nop(7)
        ring.submit(wait=1)
        got = ring.reap()
        if got != [Completion(7, 0)]:
            raise Unavailable(f"io_uring: a NOP completed as {got}")
        with tempfile.TemporaryFile() as f:
            data = bytearray(b"backing-aio")
            iov = iovecs([memoryview(data)])
            ring.prep_rw(True, f.fileno(), iov, 1, 0, 1)
            ring.submit(wait=1)
            wrote = ring.reap()
            back = bytearray(len(data))
            iov = iovecs([memoryview(back)])
            ring.prep_rw(False, f.fileno(), iov, 1, 0, 2)
            ring.submit(wait=1)
            read = ring.reap()
        if wrote != [Completion(1, len(data))] or read != [Completion(2, len(data))] \
                or back != data:
            raise Unavailable(f"io_uring: a write and read back gave {wrote} {read}")
    finally:
        ring.close()
