"""Linux native AIO (io_setup/io_submit/io_getevents/io_destroy) through libc's syscall().

No library is needed: the ABI is three small structures. Each IO is IOCB_CMD_PREADV or
IOCB_CMD_PWRITEV with an iovec array, so an op may be split into several iovecs like
io_uring's, and ``aio_rw_flags`` carries RWF_DSYNC.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Sequence
from typing import Any, Final

from backing_aio.kernelcheck.driver import CURRENT_POS, Driver, Op
from backing_aio.kernelcheck.errors import Unavailable
from backing_aio.kernelcheck.syscalls import number
from backing_aio.refimpl.io_uring import iovecs

IOCB_CMD_PREADV: Final = 7
IOCB_CMD_PWRITEV: Final = 8

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class _Iocb(ctypes.Structure):
    _fields_ = [
        ("aio_data", ctypes.c_uint64),
        ("aio_key", ctypes.c_uint32),  # little endian: key first, then rw_flags
        ("aio_rw_flags", ctypes.c_int32),
        ("aio_lio_opcode", ctypes.c_uint16),
        ("aio_reqprio", ctypes.c_int16),
        ("aio_fildes", ctypes.c_uint32),
        ("aio_buf", ctypes.c_uint64),
        ("aio_nbytes", ctypes.c_uint64),
        ("aio_offset", ctypes.c_int64),
        ("aio_reserved2", ctypes.c_uint64),
        ("aio_flags", ctypes.c_uint32),
        ("aio_resfd", ctypes.c_uint32),
    ]


class _Event(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_uint64),
        ("obj", ctypes.c_uint64),
        ("res", ctypes.c_int64),
        ("res2", ctypes.c_int64),
    ]


assert ctypes.sizeof(_Iocb) == 64 and ctypes.sizeof(_Event) == 32


def _syscall(nr: int, *args: Any) -> int:
    rc = int(_libc.syscall(nr, *args))
    if rc < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return rc


class Aio(Driver):
    name = "aio"

    def __init__(self, depth: int = 64) -> None:
        super().__init__(depth)
        self.ctx = ctypes.c_ulong(0)
        try:
            _syscall(number("io_setup"), depth, ctypes.byref(self.ctx))
        except OSError as e:
            raise Unavailable(f"io_setup failed: {e.strerror}") from None
        self.iocbs = (_Iocb * depth)()
        self.ptrs = (ctypes.POINTER(_Iocb) * 1)()
        self.events = (_Event * depth)()
        self.free = list(range(depth))
        self._open = True

    def _submit(self, slot: int) -> int:
        """0, or -errno if io_submit refused the IO itself (then no event comes)."""
        self.ptrs[0] = ctypes.pointer(self.iocbs[slot])
        try:
            _syscall(number("io_submit"), self.ctx, 1, self.ptrs)
        except OSError as e:
            return -(e.errno or 0)
        return 0

    def _reap(self, out: list[int], slot_of: dict[int, int], minimum: int) -> None:
        n = _syscall(number("io_getevents"), self.ctx, minimum, self.depth, self.events,
                     None)
        for k in range(n):
            ev = self.events[k]
            out[ev.data] = int(ev.res)
            self.free.append(slot_of.pop(ev.data))

    def run(self, ops: Sequence[Op]) -> list[int]:
        out = [0] * len(ops)
        slot_of: dict[int, int] = {}
        alive: dict[int, Any] = {}
        for i, op in enumerate(ops):
            if op.offset == CURRENT_POS:
                raise ValueError("native AIO has no file position: give an offset")
            while not self.free:
                self._reap(out, slot_of, 1)
            slot = self.free.pop()
            iov = iovecs(op.bufs)
            alive[slot] = iov  # until the IO is done
            cb = self.iocbs[slot]
            ctypes.memset(ctypes.byref(cb), 0, ctypes.sizeof(cb))
            cb.aio_data = i
            cb.aio_lio_opcode = IOCB_CMD_PWRITEV if op.write else IOCB_CMD_PREADV
            cb.aio_fildes = op.fd
            cb.aio_buf = ctypes.addressof(iov)
            cb.aio_nbytes = len(op.bufs)
            cb.aio_offset = op.offset
            cb.aio_rw_flags = op.rw_flags
            slot_of[i] = slot
            err = self._submit(slot)
            if err:
                out[i] = err
                self.free.append(slot_of.pop(i))
        while slot_of:
            self._reap(out, slot_of, 1)
        return out

    def close(self) -> None:
        if self._open:
            self._open = False
            _syscall(number("io_destroy"), self.ctx)
