"""The statement language in which a variant of the backing-file helpers is written.

A variant is data: named procedures, each a list of statements, one statement per atomic
step of the C code it stands for. Each operation is a small frozen dataclass (``RefcountSet``,
``IfGoto`` ...) whose fields are its arguments; ``stmt()`` builds one from the operation's
name, as variants are written. The state machine in ``backing_aio.model.semantics`` gives
every operation its meaning; this module only says what operations exist, what arguments
they take, and checks that a variant is well formed (every jump lands, every call has a
callee). Misuse fails here, early, with a one-line ``VariantError``.

Each statement keeps a ``label`` (usually the C line it stands for) for every output, and
may carry a ``tag``: the name a jump uses to reach it (the C label, like ``out``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from enum import Enum, IntEnum
from typing import Any, ClassVar, Final, dataclass_transform

from backing_aio import kapi
from backing_aio.vocab import KINDS, OUTCOMES, REQUEST_TYPES, SHAPES, Shape


class VariantError(ValueError):
    """A variant (or a statement in it) is malformed. The message is one line."""


class Val(IntEnum):
    """Abstract values a return register can hold.

    The lower filesystem's result is either OK (a byte count, possibly short) or ERR (a
    negative errno of its own); the helpers never look inside either, so two values are
    enough to see whether a result travels unchanged to the caller. ERR is also the error
    of any other call that may fail with an errno the caller must see (ovl_real_fdget,
    file_remove_privs, the helpers' WARN_ON_ONCE -EIO).
    """

    NONE = 0  # nothing assigned yet
    ZERO = 1  # 0 (also what kmem_cache_zalloc leaves in a field)
    OK = 2  # the lower filesystem's byte count
    ERR = 3  # the lower filesystem's negative errno
    QUEUED = 4  # -EIOCBQUEUED
    ENOMEM = 5
    EINVAL = 6


VALUE_SPELLING: Final[dict[str, Val]] = {
    "0": Val.ZERO,
    "-EIO": Val.ERR,  # the helpers' own -EIO (WARN_ON_ONCE): an error like the others
    "-EIOCBQUEUED": Val.QUEUED,
    "-ENOMEM": Val.ENOMEM,
    "-EINVAL": Val.EINVAL,
}
VALUE_NAME: Final[dict[Val, str]] = {
    Val.NONE: "unset",
    Val.ZERO: "0",
    Val.OK: "RES",
    Val.ERR: "-EIO",
    Val.QUEUED: "-EIOCBQUEUED",
    Val.ENOMEM: "-ENOMEM",
    Val.EINVAL: "-EINVAL",
}
def value_name(x: int) -> str:
    """How a value reads in messages (any int: unreachable states may hold anything)."""
    if not isinstance(x, int):  # a symbolic value (backing_aio.verify.symbolic): not worth a fork
        return "a value"
    try:
        return VALUE_NAME[Val(x)]
    except ValueError:
        return f"value {int(x)}"


NEGATIVE: Final[frozenset[Val]] = frozenset({Val.ERR, Val.QUEUED, Val.ENOMEM, Val.EINVAL})

# Conditions a branch may test. The environment decides the ones about the request
# (``sync_kiocb``, ``zero_length``, ``odirect_unsupported``) the first time they are asked,
# and keeps the answer for the rest of the request.
CONDITIONS: Final[dict[str, str]] = {
    "queued": "ret == -EIOCBQUEUED",
    "error": "ret < 0",
    "sync_kiocb": "is_sync_kiocb(iocb)",
    "zero_length": "!iov_iter_count(iter)",
    "odirect_unsupported": "iocb->ki_flags & IOCB_DIRECT && !(file->f_mode & FMODE_CAN_ODIRECT)",
    "not_backing": "WARN_ON_ONCE(!(file->f_mode & FMODE_BACKING))",
    "write": "aio->iocb.ki_flags & IOCB_WRITE",
    "is_write": "aio->is_write",
    "req_write": "req_op(rq) == REQ_OP_WRITE",
    "orig_write": "orig_iocb->ki_flags & IOCB_WRITE",
}

END: Final[str] = "END"  # jump target meaning "leave this procedure" (not in entry procedures)


class Arg(Enum):
    """What an argument of a statement holds (how it is checked)."""

    TAG = "tag"  # a jump target in the same procedure (or END)
    PROC = "proc"  # a procedure of the variant
    INT = "int"
    BOOL = "bool"
    COND = "cond"  # a name in CONDITIONS, '!' negates
    VALUE = "value"  # "ret" or a name in VALUE_SPELLING
    VIA = "via"  # one of VIAS
    NAME = "name"  # a name checked against the variant's caller (a callback's function)
    FLAG = "flag"  # one of KIOCB_FLAGS
    OF = "of"  # one of FLAG_HOLDERS
    SB = "sb"  # one of SUPERBLOCKS


# How a callback is reached: through the wrapper (aio->end_write), by a direct call, or
# through the caller's ctx (ctx->end_write), which lives on the caller's stack.
VIAS: Final[tuple[str, ...]] = ("wrapper", "direct", "ctx")
# The kiocb flags a rule of the model depends on (the others stay outside the state).
KIOCB_FLAGS: Final[tuple[str, ...]] = ("IOCB_DIO_CALLER_COMP", "IOCB_WRITE")
# Where a flag is cleared: the ``flags`` the caller passes down, or the clone's ki_flags.
FLAG_HOLDERS: Final[tuple[str, ...]] = ("flags", "clone")
# Whose s_dio_done_wq: the stacked filesystem's superblock (file_inode(orig->ki_filp)->i_sb)
# or the backing file's (file_inode(aio->iocb.ki_filp)->i_sb).
SUPERBLOCKS: Final[tuple[str, ...]] = ("upper", "lower")
_ONE_OF: Final[dict[Arg, tuple[str, ...]]] = {
    Arg.VIA: VIAS, Arg.FLAG: KIOCB_FLAGS, Arg.OF: FLAG_HOLDERS, Arg.SB: SUPERBLOCKS,
}


def _arg(kind: Arg, *, default: Any = MISSING) -> Any:
    """An argument of an operation: a field of its statement class, checked as ``kind``."""
    return field(default=default, metadata={"arg": kind})


@dataclass_transform(kw_only_default=True, frozen_default=True, field_specifiers=(_arg,))
@dataclass(frozen=True)
class Stmt:
    """One atomic step: a statement of the C code, one subclass per operation.

    ``label`` is the C line it stands for (in every output); ``tag`` the name a jump uses
    to reach it (the C label, like ``out``). Each subclass names its operation in ``op``
    (the spelling of ``stmt()``, of mutant names and of the reference implementation's
    events) and holds the operation's arguments as fields, checked on construction."""

    label: str
    tag: str | None = None

    op: ClassVar[str] = ""
    doc: ClassVar[str] = ""
    # The statement sets a field to a value and counts nothing: a loop through only such
    # statements revisits the same states, so it can spin (TERMINATES judges that) but
    # never grow the state. Every other statement counts something (a reference, a
    # callback run, freeze protection, a stack frame) and could count without bound inside
    # a loop. An operation added later is not repeatable until someone decides otherwise:
    # the safe default.
    repeatable: ClassVar[bool] = False
    # Control goes on to the next statement after this one (not after goto or return).
    falls_through: ClassVar[bool] = True

    def __init_subclass__(cls, *, op: str, repeatable: bool = False,
                          falls_through: bool = True) -> None:
        """Declare an operation: ``class RefcountSet(Stmt, op="refcount_set")``, its C in
        the docstring, its arguments as fields."""
        super().__init_subclass__()
        cls.op, cls.doc = op, (cls.__doc__ or "")
        cls.repeatable, cls.falls_through = repeatable, falls_through
        dataclass(frozen=True, kw_only=True)(cls)

    def __post_init__(self) -> None:
        _check_head(self.op, self.label, self.tag)
        for f in _arg_fields(type(self)):
            _check_arg(self.op, self.label, f, getattr(self, f.name))

    @property
    def args(self) -> tuple[tuple[str, Any], ...]:
        """The operation's arguments by name, in order."""
        return tuple((f.name, getattr(self, f.name)) for f in _arg_fields(type(self)))

    def jump_targets(self) -> tuple[str, ...]:
        """The tags this statement may jump to."""
        return tuple(getattr(self, f.name) for f in _arg_fields(type(self))
                     if f.metadata["arg"] is Arg.TAG)

    def callee(self) -> str | None:
        """The procedure this statement names (calls, or installs as a completion or a
        work item), if any."""
        for f in _arg_fields(type(self)):
            if f.metadata["arg"] is Arg.PROC:
                return str(getattr(self, f.name))
        return None

    def named(self, op: str) -> bool:
        """Is this the statement another implementation's event ``op`` names?"""
        return self.op == op

    def render(self) -> str:
        """A short, stable spelling used in outputs and mutant names."""
        shown = ", ".join(f"{k}={v}" for k, v in self.args if v is not None)
        return f"{self.op}({shown})"


def _arg_fields(cls: type[Stmt]) -> tuple[Field[Any], ...]:
    got = _ARG_FIELDS.get(cls)
    if got is None:
        got = _ARG_FIELDS[cls] = tuple(f for f in fields(cls) if "arg" in f.metadata)
    return got


_ARG_FIELDS: dict[type[Stmt], tuple[Field[Any], ...]] = {}


def _check_head(op: str, label: object, tag: object) -> None:
    if not isinstance(label, str) or not label:
        raise VariantError(f"statement {op} needs a non-empty label")
    if tag is not None and (not isinstance(tag, str) or not tag):
        raise VariantError(f"statement {op} ({label!r}): tag must be a name")


def _check_arg(op: str, label: str, f: Field[Any], value: Any) -> None:
    where = f"statement {op} ({label!r}): argument {f.name!r}"
    kind: Arg = f.metadata["arg"]
    if value is None and f.default is None:
        return  # an optional argument left out
    if kind in (Arg.TAG, Arg.PROC):
        if not isinstance(value, str) or not value:
            raise VariantError(f"{where} must be a name, got {value!r}")
    elif kind is Arg.INT:
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 8:
            raise VariantError(f"{where} must be an integer 0..8, got {value!r}")
    elif kind is Arg.BOOL:
        if not isinstance(value, bool):
            raise VariantError(f"{where} must be True or False, got {value!r}")
    elif kind is Arg.COND:
        name = value[1:] if isinstance(value, str) and value.startswith("!") else value
        if name not in CONDITIONS:
            raise VariantError(
                f"{where}: unknown condition {value!r} (known: {', '.join(CONDITIONS)})"
            )
    elif kind is Arg.VALUE:
        if value != "ret" and value not in VALUE_SPELLING:
            known = ", ".join(["ret", *VALUE_SPELLING])
            raise VariantError(f"{where}: unknown value {value!r} (known: {known})")
    elif kind in _ONE_OF:
        if value not in _ONE_OF[kind]:
            raise VariantError(
                f"{where} must be one of {', '.join(_ONE_OF[kind])}, got {value!r}")
    elif kind is Arg.NAME:
        if not isinstance(value, str) or not value:
            raise VariantError(f"{where} must be a name, got {value!r}")
    else:  # pragma: no cover - Arg is closed
        raise AssertionError(kind)


# ---- wrapper memory and fields -----------------------------------------------------------
class KmemCacheZalloc(Stmt, op="kmem_cache_zalloc"):
    """allocate the zeroed wrapper; may fail (goto on_fail)"""

    on_fail: str = _arg(Arg.TAG)


class KzallocNofail(Stmt, op="kzalloc_nofail"):
    """allocate the zeroed wrapper with __GFP_NOFAIL: it cannot fail"""


class KmemCacheFree(Stmt, op="kmem_cache_free"):
    """free the wrapper"""


class InitOrigIocb(Stmt, op="init_orig_iocb", repeatable=True):
    """aio->orig_iocb = iocb"""


class InitCallback(Stmt, op="init_callback", repeatable=True):
    """aio->cleanup = the caller's callback"""


class InitIsWrite(Stmt, op="init_is_write", repeatable=True):
    """aio->is_write = true (the wrapper says it serves a write, whatever the clone's flags)"""


class SetKiFlags(Stmt, op="set_ki_flags", repeatable=True):
    """aio->iocb.ki_flags = flags (keeps IOCB_WRITE of a write)"""


class ClearKiFlag(Stmt, op="clear_ki_flag", repeatable=True):
    """flags &= ~FLAG (the flags passed down) or aio->iocb.ki_flags &= ~FLAG (the clone)"""

    flag: str = _arg(Arg.FLAG)
    of: str = _arg(Arg.OF)


class InitKiocb(Stmt, op="init_kiocb", repeatable=True):
    """iocb.ki_filp = file; iocb.ki_flags = IOCB_DIRECT: a kiocb of the caller's own, not a
    clone of an original (no IOCB_WRITE, no IOCB_DIO_CALLER_COMP, no reference taken)"""


class SetKiComplete(Stmt, op="set_ki_complete", repeatable=True):
    """aio->iocb.ki_complete = proc"""

    proc: str = _arg(Arg.PROC)


class KiocbClone(Stmt, op="kiocb_clone"):
    """kiocb_clone(&aio->iocb, iocb, [get_file(]file[)])"""

    get_file: bool = _arg(Arg.BOOL)


class StoreRes(Stmt, op="store_res", repeatable=True):
    """aio->res = res"""


class LoadRes(Stmt, op="load_res", repeatable=True):
    """res = aio->res"""


class LoadOrig(Stmt, op="load_orig", repeatable=True):
    """orig_iocb = aio->orig_iocb (a local copy)"""


# ---- the reference count (refcount_t semantics) ------------------------------------------
class RefcountSet(Stmt, op="refcount_set"):
    """refcount_set(&aio->ref, n)"""

    n: int = _arg(Arg.INT)


class RefcountInc(Stmt, op="refcount_inc"):
    """refcount_inc(&aio->ref)"""


class RefcountDecAndTest(Stmt, op="refcount_dec_and_test"):
    """if (refcount_dec_and_test(&aio->ref)) { ... } else goto else_goto"""

    else_goto: str = _arg(Arg.TAG)


# ---- backing file references -------------------------------------------------------------
class FputClone(Stmt, op="fput_clone"):
    """fput(aio->iocb.ki_filp)"""


class Fdget(Stmt, op="fdget"):
    """ret = ovl_real_fdget(file, &real): the caller's struct fd, borrowed or opened on
    the fly (FDPUT_FPUT), and ret 0; or ret an error and no file in real"""


class Fdput(Stmt, op="fdput"):
    """fdput(real)"""


class FdClearFlags(Stmt, op="fd_clear_flags", repeatable=True):
    """real.flags = 0 (the caller gives up its FDPUT_FPUT)"""


class FdMoveToWrapper(Stmt, op="fd_move_to_wrapper", repeatable=True):
    """aio->fd = real"""


class FdputWrapper(Stmt, op="fdput_wrapper"):
    """fdput(aio->fd)"""


class GetFile(Stmt, op="get_file"):
    """get_file(real.file)"""


# ---- freeze protection (sb_writers) ------------------------------------------------------
# Freeze protection is SB_FREEZE_WRITE of the backing file's superblock, held at most once
# per request (a nested start deadlocks against a freeze waiting between the two), with
# its holder as lockdep sees it: the task that took it, or released (__sb_writers_release)
# for whoever ends it with __sb_writers_acquired.
class FileStartWrite(Stmt, op="file_start_write"):
    """file_start_write(real.file): this task holds it"""


class FileEndWrite(Stmt, op="file_end_write"):
    """file_end_write(real.file): ends what this task holds"""


class SbWritersRelease(Stmt, op="sb_writers_release"):
    """__sb_writers_release(file_inode(real.file)->i_sb, SB_FREEZE_WRITE): the protection
    this task holds is handed on, to be ended by another context (lockdep's annotation)"""


class KiocbStartWrite(Stmt, op="kiocb_start_write"):
    """kiocb_start_write(&aio->iocb): sb_start_write, then __sb_writers_release"""


class KiocbEndWrite(Stmt, op="kiocb_end_write"):
    """kiocb_end_write(&aio->iocb): __sb_writers_acquired, then sb_end_write, of released
    protection"""


# ---- calls into the lower filesystem -----------------------------------------------------
class VfsIter(Stmt, op="vfs_iter"):
    """ret = vfs_iter_read/write(real.file, iter, &iocb->ki_pos) (sync)"""


class VfsIocbIter(Stmt, op="vfs_iocb_iter"):
    """ret = vfs_iocb_iter_read/write(file, &aio->iocb, iter)"""


class FileRemovePrivs(Stmt, op="file_remove_privs"):
    """ret = file_remove_privs(file): clears setuid bits before a write; 0, or an error
    (may sleep)"""


class FopIter(Stmt, op="f_op_iter"):
    """ret = file->f_op->read_iter/write_iter(&aio->iocb, iter): straight to the lower
    filesystem, without vfs_iocb_iter_*'s checks and freeze protection"""


class InitWq(Stmt, op="init_wq"):
    """ret = backing_aio_init_wq(iocb); if (ret) goto on_fail"""

    on_fail: str = _arg(Arg.TAG)


# ---- the caller's side -------------------------------------------------------------------
class UpdatePos(Stmt, op="update_pos", repeatable=True):
    """orig_iocb->ki_pos = aio->iocb.ki_pos"""


class Callback(Stmt, op="callback"):
    """the caller's callback: ``fn`` names its slot (end_write, accessed), the kernel
    function it is (ovl_copyattr), or a procedure of the variant that is the caller's
    callback written out (its ``kcall`` statements say what it calls); what it calls
    decides its context"""

    fn: str = _arg(Arg.NAME)
    via: str = _arg(Arg.VIA)
    reads_pos: bool = _arg(Arg.BOOL, default=False)
    passes_result: bool = _arg(Arg.BOOL, default=False)


class KCall(Stmt, op="kcall", repeatable=True):
    """fn(...): a call of a kernel function of backing_aio.kapi (in a callback's body)"""

    fn: str = _arg(Arg.NAME)


class KiComplete(Stmt, op="ki_complete"):
    """orig_iocb->ki_complete(orig_iocb, res)"""


class QueueWork(Stmt, op="queue_work"):
    """INIT_WORK(&aio->work, proc); queue_work(sb->s_dio_done_wq, ...)"""

    proc: str = _arg(Arg.PROC)
    sb: str = _arg(Arg.SB, default="upper")


# ---- control -----------------------------------------------------------------------------
class IfGoto(Stmt, op="if_goto", repeatable=True):
    """if (cond) goto target; '!cond' negates"""

    cond: str = _arg(Arg.COND)
    target: str = _arg(Arg.TAG)

    @property
    def condition(self) -> str:
        """The condition's name, without the negation."""
        return self.cond.lstrip("!")

    @property
    def negated(self) -> bool:
        return self.cond.startswith("!")


class Goto(Stmt, op="goto", repeatable=True, falls_through=False):
    """goto target"""

    target: str = _arg(Arg.TAG)


class Call(Stmt, op="call"):
    """call a procedure of the variant, passing ret/res"""

    proc: str = _arg(Arg.PROC)


class Assign(Stmt, op="assign", repeatable=True):
    """ret = value"""

    value: str = _arg(Arg.VALUE)


class Return(Stmt, op="return_", repeatable=True, falls_through=False):
    """return [value]; a value returned by a procedure becomes the caller's ret"""

    value: str | None = _arg(Arg.VALUE, default=None)


STATEMENTS: Final[tuple[type[Stmt], ...]] = (
    KmemCacheZalloc, KzallocNofail, KmemCacheFree, InitOrigIocb, InitCallback, InitIsWrite,
    SetKiFlags,
    ClearKiFlag, InitKiocb, SetKiComplete,
    KiocbClone, StoreRes, LoadRes, LoadOrig, RefcountSet, RefcountInc, RefcountDecAndTest,
    FputClone, Fdget, Fdput, FdClearFlags, FdMoveToWrapper, FdputWrapper, GetFile,
    FileStartWrite, FileEndWrite, SbWritersRelease, KiocbStartWrite, KiocbEndWrite, VfsIter,
    VfsIocbIter, FileRemovePrivs, FopIter, InitWq,
    UpdatePos, Callback, KCall, KiComplete, QueueWork, IfGoto, Goto, Call, Assign, Return,
)
# The statement classes by operation name: what ``stmt()`` builds.
OPS: Final[dict[str, type[Stmt]]] = {cls.op: cls for cls in STATEMENTS}


def stmt(op: str, label: str, *, tag: str | None = None, **args: Any) -> Stmt:
    """Build a statement: ``stmt("refcount_set", "refcount_set(&aio->ref, 2);", n=2)``."""
    cls = OPS.get(op)
    if cls is None:
        raise VariantError(f"unknown statement {op!r} (label {label!r})")
    _check_head(op, label, tag)
    known = _arg_fields(cls)
    names = {f.name for f in known}
    for name in args:
        if name not in names:
            raise VariantError(f"statement {op} ({label!r}): unexpected argument {name!r}")
    for f in known:  # in order, as the construction checks them
        if f.name in args:
            _check_arg(op, label, f, args[f.name])
        elif f.default is MISSING:
            raise VariantError(f"statement {op} ({label!r}): missing argument {f.name!r}")
    return cls(label, tag, **args)


# What a filesystem may set up when it is mounted, before any request.
AT_MOUNT: Final[tuple[str, ...]] = ("s_dio_done_wq",)

# A callback contract: for each request kind and each way the request ended, how many times
# the caller's callback must run (CLEANUP_ONCE).
CallbackContract = Mapping[str, Mapping[str, int]]


@dataclass(frozen=True)
class Variant:
    """One version of the helpers (and of the caller around them), as data.

    ``entry`` names the procedure the upper layer calls for a read and for a write.
    ``kernel`` is the release it runs against (``"6.12"``): the environment follows from it
    (backing_aio.kapi): who owns freeze protection of an async write (the helper before
    v6.8, vfs_iocb_iter_write from v6.8, which then ends it unless it returns
    -EIOCBQUEUED), whether the upper layer may set IOCB_DIO_CALLER_COMP. ``caller`` is the
    filesystem around the helpers (``overlayfs``): what its callbacks call, hence in which
    context they may run. ``at_mount`` names what that filesystem sets up when it is
    mounted (``s_dio_done_wq``). ``callbacks`` is the caller's callback contract.
    ``expect`` is the set of properties the variant is known to break (empty: all hold).
    ``shape`` says who is above the helpers (``backing_aio.vocab.Shape``): a stacked
    filesystem (the default), a block driver (loop) or a filesystem reading its own
    blocks (erofs); ``kinds`` the request types it serves (a read-only user serves reads).
    The properties a shape or a read-only user cannot break are not checked
    (``backing_aio.model.properties.not_applicable``).
    """

    name: str
    summary: str
    procs: Mapping[str, tuple[Stmt, ...]]
    entry: Mapping[str, str]
    kernel: str
    caller: str
    callbacks: CallbackContract
    at_mount: frozenset[str] = frozenset()
    expect: frozenset[str] = frozenset()
    origin: str = ""
    notes: tuple[str, ...] = field(default=())
    shape: str = Shape.STACKED
    kinds: tuple[str, ...] = REQUEST_TYPES

    def __post_init__(self) -> None:
        object.__setattr__(self, "procs", {k: tuple(v) for k, v in dict(self.procs).items()})
        object.__setattr__(self, "entry", dict(self.entry))
        object.__setattr__(self, "at_mount", frozenset(self.at_mount))
        object.__setattr__(self, "expect", frozenset(self.expect))
        object.__setattr__(self, "kinds", tuple(self.kinds))
        object.__setattr__(
            self, "callbacks", {k: dict(v) for k, v in dict(self.callbacks).items()}
        )
        validate(self)

    def with_procs(self, procs: Mapping[str, Iterable[Stmt]], **changes: Any) -> Variant:
        """A copy with other procedures (used by the mutant generator)."""
        data: dict[str, Any] = {
            "name": self.name,
            "summary": self.summary,
            "procs": {k: tuple(v) for k, v in procs.items()},
            "entry": self.entry,
            "kernel": self.kernel,
            "caller": self.caller,
            "callbacks": self.callbacks,
            "at_mount": self.at_mount,
            "expect": self.expect,
            "origin": self.origin,
            "notes": self.notes,
            "shape": self.shape,
            "kinds": self.kinds,
        }
        data.update(changes)
        return Variant(**data)


def validate(v: Variant) -> None:
    """Reject a malformed variant with a one-line message naming the problem."""
    where = f"variant {v.name!r}"
    if not isinstance(v.name, str) or not v.name:
        raise VariantError("a variant needs a non-empty name")
    if not v.procs:
        raise VariantError(f"{where}: no procedures")
    _check_kinds(v, where)
    _check_environment(v, where)
    _check_contracts(v, where)
    _check_shape(v, where)
    for name, body in v.procs.items():
        _check_procedure(v, name, body, f"{where}, procedure {name!r}")
    _check_finite(v, where)


def _check_kinds(v: Variant, where: str) -> None:
    """The shape, the request types it serves and an entry procedure for each kind."""
    if v.shape not in SHAPES:
        raise VariantError(f"{where}: unknown shape {v.shape!r} (known: {', '.join(SHAPES)})")
    if not v.kinds or len(set(v.kinds)) != len(v.kinds):
        raise VariantError(f"{where}: kinds must name request types, each once")
    for rtype in v.kinds:
        if rtype not in REQUEST_TYPES:
            raise VariantError(f"{where}: unknown request type {rtype!r} (known: "
                               f"{', '.join(REQUEST_TYPES)})")
    if v.shape != Shape.STACKED and any(t.startswith("sync-") for t in v.kinds):
        raise VariantError(f"{where}: a {v.shape} request is never a sync kiocb: its "
                           "original ends through its completion")
    for kind in KINDS:
        if kind not in v.entry and any(t.endswith(kind) for t in v.kinds):
            raise VariantError(f"{where}: no entry procedure for {kind}s")
    for kind, proc in v.entry.items():
        if kind not in KINDS:
            raise VariantError(f"{where}: entry for unknown request kind {kind!r}")
        if proc not in v.procs:
            raise VariantError(f"{where}: entry procedure {proc!r} for {kind}s does not exist")


def _check_environment(v: Variant, where: str) -> None:
    """The kernel and caller the variant names, and what it sets up at mount."""
    try:
        k = kapi.Kernel.parse(v.kernel)
        kapi.caller(v.caller)
    except kapi.KernelError as e:
        raise VariantError(f"{where}: {e}") from None
    if not kapi.OLDEST <= k <= kapi.NEWEST:
        raise VariantError(f"{where}: kernel {k} is outside what the model describes "
                           f"({kapi.OLDEST} to {kapi.NEWEST})")
    for thing in v.at_mount:
        if thing not in AT_MOUNT:
            raise VariantError(f"{where}: at_mount names {thing!r} (known: "
                               f"{', '.join(AT_MOUNT)})")


def _check_contracts(v: Variant, where: str) -> None:
    """The callback contract and the expected verdict name what exists and applies."""
    # local: lang is imported by properties' users before properties itself
    from backing_aio.model.properties import PROPERTY_IDS, not_applicable

    for kind, table in v.callbacks.items():
        if kind not in KINDS:
            raise VariantError(f"{where}: callback contract for unknown kind {kind!r}")
        for outcome, count in table.items():
            if outcome not in OUTCOMES:
                raise VariantError(
                    f"{where}: callback contract names unknown outcome {outcome!r}"
                    f" (known: {', '.join(OUTCOMES)})"
                )
            if count not in (0, 1):
                raise VariantError(f"{where}: callback count for {kind}/{outcome} must be 0 or 1")
    for prop in v.expect:
        if prop not in PROPERTY_IDS:
            raise VariantError(f"{where}: expects unknown property {prop!r}")
        if prop in not_applicable(v):
            raise VariantError(f"{where}: expects {prop}, which does not apply to it")


def _check_shape(v: Variant, where: str) -> None:
    """Statements that mean nothing outside the stacked shape, or with the pdu as wrapper."""
    if v.shape != Shape.STACKED and v.callbacks:
        raise VariantError(f"{where}: a {v.shape} caller has no callback contract")
    no_alloc = v.shape == Shape.BLOCK  # the wrapper is the request's pdu
    for name, body in v.procs.items():
        for st in body:
            if isinstance(st, Callback | UpdatePos) and v.shape != Shape.STACKED:
                raise VariantError(f"{where}, procedure {name!r}: {st.op} ({st.label!r}) has "
                                   f"no meaning in the {v.shape} shape (no callback, no ki_pos "
                                   "handed back)")
            if no_alloc and isinstance(st, KmemCacheZalloc | KzallocNofail | KmemCacheFree):
                raise VariantError(f"{where}, procedure {name!r}: {st.op} ({st.label!r}): in "
                                   "the block shape the wrapper is the request's pdu, never "
                                   "allocated or freed")


def called(v: Variant, st: Stmt) -> str | None:
    """The procedure a statement runs in its own actor: a call's, or a callback's body
    when the callback is a procedure of the variant."""
    if isinstance(st, Call):
        return st.proc
    if isinstance(st, Callback) and st.fn in v.procs:
        return st.fn
    return None


def _check_procedure(v: Variant, name: str, body: tuple[Stmt, ...], pw: str) -> None:
    """Every statement is one, every tag is defined once, every jump lands, every callee
    exists, and an entry procedure returns a value and is nobody's completion."""
    entries = set(v.entry.values())
    if not body:
        raise VariantError(f"{pw}: empty procedure")
    tags: dict[str, int] = {}
    for i, s in enumerate(body):
        if not isinstance(s, Stmt):
            raise VariantError(f"{pw}: item {i} is not a statement ({type(s).__name__})")
        if s.tag is not None:
            if s.tag in tags or s.tag == END:
                raise VariantError(f"{pw}: tag {s.tag!r} defined twice or reserved")
            tags[s.tag] = i
    for s in body:
        for target in s.jump_targets():
            if target == END:
                if name in entries:
                    raise VariantError(
                        f"{pw}: {s.op} ({s.label!r}) jumps to END in an entry procedure"
                    )
            elif target not in tags:
                raise VariantError(
                    f"{pw}: {s.op} ({s.label!r}) jumps to {target!r}, which is nowhere"
                )
        callee = s.callee()
        if callee is not None and callee not in v.procs:
            raise VariantError(
                f"{pw}: {s.op} ({s.label!r}) names procedure {callee!r}, "
                "which does not exist"
            )
        if isinstance(s, Callback) and s.fn not in v.procs:
            try:
                kapi.resolve(v.caller, s.fn)
            except kapi.KernelError as e:
                raise VariantError(f"{pw}: callback ({s.label!r}): {e} (or a procedure of "
                                   "the variant)") from None
        if isinstance(s, Callback) and s.fn in entries:
            raise VariantError(f"{pw}: callback ({s.label!r}) names an entry procedure")
        if isinstance(s, KCall):
            try:
                kapi.function(s.fn)
            except kapi.KernelError as e:
                raise VariantError(f"{pw}: kcall ({s.label!r}): {e}") from None
        if isinstance(s, Return) and name in entries and (s.value is None) != (
                v.shape == Shape.BIO):
            raise VariantError(f"{pw}: return in an entry procedure " + (
                "returns nothing in the bio shape (a void submitter)" if v.shape == Shape.BIO
                else "needs a value"))
    if name in entries and not isinstance(body[-1], Return | Goto):
        raise VariantError(f"{pw}: an entry procedure must end with return or goto")
    if name in entries:
        # A procedure shared by the submitter and the completion would mix their frames.
        for s in body:
            if isinstance(s, SetKiComplete | QueueWork) and s.proc in entries:
                raise VariantError(f"{pw}: an entry procedure cannot be a completion")


def _successors(body: tuple[Stmt, ...], i: int, tags: dict[str, int]) -> list[int]:
    """Where control may go after statement ``i`` of a procedure (END and a return leave)."""
    s = body[i]
    out: list[int] = []
    if s.falls_through:
        out.append(i + 1)
    out.extend(tags[t] for t in s.jump_targets() if t in tags)
    return [j for j in out if j < len(body)]


def _cycle_through(body: tuple[Stmt, ...], tags: dict[str, int]) -> int | None:
    """A statement that is not repeatable and lies on a cycle of the control graph, if
    any."""
    succ = {i: _successors(body, i, tags) for i in range(len(body))}
    for start, s in enumerate(body):
        if s.repeatable:
            continue
        seen: set[int] = set()
        work = list(succ[start])
        while work:
            j = work.pop()
            if j == start:
                return start
            if j not in seen:
                seen.add(j)
                work.extend(succ[j])
    return None


def _check_finite(v: Variant, where: str) -> None:
    """A variant's state space is finite by construction: no procedure calls itself,
    directly or through others (every call pushes a frame), and no loop repeats a
    statement that counts (see ``Stmt.repeatable``)."""
    calls = {name: [p for s in body if (p := called(v, s)) is not None]
             for name, body in v.procs.items()}
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for callee in calls[name]:
            if state.get(callee) == 1:
                cycle = [*path[path.index(callee):], callee]
                raise VariantError(f"{where}: procedure {callee!r} calls itself "
                                   f"({' -> '.join(cycle)}): recursion has no bound")
            if callee not in state:
                visit(callee, [*path, callee])
        state[name] = 2

    for name in v.procs:
        if name not in state:
            visit(name, [name])
    for name, body in v.procs.items():
        tags = {s.tag: i for i, s in enumerate(body) if s.tag is not None}
        at = _cycle_through(body, tags)
        if at is not None:
            s = body[at]
            raise VariantError(f"{where}, procedure {name!r}: {s.op} ({s.label!r}) lies on "
                               "a loop, and repeating it can count without bound (only "
                               "statements that set a value may repeat)")
