"""Facts about the kernel the helpers run against: one table, used by the model and by the
reference implementation alike.

A variant names the kernel it runs against (``Variant.kernel``) and the stacked
filesystem that calls it (``Variant.caller``); the environment follows from them:

- who starts and ends freeze protection of an async write (``freeze``): the helper before
  v6.8, ``vfs_iocb_iter_write`` itself from v6.8 on;
- whether the upper layer may hand down ``IOCB_DIO_CALLER_COMP`` (``has_dio_caller_comp``);
- what each of the caller's callbacks calls, and whether that needs process context
  (``needs_process_context``): so CONTEXT is judged from what the code calls, in every
  variant, not from a list the variant's author writes;
- what each kernel function or macro the helpers' C calls does to a request's lifecycle
  (``API``): which statement of the model a call lifts to, or that it has no effect on
  the lifecycle. The C front-end (backing_aio.cfront) reads the C through this table.

Each fact carries its evidence (a commit, or the C line it is read from), so a reader can
check the table against the kernel. This module holds data and lookups only: what a fact
means for a request is the model's business (backing_aio.model.semantics) and, written on
its own, the reference implementation's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import total_ordering
from typing import Final

from backing_aio.vocab import Freeze


class KernelError(ValueError):
    """A kernel version, caller or function the table does not know. One line."""


@total_ordering
@dataclass(frozen=True)
class Kernel:
    """A kernel release, ``major.minor`` (``"6.12"``); point releases do not change what
    the table says."""

    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> Kernel:
        m = re.fullmatch(r"v?(\d+)\.(\d+)(?:[.-].*)?", text.strip()) if isinstance(
            text, str) else None
        if m is None:
            raise KernelError(f"kernel version {text!r} is not major.minor (like '6.12')")
        return cls(int(m.group(1)), int(m.group(2)))

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Kernel):
            return NotImplemented
        return (self.major, self.minor) < (other.major, other.minor)

    def __str__(self) -> str:
        return f"v{self.major}.{self.minor}"


@dataclass(frozen=True)
class Span:
    """The releases a fact holds for: ``since`` included, ``until`` excluded (None: still
    true in the newest release the table knows)."""

    since: Kernel
    until: Kernel | None = None

    def holds(self, k: Kernel) -> bool:
        return self.since <= k and (self.until is None or k < self.until)

    def __str__(self) -> str:
        return f"{self.since}.." + (f"{self.until} (excluded)" if self.until else "")


def _v(text: str) -> Kernel:
    return Kernel.parse(text)


# The oldest and newest releases the table describes: a variant names one in between.
OLDEST: Final = _v("5.6")  # overlayfs's first async IO
NEWEST: Final = _v("6.19")


@dataclass(frozen=True)
class Fact:
    """One fact of the VFS with the releases it holds for and why we believe it."""

    span: Span
    evidence: str


# From v6.8 vfs_iocb_iter_write starts freeze protection itself, after rw_verify_area,
# and ends it unless the IO was queued; the caller ends it only in the queued completion.
CALLEE_FREEZE: Final = Fact(
    Span(_v("6.8")),
    "6ae654392bb5 fs: move kiocb_start_write() into vfs_iocb_iter_write() (v6.8): 'the "
    "caller is responsible for calling kiocb_end_write() on completion only if async "
    "iocb was queued'",
)

# The upper layer (io_uring) may set IOCB_DIO_CALLER_COMP on an async write. iomap then
# completes a queued write by calling ki_complete(iocb, 0) and leaves the real
# completion (iocb->dio_complete) to the issuer.
DIO_CALLER_COMP: Final = Fact(
    Span(_v("6.6"), _v("6.19")),
    "8c052fb3002e iomap: support IOCB_DIO_CALLER_COMP (v6.6); io_uring set it on async "
    "writes in v6.6-rc1..rc7 (838b35bb6a89 stopped before v6.6), and the interface lets any "
    "issuer set it until v6.19 removed it, so the helpers clear it 'in case it is set by "
    "the issuer' (fs/backing-file.c:237 in v6.12); 2d1b3bbc3dd5 ovl: disable "
    "IOCB_DIO_CALLER_COMP (v6.6): the write 'will complete with \"0\" as the result'",
)


def freeze(k: Kernel) -> Freeze:
    """Who owns freeze protection of an async write on kernel ``k``."""
    return Freeze.CALLEE if CALLEE_FREEZE.span.holds(k) else Freeze.CALLER


def has_dio_caller_comp(k: Kernel) -> bool:
    """Whether an original kiocb may carry IOCB_DIO_CALLER_COMP on kernel ``k``."""
    return DIO_CALLER_COMP.span.holds(k)


@dataclass(frozen=True)
class Function:
    """A kernel function a callback calls, with its context facts.

    ``process_only`` is the releases in which it may sleep or takes a lock that is not
    irq-safe, so it must not run in irq or softirq completion context; ``calls`` the
    functions of this table it calls in every release (its facts include theirs)."""

    name: str
    process_only: Span | None
    why: str
    evidence: str
    calls: tuple[str, ...] = ()


FUNCTIONS: Final[dict[str, Function]] = {f.name: f for f in (
    Function(
        "touch_atime", Span(OLDEST),
        "may sleep: takes mnt write access and updates the inode (journal)",
        "fs/inode.c touch_atime(): mnt_get_write_access(), inode_update_time()",
    ),
    Function(
        "file_remove_privs", Span(OLDEST),
        "may sleep: clears the setuid bits through notify_change(), under the inode lock",
        "fs/inode.c file_remove_privs() -> file_remove_privs_flags() -> __remove_privs() -> "
        "notify_change()",
    ),
    Function(
        "ovl_file_accessed", None,
        "copies the real inode's times, then touch_atime()",
        "fs/overlayfs/file.c ovl_file_accessed()", calls=("touch_atime",),
    ),
    Function(
        "ovl_copyattr", Span(_v("6.7")),
        "from v6.7 copies the real inode's size and times under spin_lock(&inode->i_lock), "
        "which is not irq-safe; before, plain stores",
        "f7621b11e8ac (v6.7) takes inode->i_lock in ovl_copyattr(), after 389a4a4a1985 ovl: "
        "punt write aio completion to workqueue (v6.7); fs/overlayfs/util.c ovl_copyattr()",
    ),
    Function(
        "ovl_file_modified", None, "updates the overlay inode after a write",
        "fs/overlayfs/file.c ovl_file_modified(): ovl_copyattr(file_inode(file))",
        calls=("ovl_copyattr",),
    ),
    Function(
        "fuse_write_update_attr", Span(_v("6.9")),
        "takes spin_lock(&fi->lock), which is not irq-safe, to update the inode's size and "
        "attr_version (v6.9: FUSE passthrough)",
        "fs/fuse/file.c (v6.12) fuse_write_update_attr(): spin_lock(&fi->lock); "
        "i_size_write(); spin_unlock(&fi->lock)",
    ),
    Function(
        "fuse_passthrough_end_write", None, "the end_write callback FUSE passthrough passes "
        "in its ctx", "fs/fuse/passthrough.c (v6.12) fuse_passthrough_end_write(): "
        "fuse_write_update_attr()", calls=("fuse_write_update_attr",),
    ),
    Function(
        "fuse_file_accessed", None, "marks the atime stale: set_mask_bits() on the inode's "
        "inval_mask, an atomic (irq-safe)",
        "fs/fuse/passthrough.c (v6.12) fuse_file_accessed() -> fs/fuse/dir.c "
        "fuse_invalidate_atime() -> fuse_invalidate_attr_mask()",
    ),
    Function(
        "ovl_file_end_write", None, "the end_write callback overlayfs passes in its ctx",
        "fs/overlayfs/file.c ovl_file_end_write(): ovl_file_modified()",
        calls=("ovl_file_modified",),
    ),
)}


@dataclass(frozen=True)
class Caller:
    """A filesystem that calls the helpers: which function each of its callback slots
    names (``slots``), the C of its read_iter/write_iter and what it sets up at mount.
    ``per_kind``: the callbacks it hands over for a request of each kind (a slot, a
    function of the table, or its own callback procedure); another one running for that
    kind breaks the callback contract. Empty: no callbacks."""

    name: str
    slots: dict[str, str]
    evidence: str
    per_kind: dict[str, frozenset[str]] = field(default_factory=dict)
    # what it passes for a callback parameter of the helpers (the seed's ``cleanup``)
    passes: dict[str, str] = field(default_factory=dict)

    @property
    def direct_calls(self) -> frozenset[str]:
        """The kernel functions of the table it calls itself after the IO, as the callback
        of a request's kind (overlayfs's ovl_copyattr() up to v6.7)."""
        return frozenset(f for fs in self.per_kind.values() for f in fs if f in API)


CALLERS: Final[dict[str, Caller]] = {c.name: c for c in (
    Caller(
        "overlayfs",
        # The seed's single callback, ovl_rw_complete, branches on the original kiocb's
        # flags: the catalogue writes it out as a procedure (its kcall statements).
        {"end_write": "ovl_file_end_write", "accessed": "ovl_file_accessed"},
        "fs/overlayfs/file.c ovl_read_iter()/ovl_write_iter(): backing_file_ctx "
        "{.accessed = ovl_file_accessed, .end_write = ovl_file_end_write}",
        # v6.8+: ctx.accessed for a read, ctx.end_write for a write (ovl_read_iter and
        # ovl_write_iter each fill one); v5.6..v6.7: ovl_file_accessed() after a read,
        # ovl_copyattr() after a write; the seed: ovl_rw_complete for both
        {"read": frozenset({"accessed", "ovl_file_accessed", "ovl_rw_complete"}),
         "write": frozenset({"end_write", "ovl_copyattr", "ovl_rw_complete"})},
        # the seed: backing_file_read_iter(real.file, iter, iocb, flags, ovl_rw_complete)
        {"cleanup": "ovl_rw_complete"},
    ),
    Caller(
        "fuse",
        {"end_write": "fuse_passthrough_end_write", "accessed": "fuse_file_accessed"},
        "fs/fuse/passthrough.c (v6.12) fuse_passthrough_read_iter()/write_iter(): "
        "backing_file_ctx {.accessed = fuse_file_accessed, .end_write = "
        "fuse_passthrough_end_write}",
        {"read": frozenset({"accessed"}), "write": frozenset({"end_write"})},
    ),
    # The block and bio shapes have no callback slots: their completion calls only what
    # may run in irq context (kiocb_end_write, blk_mq_complete_request, bio_endio, kfree).
    Caller(
        "loop",
        {},
        "drivers/block/loop.c (v6.12) lo_rw_aio(), lo_rw_aio_complete(), "
        "lo_rw_aio_do_completion()",
    ),
    Caller(
        "erofs",
        {},
        "fs/erofs/fileio.c (v6.12) erofs_fileio_rq_alloc(), erofs_fileio_rq_submit(), "
        "erofs_fileio_ki_complete()",
    ),
)}


def caller(name: str) -> Caller:
    got = CALLERS.get(name)
    if got is None:
        raise KernelError(f"unknown caller {name!r} (known: {', '.join(CALLERS)})")
    return got


def function(name: str) -> Function:
    got = FUNCTIONS.get(name)
    if got is None:
        raise KernelError(f"unknown kernel function {name!r} (known: {', '.join(FUNCTIONS)})")
    return got


def resolve(caller_name: str, callee: str) -> Function:
    """The function a callback of ``caller_name`` runs: a slot of the caller
    (``end_write``) or a function of the table by name (``ovl_copyattr``)."""
    slots = caller(caller_name).slots
    return function(slots.get(callee, callee))


def needs_process_context(f: Function, k: Kernel) -> list[Function]:
    """The chain from ``f`` to the first function that needs process context on kernel
    ``k`` (empty: ``f`` may run in irq context)."""
    if f.process_only is not None and f.process_only.holds(k):
        return [f]
    for name in f.calls:
        chain = needs_process_context(function(name), k)
        if chain:
            return [f, *chain]
    return []


# ---- the kernel API the helpers' C calls --------------------------------------------

@dataclass(frozen=True)
class Api:
    """A function or macro the helpers' C calls, and what it does to a request.

    ``lifts`` is the model statement a call lifts to (``"kiocb_clone"``), or None when the
    call has no effect on the lifecycle (credentials, flag arithmetic): the C front-end
    lists those, it does not drop them silently. ``context`` names the entry of
    ``FUNCTIONS`` whose context facts the call has, if any."""

    name: str
    lifts: str | None
    effect: str
    evidence: str
    context: str | None = None
    # what it runs reads the result the completion stored first (lo_complete_rq, run by
    # blk_mq_complete_request, reads cmd->ret): a load_res before the statement
    reads_res: bool = False
    # it reaches the original through the wrapper (bio_endio(&rq->bio): the bio is the
    # wrapper's own): a load_orig before the statement
    reads_orig: bool = False


API: Final[dict[str, Api]] = {a.name: a for a in (
    Api("kmem_cache_zalloc", "kmem_cache_zalloc", "allocates the wrapper, zeroed; may fail",
        "mm/slab.h kmem_cache_zalloc()"),
    Api("kzalloc", "kzalloc_nofail", "allocates the wrapper, zeroed (__GFP_NOFAIL: never "
        "fails)", "include/linux/slab.h kzalloc()"),
    Api("kmem_cache_free", "kmem_cache_free", "frees the wrapper", "mm/slub.c"),
    Api("kfree", "kmem_cache_free", "frees the wrapper", "mm/slub.c"),
    Api("refcount_set", "refcount_set", "sets the wrapper's count",
        "include/linux/refcount.h"),
    Api("refcount_inc", "refcount_inc", "takes a reference on the wrapper",
        "include/linux/refcount.h"),
    Api("refcount_dec_and_test", "refcount_dec_and_test", "drops a reference; true for the "
        "last", "include/linux/refcount.h"),
    Api("atomic_set", "refcount_set", "sets the command's count (an atomic_t used as a "
        "reference count)", "include/linux/atomic/atomic-instrumented.h"),
    Api("atomic_dec_and_test", "refcount_dec_and_test", "drops a reference; true for the "
        "last", "include/linux/atomic/atomic-instrumented.h"),
    Api("kiocb_clone", "kiocb_clone", "the clone takes the original's ki_flags, ki_pos, "
        "ki_ioprio and the file it is given", "include/linux/fs.h kiocb_clone()"),
    Api("get_file", "get_file", "takes a reference on a file", "include/linux/fs.h"),
    Api("fput", "fput_clone", "drops a reference on a file", "fs/file_table.c fput()"),
    Api("fdput", "fdput", "drops the struct fd's file if it holds it (FDPUT_FPUT)",
        "include/linux/file.h fdput()"),
    Api("ovl_real_fdget", "fdget", "overlayfs: the real file, borrowed or opened on the fly "
        "(FDPUT_FPUT); may fail", "fs/overlayfs/file.c ovl_real_fdget()"),
    Api("file_start_write", "file_start_write", "starts freeze protection (sb_start_write)",
        "include/linux/fs.h file_start_write()"),
    Api("file_end_write", "file_end_write", "ends freeze protection (sb_end_write)",
        "include/linux/fs.h file_end_write()"),
    Api("kiocb_start_write", "kiocb_start_write", "starts freeze protection for a kiocb and "
        "tells lockdep it is handed on", "include/linux/fs.h kiocb_start_write()"),
    Api("kiocb_end_write", "kiocb_end_write", "ends freeze protection handed on with a "
        "kiocb", "include/linux/fs.h kiocb_end_write()"),
    Api("__sb_writers_release", "sb_writers_release", "tells lockdep the submitter no "
        "longer holds freeze protection (it is handed on with the kiocb)",
        "include/linux/fs.h __sb_writers_release()"),
    Api("__sb_writers_acquired", "kiocb_end_write", "tells lockdep this context holds the "
        "protection handed on; with the file_end_write() right after it, kiocb_end_write() "
        "open-coded (overlayfs up to v6.5)", "include/linux/fs.h __sb_writers_acquired()"),
    Api("vfs_iter_read", "vfs_iter", "a synchronous read of the backing file",
        "fs/read_write.c vfs_iter_read()"),
    Api("vfs_iter_write", "vfs_iter", "a synchronous write of the backing file (from v6.8 "
        "under freeze protection it takes itself)", "fs/read_write.c vfs_iter_write()"),
    Api("vfs_iocb_iter_read", "vfs_iocb_iter", "submits the clone to the lower filesystem",
        "fs/read_write.c vfs_iocb_iter_read()"),
    Api("vfs_iocb_iter_write", "vfs_iocb_iter", "submits the clone to the lower filesystem "
        "(from v6.8 it starts freeze protection, and ends it unless queued)",
        "fs/read_write.c vfs_iocb_iter_write()"),
    Api("file_remove_privs", "file_remove_privs", "clears setuid bits; may fail",
        "fs/inode.c file_remove_privs()", context="file_remove_privs"),
    Api("queue_work", "queue_work", "queues the wrapper's work on a workqueue",
        "kernel/workqueue.c queue_work()"),
    Api("INIT_WORK", "queue_work", "prepares the wrapper's work item (lifted with the "
        "queue_work that follows it)", "include/linux/workqueue.h INIT_WORK()"),
    Api("sb_init_dio_done_wq", "init_wq", "sets up the superblock's s_dio_done_wq once; may "
        "fail", "fs/direct-io.c sb_init_dio_done_wq()"),
    Api("override_creds", None, "switches the task's credentials (the backing file's "
        "mounter's): no effect on the lifecycle", "kernel/cred.c override_creds()"),
    Api("revert_creds", None, "switches the credentials back: no effect on the lifecycle",
        "kernel/cred.c revert_creds()"),
    Api("ovl_override_creds", None, "overlayfs's override_creds(): no effect on the "
        "lifecycle", "fs/overlayfs/util.c ovl_override_creds()"),
    Api("ovl_iocb_to_rwf", None, "overlayfs's kiocb flags as RWF_* flags: arithmetic",
        "fs/overlayfs/file.c ovl_iocb_to_rwf()"),
    Api("iocb_to_rw_flags", None, "the kiocb flags as RWF_* flags: arithmetic",
        "fs/backing-file.c iocb_to_rw_flags()"),
    Api("file_inode", None, "the file's inode: a pointer read", "include/linux/fs.h"),
    Api("fuse_file_passthrough", None, "the backing file the FUSE file holds open for its "
        "whole life (borrowed, as the helpers' file)", "fs/fuse/passthrough.c"),
    Api("pr_debug", None, "a debug message", "include/linux/printk.h"),
    Api("blk_mq_rq_from_pdu", "load_orig", "the block request whose pdu the command is: "
        "pointer arithmetic (a step only where a call comes before its use)",
        "include/linux/blk-mq.h blk_mq_rq_from_pdu()"),
    Api("blk_mq_complete_request", "ki_complete", "completes the block request (its "
        "->complete, lo_complete_rq, reads cmd->ret); the pdu goes back to blk-mq",
        "block/blk-mq.c blk_mq_complete_request()", reads_res=True),
    Api("bio_endio", "ki_complete", "ends the bio in the wrapper: erofs's upper side sees "
        "its pages read", "block/bio.c bio_endio()", reads_orig=True),
    Api("bio_init", "init_orig_iocb", "sets up the bio in the wrapper (the original of the "
        "bio shape)", "block/bio.c bio_init()"),
    Api("bio_uninit", None, "frees the bio's integrity and crypt contexts; the bio lives in "
        "the wrapper, which the completion still holds", "block/bio.c bio_uninit()"),
    Api("iov_iter_bvec", None, "points the iterator at the request's pages: no effect on "
        "the lifecycle", "lib/iov_iter.c iov_iter_bvec()"),
    Api("req_get_ioprio", None, "the request's IO priority: a read",
        "include/linux/blk-mq.h req_get_ioprio()"),
    Api("get_current_ioprio", None, "the task's IO priority: a read",
        "include/linux/ioprio.h get_current_ioprio()"),
    Api("inode_lock", None, "the overlay inode's rwsem, taken in the submitter (process "
        "context): no effect on the lifecycle", "include/linux/fs.h inode_lock()"),
    Api("inode_unlock", None, "releases it", "include/linux/fs.h inode_unlock()"),
    Api("ovl_copyattr", "kcall", "copies the real inode's size and times (CONTEXT where it "
        "runs)", "fs/overlayfs/util.c ovl_copyattr()", context="ovl_copyattr"),
    Api("ovl_file_accessed", "kcall", "updates the overlay file's atime (CONTEXT where it "
        "runs)", "fs/overlayfs/file.c ovl_file_accessed()", context="ovl_file_accessed"),
)}

# The model's conditions, as the C writes them: the text of an ``if`` condition with the
# request's objects named by their roles (ORIG the original kiocb, CLONE the wrapper's
# kiocb, FILE the backing file, RET the return value), spaces removed.
CONDITIONS: Final[dict[str, str]] = {
    "rw==ITER_SOURCE": "req_write",  # lo_rw_aio(lo, cmd, pos, ITER_SOURCE) for a write
    "req_op(ORIG)==REQ_OP_WRITE": "req_write",
    "!iov_iter_count(iter)": "zero_length",
    "!COUNT": "zero_length",  # size_t count = iov_iter_count(iter); if (!count)
    "ORIG->ki_flags&IOCB_DIRECT&&!(FILE->f_mode&FMODE_CAN_ODIRECT)": "odirect_unsupported",
    "is_sync_kiocb(ORIG)": "sync_kiocb",
    "WARN_ON_ONCE(!(FILE->f_mode&FMODE_BACKING))": "not_backing",
    "RET!=-EIOCBQUEUED": "!queued",
    "RET==-EIOCBQUEUED": "queued",
    "RET": "error",
    "CLONE->ki_flags&IOCB_WRITE": "write",
    "W->is_write": "is_write",
    "ORIG->ki_flags&IOCB_WRITE": "orig_write",
}


@dataclass(frozen=True)
class Assumption:
    """A condition of the C the model does not branch on, and why: ``taken`` True or False
    for one the pattern's path always takes or never takes; None for a branch whose both
    sides handle data outside the lifecycle (the C front-end lists each such branch)."""

    taken: bool | None
    why: str
    # the functions it holds in (empty: wherever the condition is written so)
    functions: frozenset[str] = frozenset()

    def holds_in(self, function: str) -> bool:
        return not self.functions or function in self.functions


ASSUMED: Final[dict[str, Assumption]] = {
    "W->use_aio": Assumption(True, "the loop device's direct-IO mode, where lo_rw_aio is "
                             "asynchronous (with use_aio clear, ki_complete is NULL and the "
                             "IO synchronous: not this pattern)"),
    "likely(!blk_should_fake_timeout(ORIG->q))": Assumption(
        True, "request-timeout fault injection (CONFIG_FAIL_IO_TIMEOUT) is off"),
    "!W": Assumption(False, "erofs submits the request it allocated (a NULL one, when "
                     "nothing was allocated, returns at once: no request)",
                     frozenset({"erofs_fileio_rq_submit"})),
    "RET>=0&&RET!=W->bio.bi_iter.bi_size": Assumption(
        None, "a short read made -EIO: the bio's status, which the bio shape does not hand "
        "back (its upper side reads the pages)"),
    "!W->bio.bi_end_io": Assumption(
        None, "how the bio's pages are ended: erofs's own folios, or the bio's bi_end_io "
        "with its status; the upper side's data, not the lifecycle"),
    "ORIG->bio!=ORIG->biotail": Assumption(
        None, "the bvec array of a multi-bio request: kmalloc_array (on failure -EIO before "
        "the count is set, and loop_handle_cmd completes the request) and freed with the "
        "last reference; data, not the lifecycle"),
}

# Expressions that are the backing file in code that does not take it as a parameter.
BACKING_FILES: Final[dict[str, str]] = {
    "lo->lo_backing_file": "the loop device's backing file, open while the device is bound "
    "(drivers/block/loop.c)",
}

# Iteration macros the C front-end reads as a loop (``for``): their bodies are lifted or
# accounted like any other, and may not touch the lifecycle.
ITERATORS: Final[dict[str, str]] = {
    "rq_for_each_bvec": "each segment of a block request (include/linux/blk-mq.h)",
    "bio_for_each_folio_all": "each folio of a bio (include/linux/bio.h)",
}

# Scope macros: a statement run once inside a guard that has no effect on the lifecycle
# (read as a ``for`` too, by the kernel's own definition: a for loop run once with a
# cleanup); their statement is lifted as if it stood alone.
SCOPES: Final[dict[str, str]] = {
    "scoped_with_creds": "the task's credentials switched for its statement "
    "(include/linux/cred.h, v6.18: override_creds()/revert_creds() around it)",
    "scoped_guard": "a lock guard around its statement (include/linux/cleanup.h)",
}

# Every macro that starts a statement and takes one after it, as C cannot parse it.
STATEMENT_MACROS: Final[frozenset[str]] = frozenset(ITERATORS) | frozenset(SCOPES)
