"""The upper layer (aio / io_uring) and the caller's callbacks, checking what they may rely
on: the properties, seen from outside the helpers, plus the bytes.

- U1: the original kiocb lives until read_iter/write_iter returned and, if that returned
  -EIOCBQUEUED, until its ki_complete ran; then it is freed (a later use is a UAF).
- COMPLETE_IFF_QUEUED: ki_complete runs once iff the call returned -EIOCBQUEUED.
- RESULT_PROPAGATED: the return value, the callback's and ki_complete's ``res`` are the
  lower filesystem's result (or the error that stopped the request before it).
- POS_BEFORE_CALLBACK: ki_pos of the original kiocb is final when a callback that reads it,
  ki_complete, or the upper layer after a non-queued return, reads it.
- CLEANUP_ONCE / CONTEXT: the caller's callbacks run as often as the helpers' contract says
  for the way the request ended, and not in completion context if they need a process.
- DATA: a read returns what the shadow copy of the file holds; a write lands in it.
- At the end (``end_checks``): LEAK of wrappers and file references, FREEZE_BALANCED per
  request, and every queued request completed.
"""

from __future__ import annotations

import functools
import mmap
import os
import random
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from backing_aio import kapi
from backing_aio.refimpl.env import CALLER_COMP_YES
from backing_aio.refimpl.kasan import DATA, Finding
from backing_aio.refimpl.kernel import Kernel, Request
from backing_aio.refimpl.sched import SUBMITTER, Actor, become, current, step
from backing_aio.refimpl.vfs import (
    EINVAL,
    EIOCBQUEUED,
    ENOMEM,
    IOCB_DIO_CALLER_COMP,
    IOCB_DIRECT,
    IOCB_NOWAIT,
    IOCB_WRITE,
    File,
    IovIter,
    Kiocb,
    fput,
)
from backing_aio.vocab import EnvCondition, Kind, PropertyId, RequestType, Shape, Subject

if TYPE_CHECKING:
    from backing_aio.refimpl.helpers import Helpers

READ_FILL = 0xEE  # what a read buffer holds before the read (never the file's content)

# The caller's callback slots (kapi.Caller.slots): a callback reached through one runs the
# function the caller puts there (overlayfs: ctx->end_write is ovl_file_end_write).
END_WRITE, ACCESSED = "end_write", "accessed"


@functools.cache
def _process_chain(caller: str, fn: str, version: kapi.Kernel) -> tuple[str, ...]:
    """The calls from the callback ``fn`` of ``caller`` down to one that needs process
    context on ``version`` (empty: it may run in irq context). Cached: the table is fixed
    and a stress run asks for every completion."""
    return tuple(f.name for f in kapi.needs_process_context(kapi.resolve(caller, fn), version))


def _segments(buf: bytearray | memoryview, n: int, align: int = 1) -> list[memoryview]:
    """Split ``buf`` into ``n`` iovecs (preadv/pwritev scatter-gather), cut at multiples of
    ``align`` (O_DIRECT wants every iovec aligned)."""
    view = memoryview(buf)
    if n <= 1 or len(buf) < n * align:
        return [view]
    cut = [len(buf) * i // n for i in range(n)]
    cut = [*sorted({c - c % align for c in cut}), len(buf)]
    return [view[cut[i]:cut[i + 1]] for i in range(len(cut) - 1)]


def user_buffer(length: int, direct: bool) -> bytearray | memoryview:
    """The user's buffer: for O_DIRECT, page-aligned anonymous memory (a bytearray's
    address is not aligned, and real O_DIRECT refuses it)."""
    if not direct or not length:
        return bytearray(length)
    pages = -(-length // mmap.PAGESIZE) * mmap.PAGESIZE
    return memoryview(mmap.mmap(-1, pages))[:length]  # the view keeps the mapping alive


class Upper:
    """Issues requests and plays the upper layer's and the caller's part in them."""

    def __init__(self, k: Kernel, helpers: Helpers, shadow: bytearray,
                 on_finish: Callable[[Request], None] | None = None,
                 keep_buffers: bool = True) -> None:
        self.k = k
        self.keep_buffers = keep_buffers  # off for long runs: a finished request's bytes go
        self.helpers = helpers
        self.shadow = shadow
        self.on_finish = on_finish
        self._next = 0
        self._lock = threading.Lock()
        self.iters: dict[int, IovIter] = {}

    # -- issuing -------------------------------------------------------------------------
    def prepare(self, rtype: str, offset: int, length: int, direct: bool = False,
                segments: int = 1, nowait: bool = False) -> Request:
        """A request with its original kiocb and buffer (the task's part before the call)."""
        with self._lock:
            i = self._next
            self._next += 1
        t = RequestType(rtype)
        sync = t in (RequestType.SYNC_READ, RequestType.SYNC_WRITE)
        kind = Kind.WRITE if t in (RequestType.WRITE, RequestType.SYNC_WRITE) else Kind.READ
        r = Request(i, kind, sync, offset, length, direct)
        r.buf = user_buffer(length, direct and self.k.direct_io)
        r.buf[:] = (random.Random(i).randbytes(length) if kind == Kind.WRITE
                    else bytes([READ_FILL]) * length)
        iocb = self.k.kiocb_cachep.alloc(i)
        iocb.ki_filp = self.k.ovl_file
        iocb.ki_pos = offset
        # aio and io_uring set IOCB_WRITE on an async write; init_sync_kiocb (read(2),
        # write(2)) sets no such flag, so nothing may tell a sync write by it
        iocb.ki_flags = (IOCB_WRITE if kind == Kind.WRITE and not sync else 0) | (
            IOCB_DIRECT if direct else 0) | (IOCB_NOWAIT if nowait else 0)
        if (kind == Kind.WRITE and not sync and self.k.dio_caller_comp
                and self.helpers.shape == Shape.STACKED):
            # io_uring sets IOCB_DIO_CALLER_COMP on an async write, Linux AIO does not:
            # which upper layer this is, the environment decides (on this thread, before
            # any step, so that a controlled run stays reproducible)
            r.caller_comp = self.k.env.decide(EnvCondition.CALLER_COMP, i) == CALLER_COMP_YES
            if r.caller_comp:
                iocb.ki_flags |= IOCB_DIO_CALLER_COMP
        iocb.ki_complete = None if sync else self.ki_complete
        iocb.private = i
        r.iocb = iocb
        align = self.k.dio_align if direct and self.k.direct_io else 1
        self.iters[i] = IovIter(_segments(r.buf, segments, align))
        self.k.requests[i] = r
        return r

    def submit(self, r: Request) -> None:
        """The task's system call: read_iter/write_iter, then what it does with the result."""
        become(Actor(self.k, r.index, SUBMITTER))
        iocb = r.iocb
        assert iocb is not None
        it = self.iters.pop(r.index)
        if r.kind == Kind.READ:
            ret = self.helpers.read_iter(iocb, it)
        else:
            ret = self.helpers.write_iter(iocb, it)
        self._returned(r, iocb, ret)

    # -- what the upper layer checks -----------------------------------------------------
    def _expected_return(self, r: Request) -> int:
        if r.submitted:
            if r.queued or r.lower_res is None:
                return -EIOCBQUEUED
            return r.lower_res
        if r.early_error is not None:
            return r.early_error
        if r.alloc_failed or r.wq_failed:
            return -ENOMEM
        if r.length == 0:
            return 0
        return -EINVAL  # refused before anything else: O_DIRECT on a file that cannot

    def _pos_check(self, r: Request, iocb: Kiocb, who: str) -> None:
        if self.helpers.shape != Shape.STACKED:
            return  # a block request or a bio hands no file position back
        if r.lower_res is None:
            return  # no IO done yet: there is no new position to miss
        want = r.offset + max(r.lower_res, 0)
        if iocb.ki_pos != want:
            raise Finding(PropertyId.POS_BEFORE_CALLBACK, f"{who} reads ki_pos {iocb.ki_pos} "
                          f"of request #{r.index}, but the IO ended at {want}")

    def _result_check(self, r: Request, res: int, who: str) -> None:
        if r.lower_res is None:
            raise Finding(PropertyId.RESULT_PROPAGATED, f"{who} runs for request #{r.index} "
                          "before the lower filesystem produced a result")
        if res != r.lower_res:
            why = (" (the clone carries IOCB_DIO_CALLER_COMP: the lower filesystem completed "
                   "it with 0 and left the real result to the issuer's deferred completion, "
                   "which nobody runs)" if r.deferred and res == 0 else "")
            raise Finding(PropertyId.RESULT_PROPAGATED, f"{who} gets {res} for request "
                          f"#{r.index}, but the lower filesystem's result is "
                          f"{r.lower_res}{why}")

    def _returned(self, r: Request, iocb: Kiocb, ret: int) -> None:
        if ret == -EIOCBQUEUED:
            if r.sync:
                raise Finding(PropertyId.COMPLETE_IFF_QUEUED, f"request #{r.index}: returns "
                              "-EIOCBQUEUED for a sync kiocb, which has no ki_complete")
            if not r.submitted:
                raise Finding(PropertyId.RESULT_PROPAGATED, f"request #{r.index}: returns "
                              "-EIOCBQUEUED but nothing was queued")
        else:
            want = self._expected_return(r)
            if ret != want:
                raise Finding(PropertyId.RESULT_PROPAGATED, f"request #{r.index}: the call "
                              f"returns {ret}, but the caller must see {want}")
            # The upper layer finishes the request now and reads ki_pos (f_pos update).
            self._pos_check(r, iocb, "the upper layer, after the call returned,")
            if r.ki_complete_runs:
                raise Finding(PropertyId.COMPLETE_IFF_QUEUED, f"request #{r.index}: the call "
                              f"returns {ret} after ki_complete already ran")
        r.returned = ret
        if ret != -EIOCBQUEUED or r.ki_complete_runs:
            self._finish(r, iocb)

    def ki_complete(self, iocb: Kiocb, res: int) -> None:
        """The original kiocb's completion (aio_complete_rw / io_complete_rw)."""
        r = self.k.requests[iocb.private]
        r.ki_complete_runs += 1
        if r.ki_complete_runs > 1:
            raise Finding(PropertyId.COMPLETE_IFF_QUEUED, f"request #{r.index}: ki_complete "
                          "runs a second time")
        if r.returned is not None and r.returned != -EIOCBQUEUED:
            raise Finding(PropertyId.COMPLETE_IFF_QUEUED, f"request #{r.index}: ki_complete runs "
                          f"although the call returned {r.returned}")
        self._pos_check(r, iocb, "ki_complete")
        self._result_check(r, res, "ki_complete")
        r.completed = res
        if r.returned is not None:
            self._finish(r, iocb)

    def _finish(self, r: Request, iocb: Kiocb) -> None:
        """U1: the upper layer is done with the request: check the bytes, free the kiocb."""
        res = r.completed if r.returned == -EIOCBQUEUED else r.returned
        assert res is not None
        if res > 0:
            lo, hi = r.offset, r.offset + res
            if r.kind == Kind.WRITE:
                self.shadow[lo:hi] = r.buf[:res]
            elif r.buf[:res] != self.shadow[lo:hi]:
                bad = next(i for i in range(res) if r.buf[i] != self.shadow[lo + i])
                raise Finding(DATA, f"request #{r.index}: read {res} bytes at {lo}; byte "
                              f"{lo + bad} is {r.buf[bad]:#x}, the file holds "
                              f"{self.shadow[lo + bad]:#x}")
        elif r.kind == Kind.WRITE and r.torn:
            self._torn_write(r)
        r.finished = True
        if not self.keep_buffers:
            r.buf = bytearray()
        self.k.kiocb_cachep.free(iocb)
        if self.on_finish is not None:
            self.on_finish(r)

    def _torn_write(self, r: Request) -> None:
        """A write the real kernel failed may have reached the disk in part (``torn``): the
        result says nothing about which bytes. Each byte of its range must hold what the
        file held or what the write wrote; the shadow copy then takes what is there. Only
        this request touches those blocks until it is finished (run.stress), so the file
        is read back before anything else can change them."""
        lo, hi = r.offset, r.offset + r.length
        fd = os.open(self.k.path, os.O_RDONLY)
        try:
            # A failed direct write leaves the page cache as it was; drop it, so that the
            # read back (and every later buffered read) sees what is on disk.
            os.posix_fadvise(fd, lo, r.length, os.POSIX_FADV_DONTNEED)
            now = os.pread(fd, r.length, lo)
        finally:
            os.close(fd)
        new = bytes(r.buf)
        for i, b in enumerate(now):
            if b != self.shadow[lo + i] and b != new[i]:
                raise Finding(DATA, f"request #{r.index}: a write of {r.length} bytes at "
                              f"{lo} failed; byte {lo + i} is now {b:#x}, neither what the "
                              f"file held ({self.shadow[lo + i]:#x}) nor what was written "
                              f"({new[i]:#x})")
        self.shadow[lo:hi] = now

    # -- the caller's callbacks ----------------------------------------------------------
    def _callback(self, who: str, fn: str | None) -> Request:
        """A callback of the caller runs: ``fn`` is what it is, a slot of the caller's
        (``end_write``) or a kernel function by name (``ovl_copyattr``), or None when its
        body is written out here and says what it calls (``_kcall``). Whether it may run
        in completion context follows from what that calls on this kernel (kapi), as it
        does in the model: not from a list of request kinds."""
        r = self.k.requests[current().req]
        if fn is not None:
            self._context(who, fn)
        r.callback_runs += 1
        if r.callback_runs > 1:
            raise Finding(PropertyId.CLEANUP_ONCE,
                          f"{who} runs a second time for request #{r.index}")
        return r

    def _context(self, who: str, fn: str) -> None:
        """``who`` calls ``fn`` (a slot or a kernel function): CONTEXT if that needs process
        context on this kernel and this runs in completion (irq) context."""
        a = current()
        if not a.irq:
            return
        chain = _process_chain(self.helpers.caller, fn, self.k.version)
        if chain:
            raise Finding(PropertyId.CONTEXT, f"{who} runs for request "
                          f"#{self.k.requests[a.req].index} in "
                          f"completion (irq) context, but {' -> '.join(chain)} needs "
                          f"process context on {self.k.version} "
                          f"({kapi.function(chain[-1]).why})")

    def ovl_rw_complete(self, iocb: Kiocb, res: int, accessed: bool = True) -> None:
        """The seed's callback, overlayfs's ovl_rw_complete(orig_iocb, res) with the prep
        patch that moved ovl_file_accessed() into it: ovl_copyattr() if the original
        carries IOCB_WRITE (init_sync_kiocb sets none), else ovl_file_accessed(). Without
        that patch (``accessed`` False) only the write branch is left."""
        r = self._callback("ovl_rw_complete", None)
        self._pos_check(r, iocb, "ovl_rw_complete")
        self._result_check(r, res, "ovl_rw_complete")
        step("if_goto")
        if iocb.ki_flags & IOCB_WRITE:
            step("kcall")
            self._context("ovl_copyattr(file_inode(file))", "ovl_copyattr")
            if accessed:
                step("goto")
        elif accessed:
            step("kcall")
            self._context("ovl_file_accessed(file)", "ovl_file_accessed")

    def ovl_rw_complete_write(self, iocb: Kiocb, res: int) -> None:
        """seed-fixed's callback: ovl_rw_complete without that prep patch."""
        self.ovl_rw_complete(iocb, res, accessed=False)

    def end_write(self, iocb: Kiocb, res: int) -> None:
        """mainline's ctx->end_write: overlayfs's ovl_file_end_write (size and mtime)."""
        r = self._callback("ctx->end_write", END_WRITE)
        self._pos_check(r, iocb, "ctx->end_write")
        self._result_check(r, res, "ctx->end_write")

    def accessed(self, file: File) -> None:
        """mainline's ctx->accessed: overlayfs's ovl_file_accessed."""
        self._callback("ctx->accessed", ACCESSED)

    def ovl_file_accessed(self, file: File) -> None:
        """v5.6/v5.16's read_iter calls it by name."""
        self._callback("ovl_file_accessed", "ovl_file_accessed")

    def ovl_file_accessed_here(self, file: File) -> None:
        """seed-fixed's ovl_read_iter calls ovl_file_accessed() itself, after the helper:
        a kernel call in the submitter, not one of the helpers' callbacks (not counted)."""
        self._context("ovl_file_accessed(file)", "ovl_file_accessed")

    def ovl_copyattr(self) -> None:
        """v5.6/v5.16's write paths call it by name (the cleanup handler, in the
        completion, for a queued write)."""
        self._callback("ovl_copyattr", "ovl_copyattr")

    def ovl_copyattr_here(self) -> None:
        """ovl_write_iter's "Update mode" ovl_copyattr(), under inode_lock before any IO
        (v5.19 and later): a kernel call of the submitter, not the callback (not counted)."""
        self._context("ovl_copyattr(inode)", "ovl_copyattr")

    # -- the end of the run --------------------------------------------------------------
    def end_checks(self) -> list[Finding]:
        """What must hold once every actor has finished; then the owner's final fput."""
        k = self.k
        out: list[Finding] = []
        for r in k.requests.values():
            if r.returned == -EIOCBQUEUED and r.ki_complete_runs != 1:
                out.append(Finding(PropertyId.COMPLETE_IFF_QUEUED, f"request #{r.index}: the "
                                   f"call returned -EIOCBQUEUED but ki_complete ran "
                                   f"{r.ki_complete_runs} time(s)"))
            want = self.helpers.callbacks.get(r.kind, {}).get(r.outcome(), 0)
            if r.returned is not None and r.callback_runs != want:
                out.append(Finding(PropertyId.CLEANUP_ONCE, f"request #{r.index} ({r.rtype}): "
                                   f"the caller's callback ran {r.callback_runs} time(s), the "
                                   f"contract says {want} when the request ends "
                                   f"{r.outcome().replace('_', ' ')}"))
        for req, held in sorted(k.lower_sb.writers().items()):
            out.append(Finding(PropertyId.FREEZE_BALANCED, f"request #{req}: freeze "
                               f"protection still held {held} time(s) at the end"))
        for cache in self.helpers.caches():
            for sh in cache.leaks():
                out.append(Finding(PropertyId.LEAK, f"never freed: {sh.describe()}", sh.subject))
        for f in k.files:
            if f is k.backing:
                continue
            if f.f_count > 0:
                out.append(Finding(PropertyId.LEAK, f"{f.name} keeps {f.f_count} reference(s)",
                                   f.subject))
        shared = k.backing.f_count
        if shared > 1:
            out.append(Finding(PropertyId.LEAK, f"{shared - 1} reference(s) on the shared "
                               "backing file were never dropped", Subject.SHARED_FILE))
        elif shared < 1:
            out.append(Finding(PropertyId.UAF, "a request dropped the owner's reference on "
                               "the shared backing file: the owner's final fput uses a freed "
                               "file",
                               Subject.SHARED_FILE))
        else:
            fput(k.backing)  # the owner's final fput closes it
        return out
