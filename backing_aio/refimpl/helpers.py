"""The helpers themselves: backing_file_read_iter/write_iter and their completion paths,
in the versions of the kernel's history the catalogue holds, written as Python that
follows the C line by line.

Each ``step(op)`` marks one atomic step of the model (model/catalogue.py): ``op`` is the
model statement's operation, and the code after it, up to the next ``step``, is what that
statement does. The statements of a variant's procedures map one to one onto these points,
in order, including control flow (an ``if`` is an ``if_goto`` step, a call a ``call`` step,
each ``return`` a ``return_`` step); the environment's own steps are taken in
backing_aio.refimpl.lower and backing_aio.refimpl.vfs (``lower_returns``, ``complete_fires``,
``work_starts``). So a run's events can be replayed on the model statement by statement, and
``backing_aio.crosscheck.conformance`` checks that each event's op is the statement the model is at.

A class per version:

- ``Seed``: fs/backing_file.c as the 2023 refactor introduced it (the seed patch), with
  overlayfs's ovl_read_iter/ovl_write_iter around it (model: ``seed``); ``SeedFixed``
  with the two changes its release made (model: ``seed-fixed``).
- ``Ovl56``: overlayfs's first async IO, v5.6: no reference count, the cleanup frees the
  wrapper (model: ``ovl-5.6``; use-after-free through L2). ``Ovl516``: the v5.16 fix.
- ``Mainline``: today's fs/backing-file.c: write completions punted to a workqueue,
  vfs_iocb_iter_write owns freeze protection unless the IO is queued (model: ``mainline``).
  ``Ovl612``: the same helpers under v6.12's overlayfs, whose struct fd may hold a file
  opened on the fly (model: ``ovl-6.12``); ``Fuse612`` under FUSE passthrough
  (model: ``fuse-6.12``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

from backing_aio import kapi
from backing_aio.refimpl.env import NOT_BACKING_YES
from backing_aio.refimpl.kasan import Checked, KmemCache, Shadow
from backing_aio.refimpl.kernel import Kernel
from backing_aio.refimpl.sched import choose as _choose
from backing_aio.refimpl.sched import current, step
from backing_aio.refimpl.vfs import (
    EINVAL,
    EIO,
    EIOCBQUEUED,
    ENOMEM,
    FDPUT_FPUT,
    FMODE_BACKING,
    FMODE_CAN_ODIRECT,
    INIT_WORK,
    IOCB_DIO_CALLER_COMP,
    IOCB_DIRECT,
    IOCB_WRITE,
    Fd,
    File,
    IovIter,
    Kiocb,
    Refcount,
    Work,
    answer,
    container_of,
    f_op_iter,
    fdput,
    file_end_write,
    file_remove_privs,
    file_start_write,
    fput,
    get_file,
    iov_iter_count,
    is_sync_kiocb,
    kiocb_clone,
    kiocb_end_write,
    kiocb_start_write,
    kmem_cache_free,
    kmem_cache_zalloc,
    orig_flags_answer,
    queue_work,
    sb_init_dio_done_wq,
    sb_writers_acquired_end_write,
    sb_writers_release,
    vfs_iocb_iter_read,
    vfs_iocb_iter_write,
    vfs_iter_read,
    vfs_iter_write,
)
from backing_aio.vocab import (
    Choice,
    EnvCondition,
    Freeze,
    Kind,
    Outcome,
    RequestType,
    Shape,
    Subject,
    env_answer,
)

Cleanup = Callable[[Kiocb, int], None]

# The conditions an ``if_goto`` asks the environment the first time (its choice is the
# answer, ``env_answer``).
ZERO_LENGTH, ODIRECT_UNSUPPORTED = EnvCondition.ZERO_LENGTH, EnvCondition.ODIRECT_UNSUPPORTED
NOT_BACKING = EnvCondition.NOT_BACKING


def odirect_unsupported(iocb: Kiocb, file: File) -> bool:
    return bool(iocb.ki_flags & IOCB_DIRECT and not file.f_mode & FMODE_CAN_ODIRECT)


class Helpers(ABC):
    """One version of the helpers (and of the caller around them) in one kernel.

    ``name`` is the model variant it implements; ``kernel`` the release it runs against
    and ``caller`` the filesystem around it, as the model's variant names them (the tests
    check that they agree). What follows from the kernel (who owns freeze protection,
    whether the upper layer may set IOCB_DIO_CALLER_COMP, which callbacks need process
    context) is read from backing_aio.kapi, the table the model reads too, not restated
    here. ``callbacks`` is the caller's callback contract.
    """

    name: ClassVar[str]
    kernel: ClassVar[str]
    caller: ClassVar[str] = "overlayfs"
    callbacks: ClassVar[dict[Kind, dict[Outcome, int]]]
    # who is above the helpers (vocab.Shape) and the request kinds it serves, as the
    # model's variant declares them
    shape: ClassVar[Shape] = Shape.STACKED
    kinds: ClassVar[tuple[str, ...]] = tuple(RequestType)

    @classmethod
    def release(cls) -> kapi.Kernel:
        """The kernel release this version runs against."""
        return kapi.Kernel.parse(cls.kernel)

    @classmethod
    def freeze(cls) -> Freeze:
        """Who owns freeze protection of an async write on this version's kernel."""
        return kapi.freeze(cls.release())

    def __init__(self, k: Kernel) -> None:
        self.k = k

    @abstractmethod
    def read_iter(self, iocb: Kiocb, iter: IovIter) -> int:
        """What the upper layer calls for a read (the model variant's read entry)."""

    @abstractmethod
    def write_iter(self, iocb: Kiocb, iter: IovIter) -> int:
        """What the upper layer calls for a write."""

    @abstractmethod
    def caches(self) -> list[KmemCache[Any]]:
        """The caches wrappers come from (for the leak check)."""

    # The caller's side: overlayfs's ovl_real_fdget. It lends the file it keeps open, or
    # (when the file was copied up since it was opened) opens the real file on the fly and
    # tells the caller to fput it (FDPUT_FPUT), or fails (the lower data cannot be
    # verified, the reopen fails): then ret is the error and there is no file to use.
    def ovl_real_fdget(self, file: File) -> tuple[int, Fd | None]:
        req = _current_req()
        got = self.k.env.decide("fdget", req)
        if got == Choice.FD_FAILS:
            _choose(Choice.FD_FAILS)
            self.k.requests[req].early_error = -EIO
            return -EIO, None
        if got == Choice.FD_BORROWED:
            _choose(Choice.FD_BORROWED)
            real = file.private_data
            assert real is not None
            return 0, Fd(real, 0)
        _choose(Choice.FD_OPENED)
        return 0, Fd(self.k.open_backing(Subject.TMP_FILE, req), FDPUT_FPUT)

    def ovl_read_prologue(self, file: File) -> tuple[int, Fd | None]:
        """ret = ovl_real_fdget(file, &real); if (ret) return ret; (None: it returned)."""
        step("fdget")
        ret, real = self.ovl_real_fdget(file)
        step("if_goto")
        if ret:
            step("return_")
            return ret, None
        return 0, real

    def ovl_write_prologue(self, iocb: Kiocb) -> tuple[int, Fd | None]:
        """ovl_write_iter up to its IO (v5.6 to v6.7): file_remove_privs(), then
        ovl_real_fdget(); either may fail to out_unlock, where it returns (None)."""
        step("file_remove_privs")
        ret = file_remove_privs(iocb.ki_filp)
        step("if_goto")
        if not ret:
            step("fdget")
            ret, real = self.ovl_real_fdget(iocb.ki_filp)
            step("if_goto")
            if not ret:
                return 0, real
        step("return_")  # out_unlock:
        return ret, None

    @property
    def upper(self) -> Any:
        return self.k.upper


def _current_req() -> int:
    return current().req


# ---- seed: fs/backing_file.c (2023) under overlayfs ----------------------------------

class BackingAioReq(Checked):
    """struct backing_aio_req { struct kiocb iocb; refcount_t ref; struct kiocb *orig_iocb;
    void (*cleanup)(struct kiocb *, long); }"""

    _embedded = frozenset({"iocb"})
    iocb: Kiocb
    ref: Refcount
    orig_iocb: Kiocb | None
    cleanup: Cleanup | None

    def __init__(self, shadow: Shadow) -> None:
        super().__init__(shadow)
        self.iocb = Kiocb(shadow, self)
        self.ref = Refcount()
        self.orig_iocb = None
        self.cleanup = None


class Seed(Helpers):
    """The seed as posted: overlayfs's flags passed down as they are, and its callback
    ovl_rw_complete with the prep patch that moved ovl_file_accessed() into it.
    ``released`` (SeedFixed): the two changes its release made instead."""

    name = "seed"
    kernel = "6.6"
    callbacks: ClassVar[dict[Kind, dict[Outcome, int]]] = {
        Kind.READ: {Outcome.SUBMITTED: 1}, Kind.WRITE: {Outcome.SUBMITTED: 1}}
    released: ClassVar[bool] = False

    def __init__(self, k: Kernel) -> None:
        super().__init__(k)
        self.backing_aio_req_cachep: KmemCache[BackingAioReq] = KmemCache(
            "backing_aio_req", Subject.WRAPPER, BackingAioReq)

    def caches(self) -> list[KmemCache[Any]]:
        return [self.backing_aio_req_cachep]

    def _ovl_rw_complete(self) -> Cleanup:
        # without the prep patch, only the write branch is left
        fn: Cleanup = (self.upper.ovl_rw_complete_write if self.released else
                       self.upper.ovl_rw_complete)
        return fn

    # fs/overlayfs/file.c
    def read_iter(self, iocb: Kiocb, iter: IovIter) -> int:
        return self.ovl_read_iter(iocb, iter)

    def write_iter(self, iocb: Kiocb, iter: IovIter) -> int:
        return self.ovl_write_iter(iocb, iter)

    def ovl_read_iter(self, iocb: Kiocb, iter: IovIter) -> int:
        file = iocb.ki_filp
        ret, real = self.ovl_read_prologue(file)
        if real is None:
            return ret
        step("call")
        ret = self.backing_file_read_iter(real.file, iter, iocb, iocb.ki_flags,
                                          self._ovl_rw_complete())
        if self.released:  # ovl_file_accessed(file), in the submitter
            step("kcall")
            self.upper.ovl_file_accessed_here(file)
        step("fdput")
        fdput(real)
        step("return_")
        return ret

    def ovl_write_iter(self, iocb: Kiocb, iter: IovIter) -> int:
        ret, real = self.ovl_write_prologue(iocb)
        if real is None:
            return ret
        # int flags = iocb->ki_flags; the C clears IOCB_DSYNC | IOCB_SYNC from it only on
        # a "volatile" mount (!ovl_should_sync()); this overlay is not volatile. The seed
        # does not clear IOCB_DIO_CALLER_COMP: the clone carries the issuer's.
        flags = iocb.ki_flags
        if self.released:  # ifl &= ~IOCB_DIO_CALLER_COMP (2d1b3bbc3dd5)
            step("clear_ki_flag")
            flags &= ~IOCB_DIO_CALLER_COMP
        step("call")
        ret = self.backing_file_write_iter(real.file, iter, iocb, flags,
                                           self._ovl_rw_complete())
        step("fdput")
        fdput(real)
        step("return_")
        return ret

    # fs/backing_file.c
    def backing_aio_put(self, aio_req: BackingAioReq) -> None:
        step("refcount_dec_and_test")
        if aio_req.ref.dec_and_test():
            step("fput_clone")
            fput(aio_req.iocb.ki_filp)
            step("kmem_cache_free")
            kmem_cache_free(self.backing_aio_req_cachep, aio_req)

    def backing_aio_cleanup(self, aio_req: BackingAioReq, res: int) -> None:
        """Completion for submitted/failed async rw io."""
        iocb = aio_req.iocb
        step("if_goto")
        if iocb.ki_flags & IOCB_WRITE:
            step("kiocb_end_write")
            kiocb_end_write(iocb)
        step("update_pos")
        orig_iocb = aio_req.orig_iocb
        assert orig_iocb is not None
        orig_iocb.ki_pos = iocb.ki_pos
        step("callback")
        if aio_req.cleanup:
            aio_req.cleanup(orig_iocb, res)
        step("call")
        self.backing_aio_put(aio_req)

    def backing_aio_rw_complete(self, iocb: Kiocb, res: int) -> None:
        """Completion for submitted async rw io."""
        aio_req: BackingAioReq = container_of(iocb)
        step("load_orig")
        orig_iocb = aio_req.orig_iocb
        assert orig_iocb is not None
        step("call")
        self.backing_aio_cleanup(aio_req, res)
        step("ki_complete")
        assert orig_iocb.ki_complete is not None
        orig_iocb.ki_complete(orig_iocb, res)

    def backing_file_read_iter(self, file: File, iter: IovIter, iocb: Kiocb, flags: int,
                               cleanup: Cleanup | None) -> int:
        step("if_goto", answer(ZERO_LENGTH, not iov_iter_count(iter)))
        if not iov_iter_count(iter):
            step("return_")
            return 0
        step("if_goto", answer(ODIRECT_UNSUPPORTED, odirect_unsupported(iocb, file)))
        if odirect_unsupported(iocb, file):
            step("return_")
            return -EINVAL
        step("if_goto")
        if is_sync_kiocb(iocb):
            step("vfs_iter")
            ret = vfs_iter_read(file, iter, iocb, flags)
            step("callback")
            if cleanup:
                cleanup(iocb, ret)
            step("return_")
            return ret
        step("kmem_cache_zalloc")
        aio_req = kmem_cache_zalloc(self.backing_aio_req_cachep)
        if not aio_req:
            step("return_")
            return -ENOMEM
        step("init_orig_iocb")
        aio_req.orig_iocb = iocb
        step("init_callback")
        aio_req.cleanup = cleanup
        step("kiocb_clone", orig_flags_answer(iocb))
        kiocb_clone(aio_req.iocb, iocb, get_file(file))
        step("set_ki_complete")
        aio_req.iocb.ki_complete = self.backing_aio_rw_complete
        step("refcount_set")
        aio_req.ref.set(2)
        step("vfs_iocb_iter")
        ret = vfs_iocb_iter_read(file, aio_req.iocb, iter)
        step("call")
        self.backing_aio_put(aio_req)
        step("if_goto")
        if ret != -EIOCBQUEUED:
            step("call")
            self.backing_aio_cleanup(aio_req, ret)
        step("return_")
        return ret

    def backing_file_write_iter(self, file: File, iter: IovIter, iocb: Kiocb, flags: int,
                                cleanup: Cleanup | None) -> int:
        step("if_goto", answer(ZERO_LENGTH, not iov_iter_count(iter)))
        if not iov_iter_count(iter):
            step("return_")
            return 0
        step("if_goto", answer(ODIRECT_UNSUPPORTED, odirect_unsupported(iocb, file)))
        if odirect_unsupported(iocb, file):
            step("return_")
            return -EINVAL
        step("if_goto")
        if is_sync_kiocb(iocb):
            step("file_start_write")
            file_start_write(file)
            step("vfs_iter")
            ret = vfs_iter_write(file, iter, iocb, flags)
            step("file_end_write")
            file_end_write(file)
            step("callback")
            if cleanup:
                cleanup(iocb, ret)
            step("return_")
            return ret
        step("kmem_cache_zalloc")
        aio_req = kmem_cache_zalloc(self.backing_aio_req_cachep)
        if not aio_req:
            step("return_")
            return -ENOMEM
        step("init_orig_iocb")
        aio_req.orig_iocb = iocb
        step("init_callback")
        aio_req.cleanup = cleanup
        step("kiocb_clone", orig_flags_answer(iocb))
        kiocb_clone(aio_req.iocb, iocb, get_file(file))
        step("set_ki_flags", orig_flags_answer(iocb))
        aio_req.iocb.ki_flags = flags
        step("set_ki_complete")
        aio_req.iocb.ki_complete = self.backing_aio_rw_complete
        step("refcount_set")
        aio_req.ref.set(2)
        step("kiocb_start_write")
        kiocb_start_write(aio_req.iocb)
        step("vfs_iocb_iter")
        ret = vfs_iocb_iter_write(file, aio_req.iocb, iter)
        step("call")
        self.backing_aio_put(aio_req)
        step("if_goto")
        if ret != -EIOCBQUEUED:
            step("call")
            self.backing_aio_cleanup(aio_req, ret)
        step("return_")
        return ret


class SeedFixed(Seed):
    """The seed with the two changes its release made: ovl_write_iter clears
    IOCB_DIO_CALLER_COMP (2d1b3bbc3dd5), and ovl_file_accessed() stays in ovl_read_iter
    after the call, so the completion's callback keeps only its write branch."""

    name = "seed-fixed"
    released = True


# ---- ovl-5.6 / ovl-5.16: overlayfs's own async IO -----------------------------------

class OvlAioReq(Checked):
    """struct ovl_aio_req { struct kiocb iocb; refcount_t ref; struct kiocb *orig_iocb;
    struct fd fd; }"""

    _embedded = frozenset({"iocb"})
    iocb: Kiocb
    ref: Refcount
    orig_iocb: Kiocb | None
    fd: Fd | None

    def __init__(self, shadow: Shadow) -> None:
        super().__init__(shadow)
        self.iocb = Kiocb(shadow, self)
        self.ref = Refcount()
        self.orig_iocb = None
        self.fd = None


class Ovl56(Helpers):
    """v5.6 (2406a307ac7d "ovl: implement async IO routines"): the wrapper owns the
    caller's struct fd; no reference count; the cleanup handler frees the wrapper."""

    name = "ovl-5.6"
    kernel = "5.6"
    callbacks: ClassVar[dict[Kind, dict[Outcome, int]]] = {
        Kind.READ: {Outcome.SUBMITTED: 1, Outcome.ALLOC_FAILED: 1},
        Kind.WRITE: {Outcome.SUBMITTED: 1}}
    REFCOUNT: ClassVar[bool] = False
    ODIRECT_CHECK: ClassVar[bool] = False
    # 724768a39374 (v6.6-rc2, in 6.1 stable): the clone takes its own file reference and
    # the put drops it; the wrapper holds no struct fd
    GET_FILE: ClassVar[bool] = False
    # ovl_copyattr() ("Update mode") under inode_lock before the IO (v5.19 and later)
    COPYATTR_FIRST: ClassVar[bool] = False

    def __init__(self, k: Kernel) -> None:
        super().__init__(k)
        self.ovl_aio_request_cachep: KmemCache[OvlAioReq] = KmemCache(
            "ovl_aio_req", Subject.WRAPPER, OvlAioReq)

    def caches(self) -> list[KmemCache[Any]]:
        return [self.ovl_aio_request_cachep]

    def read_iter(self, iocb: Kiocb, iter: IovIter) -> int:
        return self.ovl_read_iter(iocb, iter)

    def write_iter(self, iocb: Kiocb, iter: IovIter) -> int:
        return self.ovl_write_iter(iocb, iter)

    def odirect_refused(self, iocb: Kiocb, real: Fd) -> bool:
        """v5.15's ret = -EINVAL; if (O_DIRECT the real file cannot do) goto out_fdput:
        the refusal drops the caller's struct fd (fdput) on its way out."""
        step("assign")
        step("if_goto", answer(ODIRECT_UNSUPPORTED, odirect_unsupported(iocb, real.file)))
        if not odirect_unsupported(iocb, real.file):
            return False
        step("fdput")  # out_fdput: (ovl_write_iter's out: is the same line)
        fdput(real)
        step("return_")
        return True

    def hand_over_fd(self, aio_req: OvlAioReq, real: Fd) -> None:
        """aio_req->fd = real; real.flags = 0; (up to v6.6-rc1: the wrapper drops the
        struct fd). With GET_FILE the wrapper holds no fd, yet 6.1 still clears the flags:
        an fdput() that no longer drops a file opened on the fly."""
        if not self.GET_FILE:
            step("fd_move_to_wrapper")
            aio_req.fd = real.copy()
        step("fd_clear_flags")
        real.flags = 0

    def ovl_aio_put(self, aio_req: OvlAioReq) -> None:
        step("refcount_dec_and_test")
        if aio_req.ref.dec_and_test():
            if self.GET_FILE:
                step("fput_clone")
                fput(aio_req.iocb.ki_filp)
            else:
                step("fdput_wrapper")
                assert aio_req.fd is not None
                fdput(aio_req.fd)
            step("kmem_cache_free")
            kmem_cache_free(self.ovl_aio_request_cachep, aio_req)

    def ovl_aio_cleanup_handler(self, aio_req: OvlAioReq) -> None:
        iocb = aio_req.iocb
        step("if_goto")
        if iocb.ki_flags & IOCB_WRITE:
            # /* Actually acquired in ovl_write_iter() */
            step("kiocb_end_write")
            sb_writers_acquired_end_write(iocb.ki_filp)
            step("callback")
            self.upper.ovl_copyattr()
        step("update_pos")
        orig_iocb = aio_req.orig_iocb
        assert orig_iocb is not None
        orig_iocb.ki_pos = iocb.ki_pos
        if self.REFCOUNT:
            step("call")
            self.ovl_aio_put(aio_req)
        else:
            step("fdput_wrapper")
            assert aio_req.fd is not None
            fdput(aio_req.fd)
            step("kmem_cache_free")
            kmem_cache_free(self.ovl_aio_request_cachep, aio_req)

    def ovl_aio_rw_complete(self, iocb: Kiocb, res: int) -> None:
        aio_req: OvlAioReq = container_of(iocb)
        step("load_orig")
        orig_iocb = aio_req.orig_iocb
        assert orig_iocb is not None
        step("call")
        self.ovl_aio_cleanup_handler(aio_req)
        step("ki_complete")
        assert orig_iocb.ki_complete is not None
        orig_iocb.ki_complete(orig_iocb, res)

    def ovl_read_iter(self, iocb: Kiocb, iter: IovIter) -> int:
        file = iocb.ki_filp
        step("if_goto", answer(ZERO_LENGTH, not iov_iter_count(iter)))
        if not iov_iter_count(iter):
            step("return_")
            return 0
        ret, real = self.ovl_read_prologue(file)
        if real is None:
            return ret
        if self.ODIRECT_CHECK and self.odirect_refused(iocb, real):
            return -EINVAL
        step("if_goto")
        if is_sync_kiocb(iocb):
            step("vfs_iter")
            ret = vfs_iter_read(real.file, iter, iocb, iocb.ki_flags)
            step("goto")
        else:
            step("assign")
            ret = -ENOMEM
            step("kmem_cache_zalloc")
            aio_req = kmem_cache_zalloc(self.ovl_aio_request_cachep)
            if aio_req:
                self.hand_over_fd(aio_req, real)
                step("init_orig_iocb")
                aio_req.orig_iocb = iocb
                step("kiocb_clone", orig_flags_answer(iocb))
                kiocb_clone(aio_req.iocb, iocb,
                            get_file(real.file) if self.GET_FILE else real.file)
                step("set_ki_complete")
                aio_req.iocb.ki_complete = self.ovl_aio_rw_complete
                if self.REFCOUNT:
                    step("refcount_set")
                    aio_req.ref.set(2)
                step("vfs_iocb_iter")
                ret = vfs_iocb_iter_read(real.file, aio_req.iocb, iter)
                if self.REFCOUNT:
                    step("call")
                    self.ovl_aio_put(aio_req)
                step("if_goto")
                if ret != -EIOCBQUEUED:
                    step("call")
                    self.ovl_aio_cleanup_handler(aio_req)
        # out:
        step("callback")
        self.upper.ovl_file_accessed(file)
        step("fdput")
        fdput(real)
        step("return_")
        return ret

    def ovl_write_iter(self, iocb: Kiocb, iter: IovIter) -> int:
        step("if_goto", answer(ZERO_LENGTH, not iov_iter_count(iter)))
        if not iov_iter_count(iter):
            step("return_")
            return 0
        if self.COPYATTR_FIRST:
            step("kcall")  # /* Update mode */
            self.upper.ovl_copyattr_here()
        ret, real = self.ovl_write_prologue(iocb)
        if real is None:
            return ret
        if self.ODIRECT_CHECK and self.odirect_refused(iocb, real):
            return -EINVAL
        ifl = iocb.ki_flags
        step("if_goto")
        if is_sync_kiocb(iocb):
            step("file_start_write")
            file_start_write(real.file)
            step("vfs_iter")
            ret = vfs_iter_write(real.file, iter, iocb, ifl)
            step("file_end_write")
            file_end_write(real.file)
            step("callback")
            self.upper.ovl_copyattr()
            step("goto")
        else:
            step("assign")
            ret = -ENOMEM
            step("kmem_cache_zalloc")
            aio_req = kmem_cache_zalloc(self.ovl_aio_request_cachep)
            if aio_req:
                step("file_start_write")
                file_start_write(real.file)
                # /* Pacify lockdep, same trick as done in aio_write() */
                step("sb_writers_release")
                sb_writers_release(real.file)
                self.hand_over_fd(aio_req, real)
                step("init_orig_iocb")
                aio_req.orig_iocb = iocb
                step("kiocb_clone", orig_flags_answer(iocb))
                kiocb_clone(aio_req.iocb, iocb,
                            get_file(real.file) if self.GET_FILE else real.file)
                step("set_ki_flags", orig_flags_answer(iocb))
                aio_req.iocb.ki_flags = ifl
                step("set_ki_complete")
                aio_req.iocb.ki_complete = self.ovl_aio_rw_complete
                if self.REFCOUNT:
                    step("refcount_set")
                    aio_req.ref.set(2)
                step("vfs_iocb_iter")
                ret = vfs_iocb_iter_write(real.file, aio_req.iocb, iter)
                if self.REFCOUNT:
                    step("call")
                    self.ovl_aio_put(aio_req)
                step("if_goto")
                if ret != -EIOCBQUEUED:
                    step("call")
                    self.ovl_aio_cleanup_handler(aio_req)
        # out:
        step("fdput")
        fdput(real)
        step("return_")
        return ret


class Ovl516(Ovl56):
    """v5.16 ("ovl: fix use after free in struct ovl_aio_req"): reference count 2, the
    submitter puts after submit, the cleanup puts instead of freeing."""

    name = "ovl-5.16"
    kernel = "5.16"
    REFCOUNT = True
    # v5.15: "ovl: fix IOCB_DIRECT if underlying fs doesn't support direct IO"
    ODIRECT_CHECK = True


class Ovl61(Ovl516):
    """Debian's 6.1.176: v5.16 plus the stable backport of 724768a39374 ("ovl: fix
    incorrect fdput() on aio completion": get_file for the clone, fput in the put) without
    its fix ("ovl: fix file reference leak when submitting aio"): real.flags is still
    cleared, so a real file opened on the fly keeps its reference."""

    name = "ovl-6.1"
    kernel = "6.1"
    GET_FILE = True
    COPYATTR_FIRST = True


# ---- mainline: fs/backing-file.c today ----------------------------------------------

class BackingAio(Checked):
    """struct backing_aio { struct kiocb iocb; refcount_t ref; struct kiocb *orig_iocb;
    void (*end_write)(struct kiocb *, ssize_t); struct work_struct work; long res; }"""

    _embedded = frozenset({"iocb", "work"})
    iocb: Kiocb
    ref: Refcount
    orig_iocb: Kiocb | None
    end_write: Cleanup | None
    work: Work
    res: int

    def __init__(self, shadow: Shadow) -> None:
        super().__init__(shadow)
        self.iocb = Kiocb(shadow, self)
        self.ref = Refcount()
        self.orig_iocb = None
        self.end_write = None
        self.work = Work(shadow, self)
        self.res = 0


class BackingFileCtx:
    """struct backing_file_ctx: the caller's callbacks (and creds, not modelled)."""

    def __init__(self, accessed: Callable[[File], None] | None,
                 end_write: Cleanup | None) -> None:
        self.accessed = accessed
        self.end_write = end_write


class Mainline(Helpers):
    name = "mainline"
    kernel = "6.12"
    callbacks: ClassVar[dict[Kind, dict[Outcome, int]]] = {
        Kind.READ: {Outcome.SUBMITTED: 1, Outcome.ALLOC_FAILED: 1},
        Kind.WRITE: {Outcome.SUBMITTED: 1}}

    def __init__(self, k: Kernel) -> None:
        super().__init__(k)
        self.backing_aio_cachep: KmemCache[BackingAio] = KmemCache(
            "backing_aio", Subject.WRAPPER, BackingAio)

    def caches(self) -> list[KmemCache[Any]]:
        return [self.backing_aio_cachep]

    def ctx(self) -> BackingFileCtx:
        return BackingFileCtx(self.upper.accessed, self.upper.end_write)

    # overlayfs today calls the helpers directly with its real file (borrowed).
    def read_iter(self, iocb: Kiocb, iter: IovIter) -> int:
        real = iocb.ki_filp.private_data
        assert real is not None
        return self.backing_file_read_iter(real, iter, iocb, iocb.ki_flags, self.ctx())

    def write_iter(self, iocb: Kiocb, iter: IovIter) -> int:
        real = iocb.ki_filp.private_data
        assert real is not None
        # int ifl = iocb->ki_flags; the C clears IOCB_DSYNC | IOCB_SYNC on a volatile
        # mount (not this one); backing_file_write_iter clears IOCB_DIO_CALLER_COMP
        ifl = iocb.ki_flags
        return self.backing_file_write_iter(real, iter, iocb, ifl, self.ctx())

    def backing_aio_put(self, aio: BackingAio) -> None:
        step("refcount_dec_and_test")
        if aio.ref.dec_and_test():
            step("fput_clone")
            fput(aio.iocb.ki_filp)
            step("kmem_cache_free")
            kmem_cache_free(self.backing_aio_cachep, aio)

    def backing_aio_cleanup(self, aio: BackingAio, res: int) -> None:
        iocb = aio.iocb
        orig_iocb = aio.orig_iocb
        assert orig_iocb is not None
        # v6.12: aio->end_write(orig_iocb->ki_filp, iocb->ki_pos, res) comes first: the
        # callback gets the clone's position; the original's is updated after it
        step("callback")
        if aio.end_write:
            _ = orig_iocb.ki_filp  # orig_iocb->ki_filp: the original must still be alive
            aio.end_write(iocb, res)
        step("update_pos")
        orig_iocb.ki_pos = iocb.ki_pos
        step("call")
        self.backing_aio_put(aio)

    def backing_aio_rw_complete(self, iocb: Kiocb, res: int) -> None:
        aio: BackingAio = container_of(iocb)
        step("load_orig")
        orig_iocb = aio.orig_iocb
        assert orig_iocb is not None
        step("if_goto")
        if iocb.ki_flags & IOCB_WRITE:
            step("kiocb_end_write")
            kiocb_end_write(iocb)
        step("call")
        self.backing_aio_cleanup(aio, res)
        step("ki_complete")
        assert orig_iocb.ki_complete is not None
        orig_iocb.ki_complete(orig_iocb, res)

    def backing_aio_complete_work(self, work: Work) -> None:
        aio: BackingAio = container_of(work)
        step("load_res")
        res = aio.res
        step("call")
        self.backing_aio_rw_complete(aio.iocb, res)

    def backing_aio_queue_completion(self, iocb: Kiocb, res: int) -> None:
        """Punt to a work queue to call the caller's end_write in task context."""
        aio: BackingAio = container_of(iocb)
        step("store_res")
        aio.res = res
        step("queue_work")
        INIT_WORK(aio.work, self.backing_aio_complete_work)
        orig_iocb = aio.orig_iocb
        assert orig_iocb is not None
        queue_work(orig_iocb.ki_filp.sb.s_dio_done_wq, aio.work)

    def backing_aio_init_wq(self, iocb: Kiocb) -> int:
        sb = iocb.ki_filp.sb
        if sb.s_dio_done_wq:
            _choose(Choice.WQ_OK)
            return 0
        return sb_init_dio_done_wq(sb)

    def _not_backing(self, file: File, iocb: Kiocb) -> bool:
        """WARN_ON_ONCE(!(file->f_mode & FMODE_BACKING)). The caller (the environment)
        may have handed in its own file instead of the backing file."""
        if self.k.env.decide(NOT_BACKING, _current_req()) == NOT_BACKING_YES:
            file = iocb.ki_filp
        refused = not file.f_mode & FMODE_BACKING
        _choose(env_answer(NOT_BACKING, refused))
        if refused:
            self.k.requests[_current_req()].early_error = -EIO
        return refused

    def backing_file_read_iter(self, file: File, iter: IovIter, iocb: Kiocb, flags: int,
                               ctx: BackingFileCtx) -> int:
        step("if_goto")
        if self._not_backing(file, iocb):
            step("return_")
            return -EIO
        step("if_goto", answer(ZERO_LENGTH, not iov_iter_count(iter)))
        if not iov_iter_count(iter):
            step("return_")
            return 0
        step("if_goto", answer(ODIRECT_UNSUPPORTED, odirect_unsupported(iocb, file)))
        if odirect_unsupported(iocb, file):
            step("return_")
            return -EINVAL
        step("if_goto")
        if is_sync_kiocb(iocb):
            step("vfs_iter")
            ret = vfs_iter_read(file, iter, iocb, flags)
            step("goto")
        else:
            step("assign")
            ret = -ENOMEM
            step("kmem_cache_zalloc")
            aio = kmem_cache_zalloc(self.backing_aio_cachep)
            if aio:
                step("init_orig_iocb")
                aio.orig_iocb = iocb
                step("kiocb_clone", orig_flags_answer(iocb))
                kiocb_clone(aio.iocb, iocb, get_file(file))
                step("set_ki_complete")
                aio.iocb.ki_complete = self.backing_aio_rw_complete
                step("refcount_set")
                aio.ref.set(2)
                step("vfs_iocb_iter")
                ret = vfs_iocb_iter_read(file, aio.iocb, iter)
                step("call")
                self.backing_aio_put(aio)
                step("if_goto")
                if ret != -EIOCBQUEUED:
                    step("call")
                    self.backing_aio_cleanup(aio, ret)
        # out:
        step("callback")
        if ctx.accessed:
            ctx.accessed(iocb.ki_filp)
        step("return_")
        return ret

    def backing_file_write_iter(self, file: File, iter: IovIter, iocb: Kiocb, flags: int,
                                ctx: BackingFileCtx) -> int:
        step("if_goto")
        if self._not_backing(file, iocb):
            step("return_")
            return -EIO
        step("if_goto", answer(ZERO_LENGTH, not iov_iter_count(iter)))
        if not iov_iter_count(iter):
            step("return_")
            return 0
        step("file_remove_privs")
        ret = file_remove_privs(iocb.ki_filp)  # ctx->user_file
        step("if_goto")
        if ret:
            step("return_")
            return ret
        step("if_goto", answer(ODIRECT_UNSUPPORTED, odirect_unsupported(iocb, file)))
        if odirect_unsupported(iocb, file):
            step("return_")
            return -EINVAL
        # Stacked filesystems don't support deferred completions: the clone must not
        # carry the issuer's IOCB_DIO_CALLER_COMP (the lower filesystem would complete it
        # with 0, the real result left where nobody looks)
        step("clear_ki_flag")
        flags &= ~IOCB_DIO_CALLER_COMP
        step("if_goto")
        if is_sync_kiocb(iocb):
            step("vfs_iter")
            ret = vfs_iter_write(file, iter, iocb, flags)
            step("callback")
            if ctx.end_write:
                ctx.end_write(iocb, ret)
            step("return_")
            return ret
        step("init_wq")
        ret = self.backing_aio_init_wq(iocb)
        if ret:
            step("return_")
            return ret
        step("assign")
        ret = -ENOMEM
        step("kmem_cache_zalloc")
        aio = kmem_cache_zalloc(self.backing_aio_cachep)
        if not aio:
            step("return_")
            return ret
        step("init_orig_iocb")
        aio.orig_iocb = iocb
        step("init_callback")
        aio.end_write = ctx.end_write
        step("kiocb_clone", orig_flags_answer(iocb))
        kiocb_clone(aio.iocb, iocb, get_file(file))
        step("set_ki_flags", orig_flags_answer(iocb))
        aio.iocb.ki_flags = flags
        step("set_ki_complete")
        aio.iocb.ki_complete = self.backing_aio_queue_completion
        step("refcount_set")
        aio.ref.set(2)
        step("vfs_iocb_iter")
        ret = vfs_iocb_iter_write(file, aio.iocb, iter)
        step("call")
        self.backing_aio_put(aio)
        step("if_goto")
        if ret != -EIOCBQUEUED:
            step("call")
            self.backing_aio_cleanup(aio, ret)
        step("return_")
        return ret


class Ovl612(Mainline):
    """overlayfs's ovl_read_iter/ovl_write_iter of v6.12 around today's helpers (model:
    ``ovl-6.12``): ovl_real_fdget may open the backing file on the fly (FDPUT_FPUT), and
    fdput drops it as soon as the helper returns, while the IO may still be queued; the
    helpers' own get_file on the clone's file is what keeps it alive."""

    name = "ovl-6.12"

    def read_iter(self, iocb: Kiocb, iter: IovIter) -> int:
        step("if_goto", answer(ZERO_LENGTH, not iov_iter_count(iter)))
        if not iov_iter_count(iter):
            step("return_")
            return 0
        ret, real = self.ovl_read_prologue(iocb.ki_filp)
        if real is None:
            return ret
        step("call")
        ret = self.backing_file_read_iter(real.file, iter, iocb, iocb.ki_flags, self.ctx())
        step("fdput")
        fdput(real)
        step("return_")
        return ret

    def write_iter(self, iocb: Kiocb, iter: IovIter) -> int:
        step("if_goto", answer(ZERO_LENGTH, not iov_iter_count(iter)))
        if not iov_iter_count(iter):
            step("return_")
            return 0
        step("fdget")
        ret, real = self.ovl_real_fdget(iocb.ki_filp)
        step("if_goto")
        if ret:
            step("return_")  # out_unlock: inode_unlock(inode); return ret;
            return ret
        assert real is not None
        # ifl &= ~IOCB_DIO_CALLER_COMP; (the caller clears it too, before the helper does)
        step("clear_ki_flag")
        ifl = iocb.ki_flags & ~IOCB_DIO_CALLER_COMP
        step("call")
        ret = self.backing_file_write_iter(real.file, iter, iocb, ifl, self.ctx())
        step("fdput")
        fdput(real)
        step("return_")
        return ret


class Fuse612(Mainline):
    """FUSE passthrough's read_iter/write_iter of v6.12 around today's helpers (model:
    ``fuse-6.12``): the FUSE file holds its backing file for its whole life (borrowed
    here), and the caller's flags go down as they are."""

    name = "fuse-6.12"
    caller = "fuse"

    def read_iter(self, iocb: Kiocb, iter: IovIter) -> int:
        backing_file = iocb.ki_filp.private_data  # fuse_file_passthrough(ff)
        assert backing_file is not None
        step("if_goto", answer(ZERO_LENGTH, not iov_iter_count(iter)))
        if not iov_iter_count(iter):
            step("return_")
            return 0
        step("call")
        ret = self.backing_file_read_iter(backing_file, iter, iocb, iocb.ki_flags, self.ctx())
        step("return_")
        return ret

    def write_iter(self, iocb: Kiocb, iter: IovIter) -> int:
        backing_file = iocb.ki_filp.private_data
        assert backing_file is not None
        step("if_goto", answer(ZERO_LENGTH, not iov_iter_count(iter)))
        if not iov_iter_count(iter):
            step("return_")
            return 0
        step("call")  # inode_lock(inode); ...; inode_unlock(inode);
        ret = self.backing_file_write_iter(backing_file, iter, iocb, iocb.ki_flags,
                                           self.ctx())
        step("return_")
        return ret


# ---- the same pattern under another upper side ----------------------------------------

class LoopCmd(Checked):
    """struct loop_cmd, the block request's pdu: its kiocb, the count of 2 and the result.
    blk-mq allocates it with the request and takes it back at blk_mq_complete_request."""

    _embedded = frozenset({"iocb"})
    iocb: Kiocb
    ref: Refcount
    ret: int
    rq: Kiocb | None

    def __init__(self, shadow: Shadow) -> None:
        super().__init__(shadow)
        self.iocb = Kiocb(shadow, self)
        self.ref = Refcount()
        self.ret = 0
        self.rq = None


class Loop(Helpers):
    """drivers/block/loop.c of v6.12 (model: ``loop``): lo_rw_aio serves a block request
    from the backing file with a kiocb of the driver's own, embedded in the request's pdu.

    The original the upper layer hands in stands for the block request (``struct request``:
    its ki_complete is blk_mq_complete_request's end of the request, IOCB_WRITE its
    REQ_OP_WRITE). The kernel's kiocb always carries IOCB_DIRECT here, on the aligned
    pages of the request's bvecs; this one carries it as the run's request asks, since
    only a direct request's buffers are aligned."""

    name = "loop"
    kernel = "6.12"
    caller = "loop"
    callbacks: ClassVar[dict[Kind, dict[Outcome, int]]] = {}
    shape = Shape.BLOCK
    kinds = (RequestType.READ, RequestType.WRITE)

    def __init__(self, k: Kernel) -> None:
        super().__init__(k)
        self.pdu_cachep: KmemCache[LoopCmd] = KmemCache("loop_cmd", Subject.WRAPPER, LoopCmd)

    def caches(self) -> list[KmemCache[Any]]:
        return [self.pdu_cachep]

    def read_iter(self, iocb: Kiocb, iter: IovIter) -> int:
        return self.lo_rw_aio(self._dispatch(iocb), iter, write=False)

    def write_iter(self, iocb: Kiocb, iter: IovIter) -> int:
        return self.lo_rw_aio(self._dispatch(iocb), iter, write=True)

    def _dispatch(self, rq: Kiocb) -> LoopCmd:
        """blk-mq: the request arrives with its pdu (no step of the driver's)."""
        cmd = self.pdu_cachep.alloc(_current_req())
        cmd.rq = rq
        return cmd

    def lo_rw_aio(self, cmd: LoopCmd, iter: IovIter, write: bool) -> int:
        rq = cmd.rq
        assert rq is not None
        step("refcount_set")
        cmd.ref.set(2)
        step("init_kiocb")
        cmd.iocb.ki_pos = rq.ki_pos
        cmd.iocb.ki_filp = self.k.backing  # lo->lo_backing_file
        cmd.iocb.ki_flags = rq.ki_flags & IOCB_DIRECT
        step("set_ki_complete")
        cmd.iocb.ki_complete = self.lo_rw_aio_complete
        step("if_goto")
        if write:  # rw == ITER_SOURCE
            step("kiocb_start_write")
            kiocb_start_write(cmd.iocb)
            step("f_op_iter")
            ret = f_op_iter(Kind.WRITE, cmd.iocb, iter)
            step("goto")
        else:
            step("f_op_iter")
            ret = f_op_iter(Kind.READ, cmd.iocb, iter)
        step("call")
        self.lo_rw_aio_do_completion(cmd)
        step("if_goto")
        if ret != -EIOCBQUEUED:
            step("call")
            self.lo_rw_aio_complete(cmd.iocb, ret)
        step("return_")
        return -EIOCBQUEUED

    def lo_rw_aio_complete(self, iocb: Kiocb, ret: int) -> None:
        cmd: LoopCmd = container_of(iocb)
        step("store_res")
        cmd.ret = ret
        step("call")
        self.lo_rw_aio_do_completion(cmd)

    def lo_rw_aio_do_completion(self, cmd: LoopCmd) -> None:
        step("load_orig")
        rq = cmd.rq  # blk_mq_rq_from_pdu(cmd)
        assert rq is not None
        step("refcount_dec_and_test")
        if not cmd.ref.dec_and_test():
            return
        step("if_goto")
        if rq.ki_flags & IOCB_WRITE:  # req_op(rq) == REQ_OP_WRITE
            step("kiocb_end_write")
            kiocb_end_write(cmd.iocb)
        step("load_res")
        res = cmd.ret  # lo_complete_rq reads cmd->ret
        step("ki_complete")
        self.blk_mq_complete_request(cmd, rq, res)

    def blk_mq_complete_request(self, cmd: LoopCmd, rq: Kiocb, res: int) -> None:
        """The request ends with the driver's result; it and its pdu go back to blk-mq."""
        assert rq.ki_complete is not None
        rq.ki_complete(rq, res)
        self.pdu_cachep.free(cmd)


class ErofsFileioRq(Checked):
    """struct erofs_fileio_rq { struct bio_vec bvecs[]; struct bio bio; struct kiocb iocb;
    struct super_block *sb; refcount_t ref; }: ``bio`` is the original here."""

    _embedded = frozenset({"iocb"})
    iocb: Kiocb
    ref: Refcount
    bio: Kiocb | None

    def __init__(self, shadow: Shadow) -> None:
        super().__init__(shadow)
        self.iocb = Kiocb(shadow, self)
        self.ref = Refcount()
        self.bio = None


class Erofs(Helpers):
    """fs/erofs/fileio.c of v6.12 (model: ``erofs``): a file-backed mount reads its blocks
    with a bio inside a wrapper of a count of 2 that cannot fail to allocate.

    The original the upper layer hands in stands for the bio the wrapper carries: its
    ki_complete is bio_endio. The submitter returns nothing; to the upper layer that is
    -EIOCBQUEUED (the result comes through the completion, always)."""

    name = "erofs"
    kernel = "6.12"
    caller = "erofs"
    callbacks: ClassVar[dict[Kind, dict[Outcome, int]]] = {}
    shape = Shape.BIO
    kinds = (RequestType.READ,)

    def __init__(self, k: Kernel) -> None:
        super().__init__(k)
        self.rq_cachep: KmemCache[ErofsFileioRq] = KmemCache(
            "erofs_fileio_rq", Subject.WRAPPER, ErofsFileioRq)

    def caches(self) -> list[KmemCache[Any]]:
        return [self.rq_cachep]

    def read_iter(self, iocb: Kiocb, iter: IovIter) -> int:
        step("call")
        rq = self.erofs_fileio_rq_alloc(iocb)
        step("call")
        self.erofs_fileio_rq_submit(rq, iter)
        step("return_")
        return -EIOCBQUEUED  # void: the bio ends in bio_endio

    def write_iter(self, iocb: Kiocb, iter: IovIter) -> int:
        raise AssertionError("erofs is read-only: its variant serves reads only")

    def erofs_fileio_rq_alloc(self, bio: Kiocb) -> ErofsFileioRq:
        step("kzalloc_nofail")
        rq = self.rq_cachep.alloc(_current_req())  # GFP_KERNEL | __GFP_NOFAIL
        step("init_orig_iocb")
        rq.bio = bio  # bio_init(&rq->bio, ...)
        step("init_kiocb")
        rq.iocb.ki_filp = self.k.backing  # mdev->m_dif->file
        rq.iocb.ki_pos = bio.ki_pos
        rq.iocb.ki_flags = bio.ki_flags & IOCB_DIRECT
        step("refcount_set")
        rq.ref.set(2)
        return rq

    def erofs_fileio_rq_submit(self, rq: ErofsFileioRq, iter: IovIter) -> None:
        step("set_ki_complete")
        rq.iocb.ki_complete = self.erofs_fileio_ki_complete
        step("vfs_iocb_iter")
        ret = vfs_iocb_iter_read(rq.iocb.ki_filp, rq.iocb, iter)
        step("if_goto")
        if ret != -EIOCBQUEUED:
            step("call")
            self.erofs_fileio_ki_complete(rq.iocb, ret)
        step("refcount_dec_and_test")
        if rq.ref.dec_and_test():
            step("kmem_cache_free")
            self.rq_cachep.free(rq)  # kfree(rq)

    def erofs_fileio_ki_complete(self, iocb: Kiocb, ret: int) -> None:
        rq: ErofsFileioRq = container_of(iocb)
        step("load_orig")
        bio = rq.bio
        assert bio is not None and bio.ki_complete is not None
        step("ki_complete")
        bio.ki_complete(bio, ret)  # bio_endio(&rq->bio)
        step("refcount_dec_and_test")
        if rq.ref.dec_and_test():
            step("kmem_cache_free")
            self.rq_cachep.free(rq)  # kfree(rq)


IMPLEMENTATIONS: dict[str, type[Helpers]] = {
    c.name: c for c in (Seed, SeedFixed, Ovl56, Ovl516, Ovl61, Mainline, Ovl612, Fuse612,
                        Loop, Erofs)
}
