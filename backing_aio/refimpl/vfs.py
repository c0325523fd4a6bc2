"""The kernel objects and VFS entry points the helpers use, with the checks KASAN,
refcount_t, lockdep and the file reference count would make.

Names and signatures follow the kernel. Python has no pointers, so ``&iocb->ki_pos`` is
passed as the kiocb itself, and ``&aio_req->iocb`` is the embedded object (taking its
address is not an access; using it is: see ``backing_aio.refimpl.kasan.Checked``).

A run has one ``Kernel`` (backing_aio.refimpl.kernel); code running as an actor finds it through
``current().k``, the way kernel code finds ``current``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

from backing_aio.refimpl.kasan import Checked, Finding, KmemCache, Shadow, plumbing, site
from backing_aio.refimpl.sched import (
    LOWER,
    SUBMITTER,
    WORK_STARTS,
    WORKER,
    Actor,
    become,
    choose,
    current,
    step,
)
from backing_aio.vocab import Choice, EnvCondition, Kind, PropertyId, Subject, env_answer

if TYPE_CHECKING:
    from backing_aio.refimpl.kernel import Kernel

plumbing(__file__)

# include/linux/fs.h (v6.1 and v6.12 alike): the first bits are the RWF_* of
# preadv2/pwritev2 (include/uapi/linux/fs.h), the kernel's own start at bit 16
IOCB_HIPRI: Final = 1 << 0  # RWF_HIPRI
IOCB_DSYNC: Final = 1 << 1  # RWF_DSYNC
IOCB_SYNC: Final = 1 << 2  # RWF_SYNC
# RWF_NOWAIT: io_uring's first attempt, or preadv2/pwritev2's flag; the lower filesystem
# may answer -EAGAIN instead of blocking
IOCB_NOWAIT: Final = 1 << 3
IOCB_APPEND: Final = 1 << 4  # RWF_APPEND
IOCB_DIRECT: Final = 1 << 17
IOCB_WRITE: Final = 1 << 18
# v6.6..v6.18: the issuer (io_uring) can run a direct write's completion itself, in task
# context; a filesystem that sees it may complete with ki_complete(iocb, 0) and leave the
# real completion in iocb->dio_complete
IOCB_DIO_CALLER_COMP: Final = 1 << 22
FMODE_CAN_ODIRECT: Final = 1 << 22
FMODE_BACKING: Final = 1 << 24  # a backing file (backing_file_open): what the helpers take
FDPUT_FPUT: Final = 1

# errno values the helpers and the lower filesystem use (negated, as the kernel returns them)
EIO: Final = 5
EAGAIN: Final = 11
ENOMEM: Final = 12
EINVAL: Final = 22
ENOSPC: Final = 28
EIOCBQUEUED: Final = 529


def kernel() -> Kernel:
    k: Kernel = current().k
    return k


class SuperBlock:
    """A superblock: freeze protection (sb_writers) and, for the upper one, the workqueue
    direct-IO completions are punted to (s_dio_done_wq).

    Freeze protection (SB_FREEZE_WRITE) is kept per request, so an imbalance is pinned on
    the request that caused it, not netted against another request's, with lockdep's
    owner: the task that took it, or nobody once it was released
    (__sb_writers_release) for another context to take over (__sb_writers_acquired). A
    request starting it while it holds it would wait behind a pending freeze for itself
    (sb_start_write is a read lock of a percpu rwsem freeze_super takes for write)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.s_dio_done_wq: Workqueue | None = None
        self._writers: dict[int, int] = {}
        self._owner: dict[int, str | None] = {}  # the holding task's actor, None: released
        self._lock = threading.Lock()

    def sb_start_write(self, req: int, who: str, owner: str) -> None:
        with self._lock:
            if self._writers.get(req, 0) > 0:
                raise Finding(PropertyId.FREEZE_BALANCED, f"{who}: request #{req} starts "
                              f"freeze protection of {self.name} it already holds (nested "
                              "sb_start_write)")
            self._writers[req] = 1
            self._owner[req] = owner

    def sb_writers_release(self, req: int, who: str, owner: str) -> None:
        with self._lock:
            if self._writers.get(req, 0) <= 0 or self._owner.get(req) != owner:
                raise Finding(PropertyId.FREEZE_BALANCED, f"{who}: the {owner} hands on "
                              f"freeze protection of {self.name} it does not hold")
            self._owner[req] = None

    def sb_end_write(self, req: int, who: str, owner: str | None) -> None:
        """``owner`` None: __sb_writers_acquired first (kiocb_end_write), which takes over
        released protection; else the task that must hold it."""
        with self._lock:
            held = self._writers.get(req, 0)
            if held <= 0:
                raise Finding(PropertyId.FREEZE_BALANCED, f"{who} ends freeze protection of "
                              f"{self.name} that request #{req} does not hold")
            if self._owner.get(req) != owner:
                holder = self._owner.get(req) or "nobody (it was released)"
                raise Finding(PropertyId.FREEZE_BALANCED, f"{who}: request #{req}'s freeze "
                              f"protection of {self.name} is held by {holder}")
            self._writers[req] = 0
            self._owner[req] = None

    def held(self, req: int) -> int:
        with self._lock:
            return self._writers.get(req, 0)

    def writers(self) -> dict[int, int]:
        with self._lock:
            return {r: n for r, n in self._writers.items() if n}


class File:
    """struct file: a reference count (f_count); the last fput closes the descriptor.

    ``subject`` names the file the way the model's findings do: "shared file" (the backing
    file the upper file keeps open for the whole run) or "file opened on the fly" (what
    ovl_real_fdget opens when it cannot lend its cached one)."""

    def __init__(self, name: str, subject: str, fd: int | None, sb: SuperBlock,
                 f_mode: int = FMODE_CAN_ODIRECT, owner: int = -1,
                 direct_fd: int | None = None) -> None:
        self.name = name
        self.subject = subject
        self._fd = fd
        # The same file opened O_DIRECT, for kiocbs with IOCB_DIRECT (a real file's f_flags
        # carry O_DIRECT; here one struct file serves both kinds of kiocb). None: the
        # filesystem cannot do real O_DIRECT and such IO is served buffered.
        self._direct_fd = direct_fd
        self.sb = sb
        self.f_mode = f_mode
        self.owner = owner  # the request that opened it (-1: the run)
        self.private_data: File | None = None  # an overlay file's real file
        self.f_count = 1
        self.closed_at: str | None = None
        self._lock = threading.Lock()

    def check(self, what: str) -> None:
        if self.f_count <= 0:
            raise Finding(PropertyId.UAF, f"{what}: {self.name} is used after its last fput (at "
                          f"{self.closed_at}); used at {site()}", self.subject)

    @property
    def fd(self) -> int:
        self.check("file IO")
        assert self._fd is not None, f"{self.name} has no descriptor"
        return self._fd

    def fd_for(self, iocb_flags: int) -> int:
        """The descriptor an IO with these kiocb flags goes through (O_DIRECT or not)."""
        fd = self.fd
        if iocb_flags & IOCB_DIRECT and self._direct_fd is not None:
            return self._direct_fd
        return fd

    def _close(self) -> None:
        for fd in (self._fd, self._direct_fd):
            if fd is not None:
                os.close(fd)

    def release(self) -> None:
        """The owner's teardown: close the descriptor whatever the count says."""
        if self._fd is not None and self.closed_at is None:
            self.closed_at = "teardown"
            self._close()


def get_file(f: File) -> File:
    with f._lock:
        f.check("get_file")
        f.f_count += 1
    return f


def fput(f: File) -> None:
    with f._lock:
        f.check("fput")
        f.f_count -= 1
        if f.f_count == 0:
            f.closed_at = site()
            f._close()


def file_accessed(f: File) -> None:
    """touch_atime: the L2 access ext4 makes after queueing a direct IO."""
    f.check("file_accessed")


class Fd:
    """struct fd: a file and whether the holder must fput it (FDPUT_FPUT)."""

    __slots__ = ("file", "flags")

    def __init__(self, file: File, flags: int) -> None:
        self.file = file
        self.flags = flags

    def copy(self) -> Fd:
        return Fd(self.file, self.flags)


def fdput(fd: Fd) -> None:
    if fd.flags & FDPUT_FPUT:
        fput(fd.file)


class Refcount:
    """refcount_t: saturating, and it warns on a decrement of zero or an increment from
    zero. Here the warning is the finding REF_UNDERFLOW."""

    __slots__ = ("refs",)

    def __init__(self) -> None:
        self.refs = 0  # kmem_cache_zalloc

    def set(self, n: int) -> None:
        self.refs = n

    def inc(self) -> None:
        if self.refs == 0:
            raise Finding(PropertyId.REF_UNDERFLOW, f"refcount_t: addition on 0; use-after-free "
                          f"(at {site()})")
        self.refs += 1

    def dec_and_test(self) -> bool:
        if self.refs == 0:
            raise Finding(PropertyId.REF_UNDERFLOW, f"refcount_t: underflow; use-after-free "
                          f"(at {site()})")
        self.refs -= 1
        return self.refs == 0


class Kiocb(Checked):
    """struct kiocb. The upper layer's original kiocb lives in its own allocation; a
    wrapper's clone shares the wrapper's (it is embedded: ``_container`` is container_of)."""

    ki_filp: File
    ki_pos: int
    ki_flags: int
    ki_complete: Callable[[Kiocb, int], None] | None
    private: int  # the upper layer's request number
    # IOCB_DIO_CALLER_COMP: the completion the lower filesystem left to the issuer, with
    # the IO's real result (the C's dio_complete(private); here the closure holds it)
    dio_complete: Callable[[], int] | None

    def __init__(self, shadow: Shadow, container: Any = None) -> None:
        super().__init__(shadow)
        object.__setattr__(self, "_container", container)
        self.ki_pos = 0
        self.ki_flags = 0
        self.ki_complete = None
        self.private = -1
        self.dio_complete = None


def container_of(member: Checked) -> Any:
    """The structure ``member`` is embedded in (pointer arithmetic: no access)."""
    return object.__getattribute__(member, "_container")


def is_sync_kiocb(iocb: Kiocb) -> bool:
    return iocb.ki_complete is None


def kiocb_clone(kiocb: Kiocb, kiocb_src: Kiocb, filp: File) -> None:
    """include/linux/fs.h: ki_filp, ki_flags (IOCB_DIO_CALLER_COMP too), ki_ioprio and
    ki_pos; not ki_complete."""
    kiocb.ki_filp = filp
    kiocb.ki_flags = kiocb_src.ki_flags
    kiocb.ki_pos = kiocb_src.ki_pos
    kiocb.ki_complete = None


def answer(condition: str, truth: bool) -> str:
    """The answer a step records to an environment condition about the running request
    (``"zero_length: no"``): the model decides a condition the first time a step asks it,
    so a later step that checks the same fact again records nothing."""
    a = current()
    told = a.k.requests[a.req].told
    if condition in told:
        return ""
    told.add(condition)
    return env_answer(condition, truth)


def orig_flags_answer(orig: Kiocb) -> str:
    """The environment's answer the step records that first copies the original kiocb's
    ki_flags (``kiocb_clone``, or ``aio->iocb.ki_flags = flags``): whether it carries
    IOCB_DIO_CALLER_COMP. The upper layer decided that when it built the kiocb, and only
    for an async write on a kernel that has the flag (``Request.caller_comp``); the model
    asks the first time a step needs to know, so that step carries the answer and every
    other step none."""
    a = current()
    r = a.k.requests[a.req]
    if r.caller_comp is None or r.caller_comp_told:
        return ""
    r.caller_comp_told = True
    return env_answer(EnvCondition.CALLER_COMP, bool(orig.ki_flags & IOCB_DIO_CALLER_COMP))


class IovIter:
    """An iov_iter over user memory: the segments of a buffer the upper layer keeps alive."""

    def __init__(self, segments: Sequence[memoryview]) -> None:
        self.segments = list(segments)

    @property
    def count(self) -> int:
        return sum(len(s) for s in self.segments)


def iov_iter_count(i: IovIter) -> int:
    return i.count


T = TypeVar("T", bound=Checked)


def kmem_cache_zalloc(cachep: KmemCache[T]) -> T | None:
    """May fail: the environment decides (``Choice.ALLOC_OK`` / ``ALLOC_FAILS``)."""
    a = current()
    k: Kernel = a.k
    if k.env.decide("alloc", a.req) == Choice.ALLOC_FAILS:
        choose(Choice.ALLOC_FAILS)
        k.requests[a.req].alloc_failed = True
        return None
    choose(Choice.ALLOC_OK)
    return cachep.alloc(a.req)


def kmem_cache_free(cachep: KmemCache[T], obj: T) -> None:
    cachep.free(obj)


# ---- freeze protection -----------------------------------------------------------------

def _task() -> str:
    """The task lockdep sees: the lower filesystem inside submit is the submitter."""
    name = current().name
    return SUBMITTER if name == LOWER else name


def file_start_write(file: File) -> None:
    file.check("file_start_write")
    file.sb.sb_start_write(current().req, f"file_start_write at {site()}", _task())


def file_end_write(file: File) -> None:
    file.check("file_end_write")
    file.sb.sb_end_write(current().req, f"file_end_write at {site()}", _task())


def sb_writers_release(file: File) -> None:
    """``__sb_writers_release(file_inode(file)->i_sb, SB_FREEZE_WRITE)``"""
    file.check("__sb_writers_release")
    file.sb.sb_writers_release(current().req, f"__sb_writers_release at {site()}", _task())


def sb_writers_acquired_end_write(file: File) -> None:
    """``__sb_writers_acquired(file_inode(file)->i_sb, SB_FREEZE_WRITE);
    file_end_write(file)``: what kiocb_end_write does, open-coded (overlayfs to v6.7)."""
    file.check("file_end_write")
    file.sb.sb_end_write(current().req, f"file_end_write at {site()}", None)


def kiocb_start_write(iocb: Kiocb) -> None:
    f = iocb.ki_filp
    f.check("kiocb_start_write")
    req = current().req
    f.sb.sb_start_write(req, f"kiocb_start_write at {site()}", _task())
    f.sb.sb_writers_release(req, f"kiocb_start_write at {site()}", _task())


def kiocb_end_write(iocb: Kiocb) -> None:
    f = iocb.ki_filp
    f.check("kiocb_end_write")
    f.sb.sb_end_write(current().req, f"kiocb_end_write at {site()}", None)


def file_remove_privs(file: File) -> int:
    """``file_remove_privs(file)``: 0, or the error clearing the setuid bits met (the
    environment decides: a regular file here has none to clear)."""
    file.check("file_remove_privs")
    a = current()
    if a.k.env.decide("privs", a.req) == Choice.PRIVS_FAILS:
        choose(Choice.PRIVS_FAILS)
        a.k.requests[a.req].early_error = -EIO
        return -EIO
    choose(Choice.PRIVS_OK)
    return 0


def _write_protected(file: File, what: str) -> None:
    """lockdep's view of sb_writers: a write reaches the lower fs under freeze protection."""
    req = current().req
    if file.sb.held(req) <= 0:
        raise Finding(PropertyId.FREEZE_BALANCED, f"{what}: request #{req} writes to "
                      f"{file.sb.name} without freeze protection")


def _submitted(what: str) -> None:
    a = current()
    r = a.k.requests[a.req]
    r.submitted += 1
    if r.submitted > 1:
        raise Finding(PropertyId.RESULT_PROPAGATED, f"{what}: request #{a.req} is submitted to the "
                      "lower filesystem a second time (the IO runs twice)")


# ---- VFS entry points into the lower filesystem ----------------------------------------

def vfs_iter_read(file: File, iter: IovIter, iocb: Kiocb, flags: int) -> int:
    """``vfs_iter_read(file, iter, &iocb->ki_pos, flags)``: a synchronous read."""
    file.check("vfs_iter_read")
    _submitted("vfs_iter_read")
    return kernel().lower.sync_rw(Kind.READ, file, iter, iocb)


def vfs_iter_write(file: File, iter: IovIter, iocb: Kiocb, flags: int) -> int:
    """``vfs_iter_write(file, iter, &iocb->ki_pos, flags)``. Since v6.8 it takes freeze
    protection itself (file_start_write/file_end_write around the write)."""
    k = kernel()
    file.check("vfs_iter_write")
    if k.callee_freeze:
        file_start_write(file)  # a protection the caller holds makes this one nested
    else:
        _write_protected(file, "vfs_iter_write")
    _submitted("vfs_iter_write")
    ret = k.lower.sync_rw(Kind.WRITE, file, iter, iocb)
    if k.callee_freeze:
        file_end_write(file)
    return ret


def vfs_iocb_iter_read(file: File, iocb: Kiocb, iter: IovIter) -> int:
    file.check("vfs_iocb_iter_read")
    iocb.ki_filp.check("vfs_iocb_iter_read (the clone's file)")
    _submitted("vfs_iocb_iter_read")
    return kernel().lower.submit(Kind.READ, iocb, iter)


def vfs_iocb_iter_write(file: File, iocb: Kiocb, iter: IovIter) -> int:
    """Since v6.8 it starts freeze protection itself and ends it unless the IO was queued
    (the caller's completion ends it then); before, the caller did both."""
    k = kernel()
    file.check("vfs_iocb_iter_write")
    iocb.ki_filp.check("vfs_iocb_iter_write (the clone's file)")
    if k.callee_freeze:
        kiocb_start_write(iocb)
    else:
        _write_protected(iocb.ki_filp, "vfs_iocb_iter_write")
    _submitted("vfs_iocb_iter_write")
    ret = k.lower.submit(Kind.WRITE, iocb, iter)
    if k.callee_freeze and ret != -EIOCBQUEUED:
        kiocb_end_write(iocb)
    return ret


def f_op_iter(kind: Kind, iocb: Kiocb, iter: IovIter) -> int:
    """``file->f_op->read_iter/write_iter(iocb, iter)`` called directly (the loop driver):
    no rw_verify_area and, on any kernel, no freeze protection taken: a write must already
    hold it (kiocb_start_write)."""
    iocb.ki_filp.check(f"f_op->{kind}_iter")
    if kind == Kind.WRITE:
        _write_protected(iocb.ki_filp, "f_op->write_iter")
    _submitted(f"f_op->{kind}_iter")
    return kernel().lower.submit(kind, iocb, iter)


# ---- the workqueue -------------------------------------------------------------------

class Work(Checked):
    """struct work_struct, embedded in the wrapper."""

    func: Callable[[Work], None] | None
    pending: bool

    def __init__(self, shadow: Shadow, container: Any = None) -> None:
        super().__init__(shadow)
        object.__setattr__(self, "_container", container)
        self.func = None
        self.pending = False


def INIT_WORK(work: Work, func: Callable[[Work], None]) -> None:
    work.func = func


class Workqueue:
    """A workqueue: each work item runs on a worker thread, in process context."""

    def __init__(self, name: str) -> None:
        self.name = name

    def queue_work(self, work: Work) -> bool:
        """False (and nothing queued) if the item is already pending."""
        if work.pending:
            return False
        work.pending = True
        a = current()
        k = a.k
        req = a.req
        k.sched.spawn(lambda: self._worker(k, req, work), f"{self.name}#{req}", "wq")
        return True

    def _worker(self, k: Any, req: int, work: Work) -> None:
        become(Actor(k, req, WORKER))
        step(WORK_STARTS)
        work.pending = False  # cleared before the function runs, as process_one_work does
        func = work.func
        assert func is not None, "queued work without a function"
        func(work)


def queue_work(wq: Workqueue | None, work: Work) -> bool:
    if wq is None:
        raise Finding(PropertyId.UAF, "queue_work on a NULL workqueue (s_dio_done_wq never set "
                      f"up); at {site()}", Subject.S_DIO_DONE_WQ)
    return wq.queue_work(work)


def sb_init_dio_done_wq(sb: SuperBlock) -> int:
    """Allocate the superblock's direct-IO completion workqueue; may fail (-ENOMEM)."""
    a = current()
    k: Kernel = a.k
    if k.env.decide("wq", a.req) == Choice.WQ_FAILS:
        choose(Choice.WQ_FAILS)
        k.requests[a.req].wq_failed = True
        return -ENOMEM
    choose(Choice.WQ_OK)
    sb.s_dio_done_wq = Workqueue(f"dio/{sb.name}")
    return 0
