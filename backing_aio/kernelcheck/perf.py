"""Kernel tracepoints counted with perf_event_open, without changing the kernel.

Counting mode: one perf event per online CPU per counter (tracepoints are system-wide
when ``pid == -1``), each with a tracepoint filter set by ioctl. A count is exact (no
ring buffer, nothing lost) and closing the descriptors is the whole teardown: no tracing
state outlives the process.

Tracepoint ids come from tracefs (``events/<system>/<event>/id``). If tracefs is not
mounted at /sys/kernel/tracing, it is mounted privately in a temporary directory just long
enough to read the ids, and unmounted again.

One sampling helper (``sample_call_sites``) reads the raw ``call_site`` field of a
tracepoint through a perf ring buffer: used once to learn at which return address each
free site lies (see backing_aio.kernelcheck.sites).
"""

from __future__ import annotations

import ctypes
import mmap
import os
import struct
import tempfile
from collections import Counter as Tally
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Final

from backing_aio.kernelcheck.closing import Closing
from backing_aio.kernelcheck.errors import Unavailable
from backing_aio.kernelcheck.syscalls import number

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.ioctl.restype = ctypes.c_int
_libc.ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p]

PERF_TYPE_TRACEPOINT: Final = 2
PERF_SAMPLE_RAW: Final = 1 << 10
PERF_FLAG_FD_CLOEXEC: Final = 1 << 3
ATTR_DISABLED: Final = 1 << 0
ATTR_SIZE: Final = 112  # PERF_ATTR_SIZE_VER5: every field this module sets is in it

# ioctl numbers: _IO('$', n) and _IOW('$', 6, char *)
IOC_ENABLE: Final = 0x2400
IOC_DISABLE: Final = 0x2401
IOC_RESET: Final = 0x2403
IOC_SET_FILTER: Final = 0x40082406

PERF_RECORD_SAMPLE: Final = 9
PERF_RECORD_LOST: Final = 2

TRACEFS: Final = Path("/sys/kernel/tracing")


class _Attr(ctypes.Structure):
    """struct perf_event_attr, up to PERF_ATTR_SIZE_VER5 (the rest stays zero)."""

    _fields_ = [
        ("type", ctypes.c_uint32),
        ("size", ctypes.c_uint32),
        ("config", ctypes.c_uint64),
        ("sample_period", ctypes.c_uint64),
        ("sample_type", ctypes.c_uint64),
        ("read_format", ctypes.c_uint64),
        ("flags", ctypes.c_uint64),
        ("wakeup_events", ctypes.c_uint32),
        ("bp_type", ctypes.c_uint32),
        ("config1", ctypes.c_uint64),
        ("config2", ctypes.c_uint64),
        ("branch_sample_type", ctypes.c_uint64),
        ("sample_regs_user", ctypes.c_uint64),
        ("sample_stack_user", ctypes.c_uint32),
        ("clockid", ctypes.c_int32),
        ("sample_regs_intr", ctypes.c_uint64),
        ("aux_watermark", ctypes.c_uint32),
        ("sample_max_stack", ctypes.c_uint16),
        ("reserved", ctypes.c_uint16),
    ]


assert ctypes.sizeof(_Attr) == ATTR_SIZE


def online_cpus() -> list[int]:
    """CPUs from /sys/devices/system/cpu/online ("0-1,4")."""
    text = Path("/sys/devices/system/cpu/online").read_text().strip()
    cpus: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        cpus.extend(range(int(lo), int(hi or lo) + 1))
    return cpus


def _open(tp_id: int, cpu: int, *, sample: bool = False) -> int:
    attr = _Attr()
    attr.type = PERF_TYPE_TRACEPOINT
    attr.size = ATTR_SIZE
    attr.config = tp_id
    attr.flags = ATTR_DISABLED
    if sample:
        attr.sample_period = 1
        attr.sample_type = PERF_SAMPLE_RAW
        attr.wakeup_events = 1
    fd = _libc.syscall(number("perf_event_open"), ctypes.byref(attr), -1, cpu, -1,
                       PERF_FLAG_FD_CLOEXEC)
    if fd < 0:
        err = ctypes.get_errno()
        raise Unavailable(f"perf_event_open on tracepoint {tp_id} failed: "
                          f"{os.strerror(err)}")
    return int(fd)


def _ioctl(fd: int, request: int, arg: int | bytes | None = None) -> None:
    if isinstance(arg, bytes):
        buf = ctypes.create_string_buffer(arg)
        rc = _libc.ioctl(fd, request, ctypes.cast(buf, ctypes.c_void_p))
    else:
        rc = _libc.ioctl(fd, request, ctypes.c_void_p(arg or 0))
    if rc < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _set_filter(fd: int, flt: str) -> None:
    try:
        _ioctl(fd, IOC_SET_FILTER, flt.encode() + b"\0")
    except OSError as e:
        raise Unavailable(f"the tracepoint filter {flt!r} is refused: {e.strerror}") from None


def tracepoint_ids(names: Iterable[str]) -> dict[str, int]:
    """Ids of ``system:event`` tracepoints. Mounts tracefs privately (and unmounts it) if
    it is not mounted where the kernel documents it."""
    wanted = list(names)

    def read(root: Path) -> dict[str, int]:
        out: dict[str, int] = {}
        for name in wanted:
            system, _, event = name.partition(":")
            path = root / "events" / system / event / "id"
            try:
                out[name] = int(path.read_text())
            except FileNotFoundError:
                raise Unavailable(f"no tracepoint {name} in this kernel") from None
            except PermissionError:
                raise Unavailable(f"cannot read {path}: no tracepoint access") from None
        return out

    if (TRACEFS / "events").is_dir():
        return read(TRACEFS)
    from backing_aio.kernelcheck.mounts import (  # a private mount, gone when we are done
        mount,
        umount,
    )

    with tempfile.TemporaryDirectory(prefix="kernelcheck-tracefs-") as tmp:
        try:
            mount("nodev", tmp, "tracefs", 0, "")
        except OSError as e:
            raise Unavailable(f"tracefs is not mounted and cannot be: {e.strerror}") from None
        try:
            return read(Path(tmp))
        finally:
            umount(tmp)


class Counter:
    """One tracepoint with one filter, counted on every online CPU."""

    def __init__(self, name: str, tp_id: int, flt: str, cpus: list[int]) -> None:
        self.name = name
        self.filter = flt
        self.fds: list[int] = []
        try:
            for cpu in cpus:
                fd = _open(tp_id, cpu)
                self.fds.append(fd)
                if flt:
                    _set_filter(fd, flt)
        except BaseException:
            self.close()
            raise

    def enable(self) -> None:
        for fd in self.fds:
            _ioctl(fd, IOC_RESET)
            _ioctl(fd, IOC_ENABLE)

    def disable(self) -> None:
        for fd in self.fds:
            _ioctl(fd, IOC_DISABLE)

    def read(self) -> int:
        return sum(struct.unpack("<Q", os.read(fd, 8))[0] for fd in self.fds)

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = []


class Counters(Closing):
    """A named set of counters, opened together and closed together (context manager).

    ``spec`` maps a counter's name to (``system:event``, filter)."""

    def __init__(self, spec: dict[str, tuple[str, str]]) -> None:
        self.spec = spec
        self.counters: dict[str, Counter] = {}

    def open(self) -> None:
        ids = tracepoint_ids({tp for tp, _ in self.spec.values()})
        cpus = online_cpus()
        for name, (tp, flt) in self.spec.items():
            self.counters[name] = Counter(name, ids[tp], flt, cpus)

    def start(self) -> None:
        for c in self.counters.values():
            c.enable()

    def stop(self) -> None:
        for c in self.counters.values():
            c.disable()

    def read(self) -> dict[str, int]:
        return {name: c.read() for name, c in self.counters.items()}

    def close(self) -> None:
        for c in self.counters.values():
            c.close()
        self.counters = {}


def sample_call_sites(tracepoint: str, flt: str, action: Callable[[], None],
                      pages: int = 64) -> Tally[int]:
    """Run ``action`` with ``tracepoint`` sampled on every CPU (each hit a PERF_SAMPLE_RAW
    record); return how often each value of the raw ``call_site`` field was seen.

    ``call_site`` is the first field after the 8 bytes of common fields in the kmem
    events' format (offset 8); the caller checks that with the event's format if it cares.
    Raises Unavailable if a ring buffer overflowed (fewer records than hits)."""
    tp_id = tracepoint_ids([tracepoint])[tracepoint]
    page = mmap.PAGESIZE
    size = page * pages
    opened: list[tuple[int, mmap.mmap]] = []
    try:
        for cpu in online_cpus():
            fd = _open(tp_id, cpu, sample=True)
            try:
                if flt:
                    _set_filter(fd, flt)
                buf = mmap.mmap(fd, page + size, mmap.MAP_SHARED,
                                mmap.PROT_READ | mmap.PROT_WRITE)
            except BaseException:
                os.close(fd)
                raise
            opened.append((fd, buf))
        for fd, _ in opened:
            _ioctl(fd, IOC_ENABLE)
        try:
            action()
        finally:
            for fd, _ in opened:
                _ioctl(fd, IOC_DISABLE)
        seen: Tally[int] = Tally()
        for fd, buf in opened:
            # the event counts every hit, written or not: a full ring drops records
            # without a LOST record while the reader never moves data_tail, so the
            # records are checked against the count
            fired = struct.unpack("<Q", os.read(fd, 8))[0]
            recorded = 0
            head = struct.unpack_from("<Q", buf, 1024)[0]
            data = buf[page:page + size]
            if head > size:
                raise Unavailable(f"{tracepoint}: more than {size} bytes of samples")
            at = 0
            while at < head:
                rtype, _misc, rsize = struct.unpack_from("<IHH", data, at)
                if rtype == PERF_RECORD_LOST:
                    raise Unavailable(f"{tracepoint}: samples were lost")
                if rtype == PERF_RECORD_SAMPLE:
                    recorded += 1
                    raw_size = struct.unpack_from("<I", data, at + 8)[0]
                    if raw_size >= 16:
                        seen[struct.unpack_from("<Q", data, at + 12 + 8)[0]] += 1
                at += rsize
            if recorded != fired:
                raise Unavailable(f"{tracepoint}: {fired} hits but {recorded} samples "
                                  "recorded (the ring buffer was full)")
        return seen
    finally:
        for fd, buf in opened:
            buf.close()
            os.close(fd)
