"""The statement language in which a variant of the backing-file helpers is written.

A variant is data: named procedures, each a list of statements, one statement per atomic
step of the C code it stands for. The state machine in ``backing_aio.model.semantics`` gives every
operation its meaning; this module only says what operations exist, what arguments they
take, and checks that a variant is well formed (every jump lands, every call has a
callee). Misuse fails here, early, with a one-line ``VariantError``.

Each statement keeps a ``label`` (usually the C line it stands for) for every output, and
may carry a ``tag``: the name a jump uses to reach it (the C label, like ``out``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Final

from backing_aio.vocab import FREEZE_CONTRACTS, KINDS, OUTCOMES


class VariantError(ValueError):
    """A variant (or a statement in it) is malformed. The message is one line."""


class Val(IntEnum):
    """Abstract values a return register can hold.

    The lower filesystem's result is either OK (a byte count, possibly short) or ERR (a
    negative errno of its own); the helpers never look inside either, so two values are
    enough to see whether a result travels unchanged to the caller.
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
    "write": "aio->iocb.ki_flags & IOCB_WRITE",
}

END: Final[str] = "END"  # jump target meaning "leave this procedure" (not in entry procedures)


@dataclass(frozen=True)
class ArgSpec:
    name: str
    kind: str  # tag | proc | int | bool | cond | value | via
    default: Any = None
    required: bool = True


@dataclass(frozen=True)
class OpSpec:
    name: str
    args: tuple[ArgSpec, ...]
    doc: str


def _op(name: str, doc: str, *args: ArgSpec) -> OpSpec:
    return OpSpec(name, args, doc)


def _a(name: str, kind: str) -> ArgSpec:
    return ArgSpec(name, kind)


def _opt(name: str, kind: str, default: Any) -> ArgSpec:
    return ArgSpec(name, kind, default, required=False)


OPS: Final[dict[str, OpSpec]] = {
    spec.name: spec
    for spec in (
        # wrapper memory and fields
        _op("kmem_cache_zalloc", "allocate the zeroed wrapper; may fail (goto on_fail)",
            _a("on_fail", "tag")),
        _op("kmem_cache_free", "free the wrapper"),
        _op("init_orig_iocb", "aio->orig_iocb = iocb"),
        _op("init_callback", "aio->cleanup = the caller's callback"),
        _op("set_ki_flags", "aio->iocb.ki_flags = flags (keeps IOCB_WRITE of a write)"),
        _op("set_ki_complete", "aio->iocb.ki_complete = proc", _a("proc", "proc")),
        _op("kiocb_clone", "kiocb_clone(&aio->iocb, iocb, [get_file(]file[)])",
            _a("get_file", "bool")),
        _op("store_res", "aio->res = res"),
        _op("load_res", "res = aio->res"),
        _op("load_orig", "orig_iocb = aio->orig_iocb (a local copy)"),
        # reference count (refcount_t semantics)
        _op("refcount_set", "refcount_set(&aio->ref, n)", _a("n", "int")),
        _op("refcount_inc", "refcount_inc(&aio->ref)"),
        _op("refcount_dec_and_test",
            "if (refcount_dec_and_test(&aio->ref)) { ... } else goto else_goto",
            _a("else_goto", "tag")),
        # backing file references
        _op("fput_clone", "fput(aio->iocb.ki_filp)"),
        _op("fdget", "the caller's struct fd: borrowed, or opened on the fly (FDPUT_FPUT)"),
        _op("fdput", "fdput(real)"),
        _op("fd_clear_flags", "real.flags = 0 (the caller gives up its FDPUT_FPUT)"),
        _op("fd_move_to_wrapper", "aio->fd = real"),
        _op("fdput_wrapper", "fdput(aio->fd)"),
        _op("get_file", "get_file(real.file)"),
        # freeze protection (sb_writers)
        _op("file_start_write", "file_start_write(real.file)"),
        _op("file_end_write", "file_end_write(real.file)"),
        _op("kiocb_start_write", "kiocb_start_write(&aio->iocb)"),
        _op("kiocb_end_write", "kiocb_end_write(&aio->iocb)"),
        # calls into the lower filesystem
        _op("vfs_iter", "ret = vfs_iter_read/write(real.file, iter, &iocb->ki_pos) (sync)"),
        _op("vfs_iocb_iter", "ret = vfs_iocb_iter_read/write(file, &aio->iocb, iter)"),
        _op("init_wq", "ret = backing_aio_init_wq(iocb); if (ret) goto on_fail",
            _a("on_fail", "tag")),
        # the caller's side
        _op("update_pos", "orig_iocb->ki_pos = aio->iocb.ki_pos"),
        _op("callback", "the caller's cleanup/end_write/accessed callback",
            _a("via", "via"), _opt("reads_pos", "bool", False),
            _opt("passes_result", "bool", False)),
        _op("ki_complete", "orig_iocb->ki_complete(orig_iocb, res)"),
        _op("queue_work", "INIT_WORK(&aio->work, proc); queue_work(sb->s_dio_done_wq, ...)",
            _a("proc", "proc")),
        # control
        _op("if_goto", "if (cond) goto target; '!cond' negates", _a("cond", "cond"),
            _a("target", "tag")),
        _op("goto", "goto target", _a("target", "tag")),
        _op("call", "call a procedure of the variant, passing ret/res", _a("proc", "proc")),
        _op("assign", "ret = value", _a("value", "value")),
        _op("return_", "return [value]; a value returned by a procedure becomes the caller's ret",
            _opt("value", "value", None)),
    )
}
VIAS: Final[tuple[str, ...]] = ("wrapper", "direct")


@dataclass(frozen=True)
class Stmt:
    """One atomic step. ``args`` holds the operation's arguments by name."""

    op: str
    label: str
    tag: str | None = None
    args: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        spec = OPS.get(self.op)
        if spec is None:
            raise VariantError(f"unknown statement {self.op!r} (label {self.label!r})")
        if not isinstance(self.label, str) or not self.label:
            raise VariantError(f"statement {self.op} needs a non-empty label")
        if self.tag is not None and (not isinstance(self.tag, str) or not self.tag):
            raise VariantError(f"statement {self.op} ({self.label!r}): tag must be a name")
        given = dict(self.args)
        if len(given) != len(self.args):
            raise VariantError(f"statement {self.op} ({self.label!r}): repeated argument")
        known = {a.name for a in spec.args}
        for name in given:
            if name not in known:
                raise VariantError(
                    f"statement {self.op} ({self.label!r}): unexpected argument {name!r}"
                )
        full: list[tuple[str, Any]] = []
        for a in spec.args:
            if a.name not in given:
                if a.required:
                    raise VariantError(
                        f"statement {self.op} ({self.label!r}): missing argument {a.name!r}"
                    )
                full.append((a.name, a.default))
                continue
            value = given[a.name]
            _check_arg(self, a, value)
            full.append((a.name, value))
        object.__setattr__(self, "args", tuple(full))

    def arg(self, name: str) -> Any:
        for key, value in self.args:
            if key == name:
                return value
        raise KeyError(name)

    def render(self) -> str:
        """A short, stable spelling used in outputs and mutant names."""
        shown = ", ".join(f"{k}={v}" for k, v in self.args if v is not None)
        return f"{self.op}({shown})"


def _check_arg(stmt: Stmt, spec: ArgSpec, value: Any) -> None:
    where = f"statement {stmt.op} ({stmt.label!r}): argument {spec.name!r}"
    kind = spec.kind
    if value is None and not spec.required:
        return
    if kind in ("tag", "proc"):
        if not isinstance(value, str) or not value:
            raise VariantError(f"{where} must be a name, got {value!r}")
    elif kind == "int":
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 8:
            raise VariantError(f"{where} must be an integer 0..8, got {value!r}")
    elif kind == "bool":
        if not isinstance(value, bool):
            raise VariantError(f"{where} must be True or False, got {value!r}")
    elif kind == "cond":
        name = value[1:] if isinstance(value, str) and value.startswith("!") else value
        if name not in CONDITIONS:
            raise VariantError(
                f"{where}: unknown condition {value!r} (known: {', '.join(CONDITIONS)})"
            )
    elif kind == "value":
        if value != "ret" and value not in VALUE_SPELLING:
            known = ", ".join(["ret", *VALUE_SPELLING])
            raise VariantError(f"{where}: unknown value {value!r} (known: {known})")
    elif kind == "via":
        if value not in VIAS:
            raise VariantError(f"{where} must be one of {', '.join(VIAS)}, got {value!r}")
    else:  # pragma: no cover - the table above is closed
        raise AssertionError(kind)


def stmt(op: str, label: str, *, tag: str | None = None, **args: Any) -> Stmt:
    """Build a statement: ``stmt("refcount_set", "refcount_set(&aio->ref, 2);", n=2)``."""
    return Stmt(op, label, tag, tuple(args.items()))


# A callback contract: for each request kind and each way the request ended, how many times
# the caller's callback must run (CLEANUP_ONCE).
CallbackContract = Mapping[str, Mapping[str, int]]


@dataclass(frozen=True)
class Variant:
    """One version of the helpers (and of the caller around them), as data.

    ``entry`` names the procedure the upper layer calls for a read and for a write.
    ``freeze`` names who owns freeze protection of an async write: ``caller`` (the helper
    starts it and ends it on both paths) or ``callee`` (vfs_iocb_iter_write starts it and
    ends it unless it returns -EIOCBQUEUED; the helper ends it only in the completion).
    ``callbacks`` is the caller's callback contract; ``process_context`` lists the request
    kinds whose callback must not run in irq completion context. ``expect`` is the set of
    properties the variant is known to break (empty: all hold).
    """

    name: str
    summary: str
    procs: Mapping[str, tuple[Stmt, ...]]
    entry: Mapping[str, str]
    freeze: str
    callbacks: CallbackContract
    process_context: frozenset[str] = frozenset()
    expect: frozenset[str] = frozenset()
    origin: str = ""
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "procs", {k: tuple(v) for k, v in dict(self.procs).items()})
        object.__setattr__(self, "entry", dict(self.entry))
        object.__setattr__(self, "process_context", frozenset(self.process_context))
        object.__setattr__(self, "expect", frozenset(self.expect))
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
            "freeze": self.freeze,
            "callbacks": self.callbacks,
            "process_context": self.process_context,
            "expect": self.expect,
            "origin": self.origin,
            "notes": self.notes,
        }
        data.update(changes)
        return Variant(**data)


def validate(v: Variant) -> None:
    """Reject a malformed variant with a one-line message naming the problem."""
    # local: lang is imported by properties' users before properties itself
    from backing_aio.model.properties import PROPERTY_IDS

    where = f"variant {v.name!r}"
    if not isinstance(v.name, str) or not v.name:
        raise VariantError("a variant needs a non-empty name")
    if not v.procs:
        raise VariantError(f"{where}: no procedures")
    for kind in KINDS:
        if kind not in v.entry:
            raise VariantError(f"{where}: no entry procedure for {kind}s")
    for kind, proc in v.entry.items():
        if kind not in KINDS:
            raise VariantError(f"{where}: entry for unknown request kind {kind!r}")
        if proc not in v.procs:
            raise VariantError(f"{where}: entry procedure {proc!r} for {kind}s does not exist")
    if v.freeze not in FREEZE_CONTRACTS:
        raise VariantError(
            f"{where}: freeze contract must be one of {', '.join(FREEZE_CONTRACTS)}"
        )
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
    for kind in v.process_context:
        if kind not in KINDS:
            raise VariantError(f"{where}: process_context names unknown kind {kind!r}")
    for prop in v.expect:
        if prop not in PROPERTY_IDS:
            raise VariantError(f"{where}: expects unknown property {prop!r}")
    entries = set(v.entry.values())
    for name, body in v.procs.items():
        pw = f"{where}, procedure {name!r}"
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
            for spec in OPS[s.op].args:
                value = s.arg(spec.name)
                if spec.kind == "tag":
                    if value == END:
                        if name in entries:
                            raise VariantError(
                                f"{pw}: {s.op} ({s.label!r}) jumps to END in an entry procedure"
                            )
                    elif value not in tags:
                        raise VariantError(
                            f"{pw}: {s.op} ({s.label!r}) jumps to {value!r}, which is nowhere"
                        )
                if spec.kind == "proc" and value not in v.procs:
                    raise VariantError(
                        f"{pw}: {s.op} ({s.label!r}) names procedure {value!r}, "
                        "which does not exist"
                    )
            if s.op == "return_" and name in entries and s.arg("value") is None:
                raise VariantError(f"{pw}: return in an entry procedure needs a value")
        if name in entries and body[-1].op not in ("return_", "goto"):
            raise VariantError(f"{pw}: an entry procedure must end with return or goto")
        if name in entries:
            # A procedure shared by the submitter and the completion would mix their frames.
            for s in body:
                if s.op in ("set_ki_complete", "queue_work") and s.arg("proc") in entries:
                    raise VariantError(f"{pw}: an entry procedure cannot be a completion")
    _check_finite(v, where)


# Statements that set a field to a value and count nothing: a loop through only these
# revisits the same states, so it can spin (TERMINATES judges that) but never grow the
# state. Every other statement counts something (a reference, a callback run, freeze
# protection, a stack frame) and could count without bound inside a loop. An operation
# added later is outside this set until someone decides otherwise: the safe default.
REPEATABLE: Final[frozenset[str]] = frozenset({
    "goto", "if_goto", "assign", "return_", "load_res", "load_orig", "store_res",
    "init_orig_iocb", "init_callback", "set_ki_flags", "set_ki_complete", "update_pos",
    "fd_clear_flags", "fd_move_to_wrapper",
})


def _successors(body: tuple[Stmt, ...], i: int, tags: dict[str, int]) -> list[int]:
    """Where control may go after statement ``i`` of a procedure (END and a return leave)."""
    s = body[i]
    out: list[int] = []
    if s.op not in ("goto", "return_"):
        out.append(i + 1)
    for spec in OPS[s.op].args:
        if spec.kind == "tag" and s.arg(spec.name) in tags:
            out.append(tags[s.arg(spec.name)])
    return [j for j in out if j < len(body)]


def _cycle_through(body: tuple[Stmt, ...], tags: dict[str, int]) -> int | None:
    """A statement outside REPEATABLE that lies on a cycle of the control graph, if any."""
    succ = {i: _successors(body, i, tags) for i in range(len(body))}
    for start, s in enumerate(body):
        if s.op in REPEATABLE:
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
    statement that counts (see REPEATABLE)."""
    calls = {name: [s.arg("proc") for s in body if s.op == "call"]
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
