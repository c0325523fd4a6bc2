"""Facts about the kernel the helpers run against: one table, used by the model and by the
reference implementation alike.

A variant names the kernel it runs against (``Variant.kernel``) and the stacked
filesystem that calls it (``Variant.caller``); the environment follows from them:

- who starts and ends freeze protection of an async write (``freeze``): the helper before
  v6.8, ``vfs_iocb_iter_write`` itself from v6.8 on;
- whether the upper layer may hand down ``IOCB_DIO_CALLER_COMP`` (``has_dio_caller_comp``);
- what each of the caller's callbacks calls, and whether that needs process context
  (``needs_process_context``): so CONTEXT is judged from what the code calls, in every
  variant, not from a list the variant's author writes.

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
