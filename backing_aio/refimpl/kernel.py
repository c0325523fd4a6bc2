"""One run's kernel: the scheduler, the environment, the superblocks, the backing file
on a real filesystem, the lower filesystem (and the device its queued IO goes to), and
what each request did."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from backing_aio import kapi
from backing_aio.refimpl.env import Env
from backing_aio.refimpl.kasan import KmemCache
from backing_aio.refimpl.lower import Device, LowerFs, ThreadDevice
from backing_aio.refimpl.sched import Scheduler
from backing_aio.refimpl.uring import UringDevice
from backing_aio.refimpl.vfs import FMODE_BACKING, FMODE_CAN_ODIRECT, File, Kiocb, SuperBlock
from backing_aio.vocab import Freeze, Kind, Outcome, RequestType, Subject

# Where queued IO goes: a completion thread doing preadv/pwritev, or the kernel's io_uring.
BACKENDS: Final[tuple[str, ...]] = ("thread", "uring")


def device(name: str, lower: LowerFs) -> Device:
    if name == "thread":
        return ThreadDevice(lower)
    if name == "uring":
        return UringDevice(lower)
    raise ValueError(f"no backend {name!r} (known: {', '.join(BACKENDS)})")

if TYPE_CHECKING:
    from backing_aio.refimpl.upper import Upper


@dataclass
class Request:
    """What happened to one request, as the kernel's pieces report it: the upper layer's
    checks read this (the model's request tuple has the same facts)."""

    index: int
    kind: Kind
    sync: bool
    offset: int
    length: int
    direct: bool = False
    submitted: int = 0  # times the lower filesystem got the IO
    queued: bool = False  # the lower filesystem queued it (submit returns -EIOCBQUEUED)
    inline: bool = False  # ... and completed it before submit returned
    # the upper layer set IOCB_DIO_CALLER_COMP on the original kiocb (None: it decided
    # nothing, the request is no async write or the kernel has no such flag)
    caller_comp: bool | None = None
    caller_comp_told: bool = False  # a step recorded that answer (vfs.orig_flags_answer)
    # the conditions a step has answered for this request (vfs.answer): the model asks
    # each once, so a second check of the same fact (the caller's, then the helper's)
    # records no answer
    told: set[str] = field(default_factory=set)
    # the lower filesystem completed the queued clone with 0 and left the real result in
    # the clone's deferred completion (IOCB_DIO_CALLER_COMP)
    deferred: bool = False
    alloc_failed: bool = False
    wq_failed: bool = False
    # the error of a call before any IO that failed (ovl_real_fdget, file_remove_privs,
    # the helpers' refusal of a file that is not a backing file): the caller must see it
    early_error: int | None = None
    lower_res: int | None = None  # the lower filesystem's result, once it produced one
    # A write the real kernel failed (not a fault the plan injected instead of the IO): it
    # may have written part of its range first. A misaligned O_DIRECT write on ext4 does
    # when it spans extents: iomap checks alignment per extent, so the first extents go to
    # disk before the misaligned one gets -EINVAL, and -EINVAL is still the result.
    torn: bool = False
    returned: int | None = None  # what read_iter/write_iter returned
    completed: int | None = None  # what the original kiocb's ki_complete got
    ki_complete_runs: int = 0
    callback_runs: int = 0
    finished: bool = False  # the upper layer is done with it (U1: the kiocb is freed)
    # the user's buffer: a bytearray, or for O_DIRECT a view of page-aligned mmap memory
    buf: bytearray | memoryview = field(default_factory=bytearray, repr=False)
    iocb: Kiocb | None = field(default=None, repr=False)

    @property
    def rtype(self) -> RequestType:
        """The model's request type: read, write, sync-read, sync-write."""
        if self.kind == Kind.READ:
            return RequestType.SYNC_READ if self.sync else RequestType.READ
        return RequestType.SYNC_WRITE if self.sync else RequestType.WRITE

    def outcome(self) -> Outcome:
        """How the request ended, in the callback contract's terms."""
        if self.submitted:
            return Outcome.SUBMITTED
        if self.alloc_failed:
            return Outcome.ALLOC_FAILED
        if self.wq_failed:
            return Outcome.WQ_FAILED
        return Outcome.EARLY


class Kernel:
    """Everything a run shares. ``version``: the kernel release, from which the VFS's
    behaviour follows (backing_aio.kapi): ``callee_freeze``, vfs_iocb_iter_write and
    vfs_iter_write take freeze protection themselves (v6.8 and later);
    ``dio_caller_comp``, the upper layer may set IOCB_DIO_CALLER_COMP on an async write
    and the lower filesystem then defers a queued write's completion. ``backend``: the
    device queued IO goes to (``BACKENDS``). ``direct_io``: the filesystem does real
    O_DIRECT (each backing file is also opened O_DIRECT), aligned to ``dio_align``."""

    def __init__(self, sched: Scheduler, env: Env, root: Path, *, size: int,
                 version: kapi.Kernel, can_odirect: bool = True, backend: str = "thread",
                 direct_io: bool = False, dio_align: int = 4096) -> None:
        self.sched = sched
        self.env = env
        self.version = version
        self.callee_freeze = kapi.freeze(version) == Freeze.CALLEE
        self.dio_caller_comp = kapi.has_dio_caller_comp(version)
        self.direct_io = direct_io
        self.dio_align = dio_align
        self.requests: dict[int, Request] = {}
        self.upper_sb = SuperBlock("overlay")
        self.lower_sb = SuperBlock("ext4")
        self.path = root / "backing"
        self.size = size
        self.f_mode = FMODE_BACKING | (FMODE_CAN_ODIRECT if can_odirect else 0)
        self.files: list[File] = []
        self.lower = LowerFs(self)
        # Before any file is open: a device that cannot start (no io_uring) leaves nothing.
        self.lower.device = device(backend, self.lower)
        self.kiocb_cachep: KmemCache[Kiocb] = KmemCache(
            "kiocb", Subject.ORIG_KIOCB, lambda sh: Kiocb(sh))
        self.upper: Upper | None = None
        # The backing file the upper file keeps open for the whole run: its reference is
        # the owner's; requests take and drop their own.
        self.backing = self.open_backing(Subject.SHARED_FILE, -1)
        # Not a subject of any finding: nothing takes or drops a reference on it.
        self.ovl_file = File("overlay file", "overlay file", None, self.upper_sb)
        self.ovl_file.private_data = self.backing

    def open_backing(self, subject: str, owner: int) -> File:
        fd = os.open(self.path, os.O_RDWR)
        dfd = os.open(self.path, os.O_RDWR | os.O_DIRECT) if self.direct_io else None
        name = "the shared backing file" if owner < 0 else (
            f"the backing file opened for request #{owner}")
        f = File(name, subject, fd, self.lower_sb, self.f_mode, owner, dfd)
        self.files.append(f)
        return f

    def quiesce(self) -> None:
        """Wait for the device's IO in flight (a run that stopped early may leave some)."""
        self.lower.device.close()

    def release_files(self) -> None:
        """Teardown: the device, then every descriptor still open (after the leak check)."""
        self.lower.device.close()
        for f in self.files:
            f.release()
