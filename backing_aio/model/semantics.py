"""The state machine: N concurrent requests on one shared backing file.

This module is the semantics. A state is a tuple ``(shared, req_0, ..., req_{N-1})``:
``shared`` is the reference count of the backing file the requests share (1 at the start:
the upper file's own reference, which it keeps for the whole run), and each ``req_i`` is a
``Req`` (backing_aio.model.state) describing one request, its wrapper and its actors.
Requests interact only through ``shared``, so requests in the same local state are
interchangeable: ``canonical`` sorts them (symmetry reduction).

Actors of a request:
- the *submitter*: the task inside read_iter/write_iter, running the variant's entry
  procedure;
- the *lower* filesystem inside submit: once it has queued the clone it may still touch the
  clone and its ki_filp until it returns -EIOCBQUEUED (contract L2);
- the *completion*: the clone's ki_complete, run exactly once at any point after the IO was
  queued (L1), in irq context;
- the *worker*: a workqueue item queued by the completion, in process context.

The environment's nondeterminism is part of the steps: allocation succeeds or fails; the
lower filesystem returns a result, an error, or queues; the completion runs with a result
or an error; the request is sync or async, zero-length or not, O_DIRECT on a file that
cannot do it or not (decided when first asked); the caller's file reference is borrowed or
opened on the fly. U1 is modelled by the original kiocb's lifetime: alive until the call
returned and, if it returned -EIOCBQUEUED, until its ki_complete ran.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from itertools import combinations_with_replacement
from typing import Any, Final, TypeVar

from backing_aio import kapi
from backing_aio.model.effects import Change, Effect
from backing_aio.model.lang import (
    END,
    NEGATIVE,
    STATEMENTS,
    VALUE_SPELLING,
    Assign,
    Call,
    Callback,
    ClearKiFlag,
    FdClearFlags,
    Fdget,
    FdMoveToWrapper,
    Fdput,
    FdputWrapper,
    FileEndWrite,
    FileRemovePrivs,
    FileStartWrite,
    FopIter,
    FputClone,
    GetFile,
    Goto,
    IfGoto,
    InitCallback,
    InitIsWrite,
    InitKiocb,
    InitOrigIocb,
    InitWq,
    KCall,
    KiComplete,
    KiocbClone,
    KiocbEndWrite,
    KiocbStartWrite,
    KmemCacheFree,
    KmemCacheZalloc,
    KzallocNofail,
    LoadOrig,
    LoadRes,
    QueueWork,
    RefcountDecAndTest,
    RefcountInc,
    RefcountSet,
    Return,
    SbWritersRelease,
    SetKiComplete,
    SetKiFlags,
    Stmt,
    StoreRes,
    UpdatePos,
    Val,
    Variant,
    VfsIocbIter,
    VfsIter,
    called,
    value_name,
)
from backing_aio.model.properties import Violation, not_applicable
from backing_aio.model.state import (
    ARMED,
    CALLER_COMP_DECIDED,
    COMPLETION_MOVES,
    ENV_BIT,
    FDPUT_FPUT,
    HOLDS_CLONE,
    LIVE,
    ORIG_CALLER_COMP,
    PENDING,
    RUNNING,
    WORKER_MOVES,
    Completion,
    Draft,
    File,
    Frame,
    FreezeHolder,
    Lower,
    OutcomeBit,
    PosBit,
    ReqKind,
    Stack,
    Submitter,
    Worker,
    Wrapper,
    WrapperField,
    fd,
    fd_file,
    is_sync,
    new_request,
    outcome_of,
    request_done,
    stack_of,
)
from backing_aio.model.state import DONE as DONE  # re-exported, like the names below
from backing_aio.model.state import Req as Req
from backing_aio.model.state import State as State
from backing_aio.model.state import canonical as canonical
from backing_aio.model.state import canonical_perm as canonical_perm
from backing_aio.model.state import request_type as request_type
from backing_aio.vocab import ACTORS as ACTORS  # re-exported for the model's users
from backing_aio.vocab import CHOICES as CHOICES
from backing_aio.vocab import KINDS, Actor, Choice, Freeze, Shape, env_answer
from backing_aio.vocab import REQUEST_TYPES as REQUEST_TYPES

SUBMITTER: Final[str] = Actor.SUBMITTER
LOWER: Final[str] = Actor.LOWER
COMPLETION: Final[str] = Actor.COMPLETION
WORKER: Final[str] = Actor.WORKER


_TASK_HOLDER: Final[dict[str, FreezeHolder]] = {
    SUBMITTER: FreezeHolder.SUBMITTER, LOWER: FreezeHolder.SUBMITTER,
    COMPLETION: FreezeHolder.COMPLETION, WORKER: FreezeHolder.WORKER,
}
_HOLDER_TEXT: Final[dict[FreezeHolder, str]] = {
    FreezeHolder.NONE: "nobody holds it",
    FreezeHolder.RELEASED: "it was handed on with __sb_writers_release",
    FreezeHolder.SUBMITTER: "the submitting task holds it",
    FreezeHolder.COMPLETION: "the completion holds it",
    FreezeHolder.WORKER: "the worker holds it",
}


def _holder_text(r: Draft) -> str:
    h = r.freeze_holder
    # a symbolic holder (backing_aio.verify.symbolic) is not worth a fork for a message
    return _HOLDER_TEXT[FreezeHolder(h)] if isinstance(h, int) else "another party holds it"


@dataclass(frozen=True)
class Action:
    """One step: request ``req`` (its index in the state it is taken from), an actor of
    that request, and the environment's choice if the step has several outcomes."""

    req: int
    actor: str
    choice: str = ""


@dataclass(frozen=True)
class Where:
    """The statement an actor is at: for outputs."""

    proc: str
    pc: int
    stmt: Stmt | None


@dataclass(frozen=True)
class _LocalMoves:
    """The steps of one request in one local state with one shared count: each as its
    actor, choice and either the violation it commits or the shared count and request
    after it; whether none touches the shared count; the first that drops a shared
    reference the request does not hold."""

    steps: tuple[tuple[str, str, Violation | tuple[Any, Req]], ...]
    alone: bool
    over_drop: str | None


class ReductionUnsound(Exception):
    """A step dropped a shared-file reference its request did not hold: requests are not
    independent in this variant, so the "independent" reduction does not apply."""


class EnvStep(Enum):
    """The environment's own steps, which run no statement of the variant: each with the
    actor that takes it, where it happens and what it does, in the words every output
    uses."""

    LOWER_RETURNS = (Actor.LOWER, "lower fs", "touches the clone (L2), returns -EIOCBQUEUED",
                     "still inside submit")
    COMPLETION_FIRES = (Actor.COMPLETION, "lower fs", "IO done: calls the clone's ki_complete",
                        "")
    WORK_STARTS = (Actor.WORKER, "workqueue", "starts aio->work", "")

    def __init__(self, actor: str, place: str, does: str, when: str) -> None:
        self.actor = actor
        self.place = place
        self.does = does  # what a picture of the step says
        self.when = when  # what an explanation says first (a picture's node shows it)

    @property
    def explained(self) -> str:
        """The step as an explanation words it."""
        return f"{self.when}: {self.does}" if self.when else self.does


def env_step(r: Req | Draft, actor: str) -> EnvStep | None:
    """The environment's step ``actor`` takes next in ``r``, or None when it runs a
    statement of the variant."""
    if actor == LOWER:
        return _LOWER_RETURNS
    if actor == COMPLETION and r.completion_state == ARMED:
        return _COMPLETION_FIRES
    if actor == WORKER and r.worker_state == PENDING:
        return _WORK_STARTS
    return None


_LOWER_RETURNS: Final = EnvStep.LOWER_RETURNS  # read on every step: see state.RUNNING
_COMPLETION_FIRES: Final = EnvStep.COMPLETION_FIRES
_WORK_STARTS: Final = EnvStep.WORK_STARTS


class _Compiled:
    """A variant with names resolved to indexes and each statement to its semantics, for
    fast stepping."""

    def __init__(self, variant: Variant) -> None:
        self.variant = variant
        self.proc_names: list[str] = list(variant.procs)
        self.proc_index = {name: i for i, name in enumerate(self.proc_names)}
        self.bodies: list[tuple[Stmt, ...]] = [variant.procs[n] for n in self.proc_names]
        self.runs: list[tuple[Run, ...]] = [tuple(_RUN[type(s)] for s in body)
                                            for body in self.bodies]
        self.jump: list[dict[str, int]] = []
        for body in self.bodies:
            tags = {s.tag: i for i, s in enumerate(body) if s.tag is not None}
            tags[END] = len(body)
            self.jump.append(tags)
        # -1: a kind the variant does not serve (a read-only user has no write entry)
        self.entry = tuple(self.proc_index[variant.entry[k]] if k in variant.entry else -1
                           for k in KINDS)
        self.stacked = variant.shape == Shape.STACKED
        self.pdu = variant.shape == Shape.BLOCK  # the wrapper is the request's pdu
        na = not_applicable(variant)
        self.check_pos = "POS_BEFORE_CALLBACK" not in na
        self.check_callbacks = "CLEANUP_ONCE" not in na
        self.kernel = kernel = kapi.Kernel.parse(variant.kernel)
        self.callee_freeze = kapi.freeze(kernel) == Freeze.CALLEE
        self.dio_caller_comp = kapi.has_dio_caller_comp(kernel)
        self.wq_at_mount = "s_dio_done_wq" in variant.at_mount
        # For each function a callback names: the chain of calls down to one that needs
        # process context on this kernel (empty: it may run in irq context).
        # A callback that is a procedure of the variant has no chain of its own: its
        # kcall statements have theirs.
        self.process_chain: dict[str, tuple[str, ...]] = {
            st.fn: tuple(f.name for f in kapi.needs_process_context(
                kapi.resolve(variant.caller, st.fn), kernel))
            for body in self.bodies for st in body
            if isinstance(st, Callback | KCall) and st.fn not in self.proc_index
        }
        # the callbacks the caller hands over for each kind (empty: no contract on which)
        per_kind = kapi.caller(variant.caller).per_kind
        self.callbacks_for = tuple(per_kind.get(k, frozenset()) for k in KINDS)
        self.process_chain["file_remove_privs"] = tuple(
            f.name for f in kapi.needs_process_context(kapi.function("file_remove_privs"),
                                                       kernel))
        self.expected_callbacks = tuple(
            {o: variant.callbacks.get(k, {}).get(o, 0) for o in ("submitted", "alloc_failed",
                                                             "wq_failed", "early")}
            for k in KINDS
        )


def _value(spelling: str | None, v: int) -> int:
    if spelling is None or spelling == "ret":
        return v
    return int(VALUE_SPELLING[spelling])


class _Step:
    """Executes one step of one actor on a mutable copy of a request."""

    __slots__ = ("actor", "effects", "irq", "m", "next_pc", "orig", "over_drop", "pc",
                 "proc", "r", "shared", "stack", "touched_shared", "v")

    def __init__(self, m: BackingAio, shared: int, r: Req, actor: str,
                 effects: list[Effect] | None = None) -> None:
        self.m = m
        self.r = Draft(r)
        self.shared = shared
        self.actor = actor
        self.irq = irq = actor == COMPLETION
        # The moving actor's stack, written back by ``done``. The lower filesystem runs on
        # the submitter's stack: it is the same task, inside submit.
        self.stack: Stack = (r.completion if irq else
                             r.worker if actor == WORKER else r.submitter)
        # Set when the step reads or writes the shared file's count: the only thing requests
        # share, hence the only way one request's step can depend on another's.
        self.touched_shared = False
        # Set when the step drops a shared-file reference this request does not hold.
        self.over_drop = False
        # What the step did, when someone asks (an explanation): the search does not.
        self.effects = effects

    # The frame of the statement being run (set by BackingAio._execute): its procedure and
    # statement, ret and orig_iocb, and where control goes next (-1: the statement moved
    # the frames itself).
    proc: int
    pc: int
    v: int
    orig: int
    next_pc: int

    def note(self, change: Change, before: int = 0, after: int = 0) -> None:
        if self.effects is not None:
            self.effects.append(Effect(change, int(before), int(after)))

    def jump(self, tag: str) -> None:
        self.next_pc = self.m.compiled.jump[self.proc][tag]

    # -- memory and lifetime checks -----------------------------------------------------
    def wrapper(self, what: str) -> None:
        state = self.r.wrapper
        if state == LIVE:
            return
        if state == Wrapper.NONE:
            raise Violation("UAF", f"{what}: the wrapper was never allocated (aio is NULL)",
                            "wrapper")
        raise Violation("UAF", f"{what}: the wrapper was already freed", "wrapper")

    def set_wrapper(self, state: Wrapper) -> None:
        self.note(Change.WRAPPER, self.r.wrapper, state)
        self.r.wrapper = state

    def set_ref(self, n: int) -> None:
        self.note(Change.REF, self.r.ref, n)
        self.r.ref = n

    def orig_alive(self, what: str) -> None:
        r = self.r
        alive = r.submitter_state != Submitter.RETURNED or (
            r.returned == Val.QUEUED and r.ki_complete_runs == 0)
        if not alive:
            raise Violation(
                "UAF", f"{what}: the original kiocb was already completed and freed by the "
                "upper layer", "original kiocb"
            )

    def orig_field(self, what: str) -> None:
        if not self.r.fields & WrapperField.ORIG:
            raise Violation("UAF", f"{what}: aio->orig_iocb was never set (NULL dereference)",
                            "original kiocb")
        self.orig_alive(what)

    def pos_moved(self, before: int) -> None:
        """Note a change of the original kiocb's ki_pos (up to date or stale) since
        ``before``. Only when asked: on z3 terms the test would fork the run."""
        if self.effects is not None:
            self.note(Change.ORIG_POS, before & PosBit.ORIG_SYNCED != 0,
                      self.r.pos & PosBit.ORIG_SYNCED != 0)

    # -- files --------------------------------------------------------------------------
    def file_alive(self, fid: int, what: str) -> None:
        if fid == File.SHARED:
            self.touched_shared = True
        if fid == File.NONE:
            raise Violation("UAF", f"{what}: no file (NULL ki_filp)", "ki_filp")
        count = self.shared if fid == File.SHARED else self.r.tmp_file
        if count <= 0:
            name = "shared file" if fid == File.SHARED else "file opened on the fly"
            raise Violation(
                "UAF", f"{what}: the {name} is used after its last reference was dropped", name
            )

    def file_get(self, fid: int, what: str) -> None:
        self.file_alive(fid, what)
        if fid == File.SHARED:
            before = self.shared
            self.shared += 1
            self.r.shared_refs += 1
            self.note(Change.SHARED_FILE_REFS, before, self.shared)
        else:
            before = self.r.tmp_file
            self.r.tmp_file += 1
            self.note(Change.OPENED_FILE_REFS, before, self.r.tmp_file)

    def file_put(self, fid: int, what: str) -> None:
        if fid == File.SHARED:
            self.over_drop = self.over_drop or self.r.shared_refs <= 0
            self.r.shared_refs -= 1
        self.file_alive(fid, what)
        if fid == File.SHARED:
            before = self.shared
            self.shared -= 1
            self.note(Change.SHARED_FILE_REFS, before, self.shared)
        else:
            before = self.r.tmp_file
            self.r.tmp_file -= 1
            self.note(Change.OPENED_FILE_REFS, before, self.r.tmp_file)

    # -- freeze protection ----------------------------------------------------------------
    # SB_FREEZE_WRITE of the backing file's superblock. sb_start_write() is a read lock of
    # a percpu rwsem that freeze_super() takes for write: a second start while the request
    # already holds it blocks behind a waiting freeze, which waits for the first one to be
    # ended, so a nested start is a deadlock even when the counts balance. Who holds it is
    # lockdep's view: the task that took it (file_start_write) must end it itself; what was
    # handed on (kiocb_start_write, __sb_writers_release) is ended through
    # __sb_writers_acquired (kiocb_end_write) by whoever finishes the IO.
    def holder(self) -> FreezeHolder:
        return _TASK_HOLDER[self.actor]

    def start_write(self, what: str, released: bool) -> None:
        r = self.r
        if r.writers > 0:
            raise Violation("FREEZE_BALANCED", f"{what}: starts freeze protection the request "
                            "already holds (nested sb_start_write: a freeze waiting between "
                            "the two deadlocks)")
        r.writers = 1
        r.freeze_holder = FreezeHolder.RELEASED if released else self.holder()
        self.note(Change.FREEZE, 0, 1)

    def release_write(self, what: str) -> None:
        r = self.r
        if r.writers <= 0 or r.freeze_holder != self.holder():
            raise Violation("FREEZE_BALANCED", f"{what}: hands on freeze protection this "
                            f"task does not hold ({_holder_text(r)})")
        r.freeze_holder = FreezeHolder.RELEASED

    def write_protected(self, what: str) -> None:
        """Under the caller contract a write reaches the lower fs only under protection."""
        r = self.r
        if r.kind == ReqKind.WRITE and not self.m.compiled.callee_freeze and r.writers <= 0:
            raise Violation("FREEZE_BALANCED", f"{what}: the write is issued without freeze "
                            "protection")

    def submit_once(self, what: str) -> None:
        if self.r.outcome & OutcomeBit.SUBMITTED:
            raise Violation("RESULT_PROPAGATED", f"{what}: the request is submitted to the "
                            "lower filesystem a second time (the IO runs twice; the first "
                            "result is lost)")
        self.r.outcome |= OutcomeBit.SUBMITTED

    def end_write(self, what: str, acquired: bool) -> None:
        """``acquired``: kiocb_end_write, which takes over released protection first."""
        r = self.r
        if r.writers <= 0:
            raise Violation("FREEZE_BALANCED", f"{what} ends freeze protection that is not held")
        if acquired and r.freeze_holder != FreezeHolder.RELEASED:
            raise Violation("FREEZE_BALANCED", f"{what}: takes over freeze protection that "
                            f"was not handed on ({_holder_text(r)}; __sb_writers_release "
                            "is missing)")
        if not acquired and r.freeze_holder != self.holder():
            raise Violation("FREEZE_BALANCED", f"{what}: ends freeze protection this task "
                            f"does not hold ({_holder_text(r)}): the wrong party ends it")
        r.writers = 0
        r.freeze_holder = FreezeHolder.NONE
        self.note(Change.FREEZE, 1, 0)

    # -- frames -----------------------------------------------------------------------------
    def frame(self) -> Frame:
        return self.stack[-1]

    def set_frame(self, proc: int, pc: int, v: int, orig: int) -> None:
        self.stack = (*self.stack[:-1], (proc, pc, v, orig))

    def push(self, proc: int, v: int) -> None:
        self.stack = (*self.stack, (proc, 0, v, 0))

    def done(self) -> Req:
        """The request after the step."""
        r = self.r
        if self.actor == COMPLETION:
            r.completion = self.stack
        elif self.actor == WORKER:
            r.worker = self.stack
        else:
            r.submitter = self.stack
        return r.freeze()

    def unwind(self) -> None:
        """Pop every frame that ran off its end; mark the actor done when none is left."""
        m = self.m.compiled
        stack = self.stack
        while stack and stack[-1][1] >= len(m.bodies[stack[-1][0]]):
            stack = stack[:-1]
            if stack:  # the caller continues after its call statement
                p, pc, v, o = stack[-1]
                stack = (*stack[:-1], (p, pc + 1, v, o))
        self.stack = stack
        if not stack:
            if self.actor == COMPLETION:
                self.r.completion_state = Completion.DONE
            elif self.actor == WORKER:
                self.r.worker_state = Worker.DONE
            else:  # pragma: no cover - entry procedures end in return or goto (validated)
                raise AssertionError("submitter ran off its entry procedure")

    # -- what the caller sees -------------------------------------------------------------
    def result_check(self, got: int, what: str) -> None:
        want = self.r.lower_result
        if want == Val.NONE:
            raise Violation("RESULT_PROPAGATED", f"{what} runs before the lower filesystem "
                            "produced a result")
        if got != want:
            why = ""
            if self.r.fields & WrapperField.CALLER_COMP and got == Val.ZERO:
                why = (" (the clone carries IOCB_DIO_CALLER_COMP: the lower filesystem "
                       "completed it with 0 and left the real completion to the issuer)")
            raise Violation(
                "RESULT_PROPAGATED",
                f"{what} gets {value_name(got)}, but the lower filesystem's result is "
                f"{value_name(want)}{why}",
            )

    def pos_check(self, who: str) -> None:
        if not self.m.compiled.check_pos:
            return  # no ki_pos is handed back in this shape
        pos = self.r.pos
        if pos & PosBit.IO_DONE and not pos & PosBit.ORIG_SYNCED:
            raise Violation(
                "POS_BEFORE_CALLBACK",
                f"{who} reads the original kiocb's ki_pos before it was updated from the clone",
            )


Moves = list[tuple[Action, "State | Violation"]]


class BackingAio:
    """The model of one variant: initial states, enabled steps, successor function."""

    def __init__(self, variant: Variant, *, symmetry: bool = True) -> None:
        """``symmetry=False`` keeps every request where it is (no sorting, and requests in
        identical local states each move): the reference the reduction test compares with."""
        self.variant = variant
        self.compiled = _Compiled(variant)
        self.acyclic = _acyclic(variant)
        self.has_fdget = any(isinstance(st, Fdget) for b in variant.procs.values() for st in b)
        self.kinds = variant.kinds
        self.symmetry = symmetry
        # the state as the search keeps it: requests sorted, unless symmetry is off
        self.canonical: Callable[[State], State] = canonical if symmetry else _as_is
        # One object per kind, shared by every initial state: a request that has not moved
        # is still that very object, so "has it started" is a test of identity, not a hash
        # of the whole request (which the independent reduction asks in every state).
        self._fresh = {k: self._new_request(k) for k in self.kinds}
        self._fresh_ids = frozenset(id(r) for r in self._fresh.values())
        self._memo: dict[tuple[Any, Req], _LocalMoves] = {}

    # -- states -----------------------------------------------------------------------------
    def new_request(self, rtype: str) -> Req:
        if rtype not in self.kinds:
            raise ValueError(f"{self.variant.name} serves no {rtype} requests (it serves "
                             f"{', '.join(self.kinds)})")
        return self._fresh[rtype]

    def _new_request(self, rtype: str) -> Req:
        # The caller's file: obtained by the variant's fdget if it has one (unset until
        # then), otherwise borrowed from the caller, who holds it for the whole call.
        return new_request(rtype, self.compiled.entry, borrowed=not self.has_fdget,
                           wq=self.compiled.wq_at_mount, pdu=self.compiled.pdu)

    def initial_states(self, n: int, kinds: Sequence[str] | None = None) -> list[State]:
        """Every mix of request types among ``n`` requests (one state per multiset), or
        exactly the given types."""
        if kinds is not None:
            for k in kinds:
                if k not in REQUEST_TYPES:
                    raise ValueError(f"unknown request type {k!r}")
                if k not in self.kinds:
                    raise ValueError(f"{self.variant.name} serves no {k} requests (it "
                                     f"serves {', '.join(self.kinds)})")
            return [self.canonical((1, *(self.new_request(k) for k in kinds)))]
        return [
            self.canonical((1, *(self.new_request(k) for k in mix)))
            for mix in combinations_with_replacement(self.kinds, n)
        ]

    @staticmethod
    def is_final(state: State) -> bool:
        """Every request has finished (and was collapsed to DONE)."""
        return all(r is DONE or r == DONE for r in state[1:])

    def final_violations(self, state: State) -> list[Violation]:
        """The end of the run: only the shared file's count is left to judge (each request
        was judged when its own actors finished)."""
        shared = state[0]
        if shared > 1:
            return [Violation("LEAK", f"{shared - 1} reference(s) on the shared backing file "
                              "were never dropped", "shared file")]
        if shared < 1:
            return [Violation("UAF", "a request dropped the owner's reference on the shared "
                              "backing file: the owner's final fput uses a freed file",
                              "shared file")]
        return []

    def request_end_violations(self, r: Req) -> list[Violation]:
        """The properties judged when every actor of one request has finished."""
        out: list[Violation] = []
        who = f"the {request_type(r)}"
        c = self.compiled
        if r.wrapper == Wrapper.LIVE and not c.pdu:
            # a pdu goes back with its request: COMPLETE_IFF_QUEUED judges that
            out.append(Violation("LEAK", f"{who}: the wrapper is never freed "
                                 f"(ref = {r.ref})", "wrapper"))
        if r.tmp_file > 0:
            out.append(Violation("LEAK", f"{who}: the file opened on the fly keeps "
                                 f"{r.tmp_file} reference(s)", "file opened on the fly"))
        want = c.expected_callbacks[r.kind][outcome_of(r)]
        if c.check_callbacks and r.callback_runs != want:
            out.append(Violation("CLEANUP_ONCE", f"{who}: the caller's callback ran "
                                 f"{r.callback_runs} time(s), the contract says {want} when the "
                                 f"request ends {outcome_of(r).replace('_', ' ')}"))
        queued = r.returned == Val.QUEUED
        if queued and r.ki_complete_runs != 1:
            out.append(Violation("COMPLETE_IFF_QUEUED", f"{who}: the call returned "
                                 f"-EIOCBQUEUED but ki_complete ran {r.ki_complete_runs} time(s)"))
        if not queued and r.ki_complete_runs != 0:
            out.append(Violation("COMPLETE_IFF_QUEUED", f"{who}: the call returned "
                                 f"{value_name(r.returned)} and ki_complete ran too"))
        if r.writers != 0:
            out.append(Violation("FREEZE_BALANCED", f"{who}: freeze protection still held "
                                 f"{r.writers} time(s) at the end"))
        return out

    # -- where each actor is ----------------------------------------------------------------
    def enabled_actors(self, r: Req) -> list[str]:
        if r == DONE:
            return []
        out = []
        if r.submitter_state == RUNNING and r.submitter:
            out.append(SUBMITTER)
        if r.lower == HOLDS_CLONE:
            out.append(LOWER)
        if r.completion_state in COMPLETION_MOVES:
            out.append(COMPLETION)
        if r.worker_state in WORKER_MOVES:
            out.append(WORKER)
        return out

    def stuck(self, r: Req) -> bool:
        """Not finished, and none of its actors can move: with no loops, for good (no
        request's step can enable another's)."""
        return r != DONE and not self.enabled_actors(r)

    def where(self, r: Req, actor: str) -> Where:
        c = self.compiled
        stack = stack_of(r, actor)
        if not stack:
            return Where("", -1, None)
        proc, pc, _v, _o = stack[-1]
        body = c.bodies[proc]
        return Where(c.proc_names[proc], pc, body[pc] if pc < len(body) else None)

    # -- successor function -----------------------------------------------------------------
    def successors(self, state: State, reduction: str = "dependent") -> Moves:
        """Every step enabled in ``state``: the canonical next state, or the violation the
        step commits. Among requests in identical local states only the first moves.

        ``reduction`` picks a partial-order reduction (only for variants whose control flow
        cannot loop, so the state graph is acyclic; otherwise it is ignored):

        - ``"none"``: every enabled step of every request.
        - ``"dependent"``: if some request can only take steps that leave the shared file's
          count alone, only that request moves. Requests share nothing else and none can
          enable or disable another's steps, so those steps form a persistent set; in an
          acyclic graph a persistent-set search reaches every final state and every
          violating step. A step that breaks a property ends its run, so it does not
          commute with the others' steps: a request that could break one never moves
          alone, and where no other request can, every request moves. A violation
          another request could commit all along is then met.
        - ``"independent"``: the first request that can move moves alone. This treats steps
          on the shared count as independent too, which holds while no request drops a
          shared reference it does not hold (the count then stays at least 1, every check
          on it passes and gets and puts commute). A step that over-drops raises
          ``ReductionUnsound``: the caller must search again with ``"dependent"``. The
          first over-drop of any run is itself reached by this search, so when it is not
          raised the search was exact.
        """
        if not self.acyclic:
            reduction = "none"
        reqs = state[1:]
        order: Sequence[int] = range(len(reqs))
        if reduction == "independent":
            # Keep moving the request that is under way: sorting reorders requests after
            # every step, and picking "the first" afresh would interleave them after all.
            fresh = self._fresh_ids
            for i, r in enumerate(reqs):
                if r != DONE and id(r) not in fresh:
                    order = (i,)
                    break
        everything: Moves = []
        symmetry = self.symmetry
        for i in order:
            if symmetry and i and reqs[i] == reqs[i - 1]:
                continue
            mine, local = self._moves(state, i, reduction == "independent")
            if mine and reduction == "independent":
                return mine
            # A step that breaks a property ends its run: it does not commute with the
            # others' steps (taken after it, they are not taken at all). So a request
            # that could break one does not move alone; if every request that could
            # move alone could, every request moves.
            if mine and reduction == "dependent" and local and not _violates(mine):
                return mine
            everything.extend(mine)
        return everything

    def _moves(self, state: State, i: int, independent: bool) -> tuple[Moves, bool]:
        """Every step of request ``i``, and whether none of them touches the shared file's
        count (the request moves on its own)."""
        shared, reqs = state[0], state[1:]
        local = self._local_moves(shared, reqs[i])
        if independent and local.over_drop is not None:
            raise ReductionUnsound(local.over_drop)
        mine: Moves = []
        canon = self.canonical
        for actor, choice, out in local.steps:
            action = Action(i, actor, choice)
            if isinstance(out, Violation):
                mine.append((action, out))
            else:
                mine.append((action, canon((out[0], *reqs[:i], out[1], *reqs[i + 1:]))))
        return mine, local.alone

    def _local_moves(self, shared: Any, r: Req) -> _LocalMoves:
        """The steps of request ``r`` when the shared file's count is ``shared``: what a
        step does depends on nothing else, so each pair is run through the statements
        once per search, however many states hold it with other requests around."""
        key = (shared, r)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = self._run_local(shared, r)
        return found

    def _run_local(self, shared: Any, r: Req) -> _LocalMoves:
        steps: list[tuple[str, str, Violation | tuple[Any, Req]]] = []
        alone = True
        over_drop: str | None = None
        for actor in self.enabled_actors(r):
            env = env_step(r, actor)
            for choice in self._choices(r, actor, env):
                s = _Step(self, shared, r, actor)
                try:
                    nr = self._run(s, choice, env)
                except Violation as v:
                    v.__traceback__ = None  # kept: its frames need not be
                    steps.append((actor, choice, v))
                    alone = alone and not s.touched_shared
                    if s.over_drop and over_drop is None:
                        over_drop = v.message
                    continue
                if s.over_drop and over_drop is None:
                    over_drop = actor
                alone = alone and not s.touched_shared
                if request_done(nr):
                    ends = self.request_end_violations(nr)
                    if ends:
                        steps.extend((actor, choice, v) for v in ends)
                        continue
                    nr = DONE
                steps.append((actor, choice, (s.shared, nr)))
        return _LocalMoves(tuple(steps), alone, over_drop)

    def apply(self, state: State, action: Action) -> State | list[Violation]:
        """Take ``action`` in ``state`` without reordering requests (for replay). Returns
        the next state, or every violation the step commits (a request's end can break
        several properties at once). Raises ValueError if the step is not enabled."""
        return self.apply_explained(state, action)[0]

    def apply_explained(self, state: State, action: Action
                        ) -> tuple[State | list[Violation], list[Effect]]:
        """``apply``, and what the step did (none when it breaks a property)."""
        r = state[1 + action.req]
        if action.actor not in self.enabled_actors(r):
            raise ValueError(f"{action.actor} of request {action.req} cannot move here")
        if action.choice not in self.choices(r, action.actor):
            raise ValueError(f"{action.actor} of request {action.req} has no choice "
                             f"{action.choice!r} here")
        effects: list[Effect] = []
        s = _Step(self, state[0], r, action.actor, effects)
        try:
            nr = self._run(s, action.choice, env_step(r, action.actor))
        except Violation as v:
            return [v], []
        if request_done(nr):
            ends = self.request_end_violations(nr)
            if ends:
                return ends, []
            nr = DONE
            s.note(Change.REQUEST_FINISHED)
        reqs = list(state[1:])
        reqs[action.req] = nr
        return (s.shared, *reqs), effects

    def choices(self, r: Req, actor: str) -> list[str]:
        """The environment's choices for ``actor``'s next step (all of them in CHOICES)."""
        return self._choices(r, actor, env_step(r, actor))

    def _choices(self, r: Req, actor: str, env: EnvStep | None) -> list[str]:
        if env is _COMPLETION_FIRES:
            return [Choice.RES_RES.value, Choice.RES_EIO.value]
        if env is not None:
            return [""]
        proc, pc, _v, _o = stack_of(r, actor)[-1]
        st = self.compiled.bodies[proc][pc]
        pick = _CHOICES.get(type(st))
        return pick(self.compiled, r, st) if pick is not None else [""]

    def step(self, shared: Any, r: Req, actor: str, choice: str) -> tuple[Any, Req]:
        """One step of ``actor`` on request ``r`` alone: the shared file's count and the
        request after it (not checked for its end), or the Violation it raises.
        backing_aio.verify.symbolic runs it on z3 terms."""
        s = _Step(self, shared, r, actor)
        nr = self._run(s, choice, env_step(r, actor))
        return s.shared, nr

    def _run(self, s: _Step, choice: str, env: EnvStep | None) -> Req:
        """The step: the environment's own ``env``, or the statement the actor is at."""
        if env is None:
            self._execute(s, choice)
        elif env is _LOWER_RETURNS:
            _lower_returns(s)
        elif env is _COMPLETION_FIRES:
            _completion_fires(s, choice)
        else:
            _work_starts(s)
        return s.done()

    def _execute(self, s: _Step, choice: str) -> None:
        """Run the statement the actor is at, then go where it says."""
        c = self.compiled
        proc, pc, s.v, s.orig = s.frame()
        s.proc, s.pc, s.next_pc = proc, pc, pc + 1
        c.runs[proc][pc](s, c.bodies[proc][pc], choice)
        if s.next_pc >= 0:
            s.set_frame(proc, s.next_pc, s.v, s.orig)
            s.unwind()


def _violates(moves: Moves) -> bool:
    return any(isinstance(nxt, Violation) for _, nxt in moves)


def _as_is(state: State) -> State:
    return state


# ---- the environment's own steps -----------------------------------------------------------

def _lower_returns(s: _Step) -> None:
    # L2: after queueing, the lower fs may still touch the clone and its file until it
    # returns. One touch right before returning covers every interleaving: the
    # completion may already have run, or not.
    s.wrapper("the lower filesystem, still inside submit, touches the clone")
    s.file_alive(s.r.clone_file, "the lower filesystem touches the clone's ki_filp")
    s.r.lower = Lower.RETURNED
    s.r.submitter_state = Submitter.RUNNING
    p, pc, _v, o = s.frame()
    s.set_frame(p, pc, int(Val.QUEUED), o)


def _completion_fires(s: _Step, choice: str) -> None:
    s.wrapper("the lower filesystem calls the clone's ki_complete")
    s.file_alive(s.r.clone_file, "the lower filesystem completes IO on the clone's ki_filp")
    res = Val.OK if choice == Choice.RES_RES else Val.ERR
    s.r.pos |= PosBit.IO_DONE | PosBit.CLONE_FINAL
    s.r.lower_result = res
    s.r.completion_state = Completion.RUNNING
    if s.r.fields & WrapperField.CALLER_COMP and s.r.kind == ReqKind.WRITE:
        # iomap with IOCB_DIO_CALLER_COMP on a queued write: ki_complete(iocb, 0), the real
        # completion (and its result) left to the issuer through iocb->dio_complete
        s.note(Change.CALLER_COMP_DEFERRED)
        s.push(s.r.ki_complete, int(Val.ZERO))
        return
    s.push(s.r.ki_complete, int(res))


def _work_starts(s: _Step) -> None:
    s.wrapper("the workqueue runs aio->work")
    s.r.worker_state = Worker.RUNNING
    s.push(s.r.work_proc, int(Val.NONE))


# ---- the statements ---------------------------------------------------------------------------
# One function per operation, registered for its statement class. Each runs the statement
# on the step: checks what it touches (a Violation), changes the request, sets ``s.v`` (ret)
# and ``s.orig``, and jumps (``s.jump``) or moves the frames itself (``s.next_pc = -1``).

S = TypeVar("S", bound=Stmt)
Run = Callable[[_Step, Any, str], None]
Pick = Callable[[_Compiled, Req, Any], list[str]]
_RUN: dict[type[Stmt], Run] = {}
_CHOICES: dict[type[Stmt], Pick] = {}


def _semantics(cls: type[S], choices: Callable[[_Compiled, Req, S], list[str]] | None = None
               ) -> Callable[[Callable[[_Step, S, str], None]], Callable[[_Step, S, str], None]]:
    """Register the function that runs statements of class ``cls`` (and, when the
    environment decides their outcome, the choices it has)."""

    def register(run: Callable[[_Step, S, str], None]) -> Callable[[_Step, S, str], None]:
        _RUN[cls] = run
        if choices is not None:
            _CHOICES[cls] = choices
        return run

    return register


def _fixed(*options: Choice) -> Callable[[_Compiled, Req, Stmt], list[str]]:
    spelled = [o.value for o in options]  # plain strings, as traces hold them
    return lambda _c, _r, _st: list(spelled)


@_semantics(KmemCacheZalloc, _fixed(Choice.ALLOC_OK, Choice.ALLOC_FAILS))
def _kmem_cache_zalloc(s: _Step, st: KmemCacheZalloc, choice: str) -> None:
    r = s.r
    if choice == Choice.ALLOC_FAILS:
        r.outcome |= OutcomeBit.ALLOC_FAILED
        r.expected = Val.ENOMEM
        s.jump(st.on_fail)
        return
    _fresh_wrapper(s, st)


@_semantics(KzallocNofail)
def _kzalloc_nofail(s: _Step, st: KzallocNofail, choice: str) -> None:
    _fresh_wrapper(s, st)


def _fresh_wrapper(s: _Step, st: Stmt) -> None:
    r = s.r
    if r.wrapper == Wrapper.LIVE:
        raise Violation("LEAK", f"{st.label}: a second wrapper overwrites a live one")
    s.set_wrapper(Wrapper.LIVE)
    s.set_ref(0)
    r.fields &= WrapperField.KEPT  # a fresh, zeroed wrapper; KEPT are not wrapper fields
    r.ki_complete = -1
    r.aio_res = Val.ZERO
    r.aio_fd = 0
    r.clone_file = File.NONE


@_semantics(KmemCacheFree)
def _kmem_cache_free(s: _Step, st: KmemCacheFree, choice: str) -> None:
    if s.r.wrapper == Wrapper.FREED:
        raise Violation("DOUBLE_FREE", f"{st.label}: the wrapper is freed a second time")
    if s.r.wrapper == Wrapper.NONE:
        raise Violation("UAF", f"{st.label}: frees a wrapper that was never allocated",
                        "wrapper")
    s.set_wrapper(Wrapper.FREED)


@_semantics(InitOrigIocb)
def _init_orig_iocb(s: _Step, st: InitOrigIocb, choice: str) -> None:
    s.wrapper(st.label)
    s.r.fields |= WrapperField.ORIG


@_semantics(InitCallback)
def _init_callback(s: _Step, st: InitCallback, choice: str) -> None:
    s.wrapper(st.label)
    s.r.fields |= WrapperField.CALLBACK


@_semantics(InitIsWrite)
def _init_is_write(s: _Step, st: InitIsWrite, choice: str) -> None:
    s.wrapper(st.label)
    s.r.fields |= WrapperField.IS_WRITE


def _orig_flags_choices(c: _Compiled, r: Req, st: Stmt) -> list[str]:
    """Whether the original kiocb carries IOCB_DIO_CALLER_COMP, when a step first copies
    its flags: only an async write can (io_uring sets it on writes), only on a kernel that
    has the flag."""
    if (c.dio_caller_comp and r.kind == ReqKind.WRITE and not is_sync(r)
            and not r.env & CALLER_COMP_DECIDED):
        return _CALLER_COMP_ANSWERS
    return [""]


_CALLER_COMP_ANSWERS: Final = [env_answer("caller_comp", True),
                               env_answer("caller_comp", False)]


def _orig_flags(s: _Step, choice: str) -> tuple[bool, bool]:
    """The original kiocb's IOCB_WRITE and IOCB_DIO_CALLER_COMP (deciding the latter the
    first time). init_sync_kiocb sets no IOCB_WRITE: only an async write carries it."""
    r = s.r
    write = r.kind == ReqKind.WRITE and not is_sync(r)
    if write and s.m.compiled.dio_caller_comp and not r.env & CALLER_COMP_DECIDED:
        r.env |= CALLER_COMP_DECIDED | (ORIG_CALLER_COMP if choice.endswith(": yes") else 0)
    return write, bool(r.env & ORIG_CALLER_COMP)


def _set_clone_flags(r: Draft, write: bool, caller_comp: bool) -> None:
    r.fields = ((r.fields & ~(WrapperField.WRITE | WrapperField.CALLER_COMP))
                | (WrapperField.WRITE if write else 0)
                | (WrapperField.CALLER_COMP if caller_comp else 0))


@_semantics(SetKiFlags, _orig_flags_choices)
def _set_ki_flags(s: _Step, st: SetKiFlags, choice: str) -> None:
    s.wrapper(st.label)
    write, caller_comp = _orig_flags(s, choice)
    masked = s.r.fields
    _set_clone_flags(s.r, write and not masked & WrapperField.FLAGS_NO_WRITE,
                     caller_comp and not masked & WrapperField.FLAGS_NO_CALLER_COMP)


@_semantics(ClearKiFlag)
def _clear_ki_flag(s: _Step, st: ClearKiFlag, choice: str) -> None:
    r = s.r
    write = st.flag == "IOCB_WRITE"
    if st.of == "flags":
        r.fields |= WrapperField.FLAGS_NO_WRITE if write else WrapperField.FLAGS_NO_CALLER_COMP
    else:
        s.wrapper(st.label)
        r.fields &= ~(WrapperField.WRITE if write else WrapperField.CALLER_COMP)


@_semantics(InitKiocb)
def _init_kiocb(s: _Step, st: InitKiocb, choice: str) -> None:
    r = s.r
    s.wrapper(st.label)
    fid = fd_file(r.real_fd)
    s.file_alive(fid, st.label)
    r.clone_file = fid
    _set_clone_flags(r, write=False, caller_comp=False)


@_semantics(SetKiComplete)
def _set_ki_complete(s: _Step, st: SetKiComplete, choice: str) -> None:
    s.wrapper(st.label)
    s.r.ki_complete = s.m.compiled.proc_index[st.proc]


@_semantics(KiocbClone, _orig_flags_choices)
def _kiocb_clone(s: _Step, st: KiocbClone, choice: str) -> None:
    r = s.r
    s.wrapper(st.label)
    fid = fd_file(r.real_fd)
    if st.get_file:
        s.file_get(fid, st.label)
    else:
        s.file_alive(fid, st.label)
    r.clone_file = fid
    # kiocb_clone copies ki_flags and ki_pos, not ki_complete
    _set_clone_flags(r, *_orig_flags(s, choice))
    r.ki_complete = -1


@_semantics(StoreRes)
def _store_res(s: _Step, st: StoreRes, choice: str) -> None:
    s.wrapper(st.label)
    s.r.aio_res = s.v


@_semantics(LoadRes)
def _load_res(s: _Step, st: LoadRes, choice: str) -> None:
    s.wrapper(st.label)
    s.v = s.r.aio_res


@_semantics(LoadOrig)
def _load_orig(s: _Step, st: LoadOrig, choice: str) -> None:
    s.wrapper(st.label)
    if not s.r.fields & WrapperField.ORIG:
        raise Violation("UAF", f"{st.label}: aio->orig_iocb was never set (NULL)",
                        "original kiocb")
    s.orig = 1


@_semantics(RefcountSet)
def _refcount_set(s: _Step, st: RefcountSet, choice: str) -> None:
    s.wrapper(st.label)
    s.set_ref(st.n)


@_semantics(RefcountInc)
def _refcount_inc(s: _Step, st: RefcountInc, choice: str) -> None:
    s.wrapper(st.label)
    if s.r.ref == 0:
        raise Violation("REF_UNDERFLOW", f"{st.label}: increments a count of zero")
    s.set_ref(s.r.ref + 1)


@_semantics(RefcountDecAndTest)
def _refcount_dec_and_test(s: _Step, st: RefcountDecAndTest, choice: str) -> None:
    s.wrapper(st.label)
    if s.r.ref == 0:
        raise Violation("REF_UNDERFLOW", f"{st.label}: decrements a count of zero")
    s.set_ref(s.r.ref - 1)
    if s.r.ref != 0:
        s.jump(st.else_goto)


@_semantics(FputClone)
def _fput_clone(s: _Step, st: FputClone, choice: str) -> None:
    s.wrapper(st.label)
    s.file_put(s.r.clone_file, st.label)


@_semantics(Fdget, _fixed(Choice.FD_BORROWED, Choice.FD_OPENED, Choice.FD_FAILS))
def _fdget(s: _Step, st: Fdget, choice: str) -> None:
    r = s.r
    if r.tmp_file > 0:
        raise Violation("LEAK", f"{st.label}: a second fdget loses the first open file")
    s.orig_alive(st.label)
    if choice == Choice.FD_FAILS:
        # ovl_real_fdget failed (lower data not verified, no real dentry, the reopen or
        # the flags change failed): an error the caller must return, and no file to use
        r.real_fd = fd(File.NONE)
        _early_error(s)
        return
    if choice == Choice.FD_BORROWED:
        r.real_fd = fd(File.SHARED)
    else:
        s.note(Change.OPENED_FILE_REFS, r.tmp_file, 1)
        r.tmp_file = 1
        r.real_fd = fd(File.TMP, fput=True)
    s.v = Val.ZERO  # ret = ovl_real_fdget(file, &real): 0 once it has a file


@_semantics(Fdput)
def _fdput(s: _Step, st: Fdput, choice: str) -> None:
    if s.r.real_fd & FDPUT_FPUT:
        s.file_put(fd_file(s.r.real_fd), st.label)


@_semantics(FdClearFlags)
def _fd_clear_flags(s: _Step, st: FdClearFlags, choice: str) -> None:
    s.r.real_fd &= ~FDPUT_FPUT


@_semantics(FdMoveToWrapper)
def _fd_move_to_wrapper(s: _Step, st: FdMoveToWrapper, choice: str) -> None:
    s.wrapper(st.label)
    s.r.aio_fd = s.r.real_fd


@_semantics(FdputWrapper)
def _fdput_wrapper(s: _Step, st: FdputWrapper, choice: str) -> None:
    s.wrapper(st.label)
    if s.r.aio_fd & FDPUT_FPUT:
        s.file_put(fd_file(s.r.aio_fd), st.label)


@_semantics(GetFile)
def _get_file(s: _Step, st: GetFile, choice: str) -> None:
    s.file_get(fd_file(s.r.real_fd), st.label)


@_semantics(FileStartWrite)
def _file_start_write(s: _Step, st: FileStartWrite, choice: str) -> None:
    s.file_alive(fd_file(s.r.real_fd), st.label)
    s.start_write(st.label, released=False)


@_semantics(FileEndWrite)
def _file_end_write(s: _Step, st: FileEndWrite, choice: str) -> None:
    s.file_alive(fd_file(s.r.real_fd), st.label)
    s.end_write(st.label, acquired=False)


@_semantics(SbWritersRelease)
def _sb_writers_release(s: _Step, st: SbWritersRelease, choice: str) -> None:
    s.file_alive(fd_file(s.r.real_fd), st.label)
    s.release_write(st.label)


@_semantics(KiocbStartWrite)
def _kiocb_start_write(s: _Step, st: KiocbStartWrite, choice: str) -> None:
    s.wrapper(st.label)
    s.file_alive(s.r.clone_file, st.label)
    s.start_write(st.label, released=True)


@_semantics(KiocbEndWrite)
def _kiocb_end_write(s: _Step, st: KiocbEndWrite, choice: str) -> None:
    s.wrapper(st.label)
    s.file_alive(s.r.clone_file, st.label)
    s.end_write(st.label, acquired=True)


@_semantics(VfsIter, _fixed(Choice.RETURNS_RES, Choice.RETURNS_EIO))
def _vfs_iter(s: _Step, st: VfsIter, choice: str) -> None:
    r = s.r
    s.file_alive(fd_file(r.real_fd), st.label)
    s.orig_alive(st.label)
    s.write_protected(st.label)
    if r.kind == ReqKind.WRITE and s.m.compiled.callee_freeze and r.writers > 0:
        raise Violation("FREEZE_BALANCED", f"{st.label}: vfs_iter_write starts freeze "
                        "protection itself on this kernel, and the request already holds it "
                        "(nested sb_start_write: a freeze waiting between the two deadlocks)")
    s.submit_once(st.label)
    res = Val.OK if choice == Choice.RETURNS_RES else Val.ERR
    # The IO advances the original kiocb's ki_pos itself (&iocb->ki_pos).
    before = r.pos
    r.pos |= PosBit.IO_DONE | PosBit.ORIG_SYNCED
    s.pos_moved(before)
    r.expected = r.lower_result = s.v = res
    # Under the callee contract vfs_iter_write starts and ends freeze protection itself,
    # balanced: nothing is left for the caller, and nothing may be held (it would nest).


def _vfs_iocb_iter_choices(c: _Compiled, r: Req, st: Stmt) -> list[str]:
    if r.wrapper == Wrapper.LIVE and r.ki_complete < 0:
        # No ki_complete: the clone is a sync kiocb, so the lower fs cannot queue it.
        return [Choice.RETURNS_RES.value, Choice.RETURNS_EIO.value]
    return [Choice.RETURNS_RES.value, Choice.RETURNS_EIO.value, Choice.QUEUES.value]


@_semantics(VfsIocbIter, _vfs_iocb_iter_choices)
def _vfs_iocb_iter(s: _Step, st: VfsIocbIter, choice: str) -> None:
    r = s.r
    s.wrapper(st.label)
    s.file_alive(fd_file(r.real_fd), st.label)
    s.file_alive(r.clone_file, st.label)
    s.write_protected(st.label)
    _submit(s, st, choice, s.m.compiled.callee_freeze and r.kind == ReqKind.WRITE)


@_semantics(FileRemovePrivs, _fixed(Choice.PRIVS_OK, Choice.PRIVS_FAILS))
def _file_remove_privs(s: _Step, st: FileRemovePrivs, choice: str) -> None:
    s.orig_alive(st.label)  # file_remove_privs(iocb->ki_filp) / (ctx->user_file)
    _context(s, st.label, s.m.compiled.process_chain["file_remove_privs"])
    if choice == Choice.PRIVS_FAILS:
        _early_error(s)
    else:
        s.v = Val.ZERO


def _early_error(s: _Step) -> None:
    """A call before any IO failed: its error is the request's result."""
    s.r.outcome |= OutcomeBit.EARLY
    s.r.expected = s.v = Val.ERR


@_semantics(FopIter, _vfs_iocb_iter_choices)
def _f_op_iter(s: _Step, st: FopIter, choice: str) -> None:
    r = s.r
    s.wrapper(st.label)
    s.file_alive(r.clone_file, st.label)
    if r.kind == ReqKind.WRITE and r.writers <= 0:
        # f_op->write_iter never takes freeze protection itself, on any kernel
        raise Violation("FREEZE_BALANCED", f"{st.label}: the write is issued without freeze "
                        "protection")
    _submit(s, st, choice, False)


def _submit(s: _Step, st: Stmt, choice: str, callee_freeze: bool) -> None:
    """The lower filesystem takes the clone: returns a result, or queues it and is still
    inside submit (L2). ``callee_freeze``: the call starts freeze protection of the write
    itself and ends it unless it queued (vfs_iocb_iter_write from v6.8)."""
    r = s.r
    s.submit_once(st.label)
    if callee_freeze:
        s.start_write(st.label, released=True)  # vfs_iocb_iter_write: kiocb_start_write
    if choice == Choice.QUEUES:
        r.submitter_state = Submitter.IN_SUBMIT
        r.lower = Lower.HOLDS_CLONE
        r.completion_state = Completion.ARMED
        s.note(Change.COMPLETION_ARMED)
        r.expected = Val.QUEUED
        s.v = int(Val.NONE)  # set when the lower filesystem returns
        return
    res = Val.OK if choice == Choice.RETURNS_RES else Val.ERR
    r.pos |= PosBit.IO_DONE | PosBit.CLONE_FINAL
    r.expected = r.lower_result = s.v = res
    # An error of vfs_iocb_iter_write's own checks (rw_verify_area, the f_mode tests)
    # returns before kiocb_start_write: no start, no end. The step is atomic, so that is
    # the same state as a start and an end around a failed IO (a nested start is seen
    # either way: the IO path starts it).
    if callee_freeze:
        s.end_write("vfs_iocb_iter_write (not queued)", acquired=True)


def _init_wq_choices(c: _Compiled, r: Req, st: InitWq) -> list[str]:
    # sb_init_dio_done_wq can fail (allocation) only while the queue is not set up
    if r.fields & WrapperField.WQ:
        return [Choice.WQ_OK.value]
    return [Choice.WQ_OK.value, Choice.WQ_FAILS.value]


@_semantics(InitWq, _init_wq_choices)
def _init_wq(s: _Step, st: InitWq, choice: str) -> None:
    s.orig_alive(st.label)
    if choice == Choice.WQ_FAILS:
        s.r.outcome |= OutcomeBit.WQ_FAILED
        s.r.expected = s.v = Val.ENOMEM
        s.jump(st.on_fail)
    else:
        s.v = Val.ZERO
        s.r.fields |= WrapperField.WQ


@_semantics(UpdatePos)
def _update_pos(s: _Step, st: UpdatePos, choice: str) -> None:
    r = s.r
    s.wrapper(st.label)
    s.orig_field(st.label)
    before = r.pos
    if r.pos & PosBit.CLONE_FINAL:
        r.pos |= PosBit.ORIG_SYNCED
    else:
        r.pos &= ~PosBit.ORIG_SYNCED  # a stale position, copied before the IO finished
    s.pos_moved(before)


@_semantics(Callback)
def _callback(s: _Step, st: Callback, choice: str) -> None:
    r, what = s.r, st.label
    runs = True
    if st.via == "wrapper":
        s.wrapper(what)
        runs = bool(r.fields & WrapperField.CALLBACK)  # if (aio->cleanup)
        if runs:
            s.orig_field(what)
    else:
        if st.via == "ctx" and r.submitter_state == Submitter.RETURNED:
            raise Violation("UAF", f"{what}: reads the caller's ctx, which lived on the "
                            "stack of a call that has returned", "caller's stack (use after "
                            "return)")
        s.orig_alive(what)
    if not runs:
        return
    c = s.m.compiled
    allowed = c.callbacks_for[r.kind]
    if allowed and st.fn not in allowed:
        raise Violation("CLEANUP_ONCE", f"{what}: runs {st.fn} for a {KINDS[r.kind]}, but "
                        f"{c.variant.caller} hands over {', '.join(sorted(allowed))} for it")
    body = c.proc_index.get(st.fn)
    if body is None:
        _context(s, what, c.process_chain[st.fn])
    before = r.callback_runs
    r.callback_runs += 1
    s.note(Change.CALLBACK_RUNS, before, r.callback_runs)
    if r.callback_runs > 1:
        raise Violation("CLEANUP_ONCE", f"{what}: the caller's callback runs a second time")
    if st.reads_pos:
        s.pos_check(f"{what} (the caller's callback)")
    if st.passes_result:
        s.result_check(s.v, f"{what} (the caller's callback)")
    if body is not None:  # the callback's body runs as a call in this actor
        s.set_frame(s.proc, s.pc, s.v, s.orig)
        s.push(body, s.v)
        s.unwind()
        s.next_pc = -1


def _context(s: _Step, what: str, chain: tuple[str, ...]) -> None:
    if s.irq and chain:
        raise Violation("CONTEXT", f"{what}: runs in the completion, which may be in irq "
                        f"context, but {' -> '.join(chain)} needs process context on "
                        f"{s.m.compiled.kernel} ({kapi.function(chain[-1]).why})")


@_semantics(KCall)
def _kcall(s: _Step, st: KCall, choice: str) -> None:
    _context(s, st.label, s.m.compiled.process_chain[st.fn])


@_semantics(KiComplete)
def _ki_complete(s: _Step, st: KiComplete, choice: str) -> None:
    r, what = s.r, st.label
    if not s.orig:
        raise Violation("UAF", f"{what}: orig_iocb was never loaded (NULL)", "original kiocb")
    s.orig_alive(what)
    if is_sync(r):
        raise Violation("COMPLETE_IFF_QUEUED", f"{what}: the original kiocb is sync: it has no "
                        "ki_complete")
    s.pos_check(f"{what} (the upper layer's completion)")
    s.result_check(s.v, what)
    before = r.ki_complete_runs
    r.ki_complete_runs += 1
    s.note(Change.KI_COMPLETE_RUNS, before, r.ki_complete_runs)
    if r.ki_complete_runs > 1:
        raise Violation("COMPLETE_IFF_QUEUED", f"{what}: ki_complete runs a second time")
    if r.submitter_state == Submitter.RETURNED and r.returned != Val.QUEUED:
        raise Violation("COMPLETE_IFF_QUEUED", f"{what}: ki_complete runs although the call "
                        f"returned {value_name(r.returned)}")
    if s.m.compiled.pdu:
        # blk_mq_complete_request: the request, and the pdu in it, belong to blk-mq again
        s.wrapper(what)
        s.set_wrapper(Wrapper.FREED)


@_semantics(QueueWork)
def _queue_work(s: _Step, st: QueueWork, choice: str) -> None:
    r, what = s.r, st.label
    s.wrapper(what)
    if st.sb == "lower":
        # file_inode(aio->iocb.ki_filp)->i_sb: the backing filesystem's superblock, whose
        # queue the helpers never set up
        s.file_alive(r.clone_file, what)
        raise Violation("UAF", f"{what}: queues on the backing filesystem's s_dio_done_wq, "
                        "which the helpers never set up: it may be NULL", "s_dio_done_wq")
    s.orig_field(what)  # file_inode(aio->orig_iocb->ki_filp)->i_sb->s_dio_done_wq
    if not r.fields & WrapperField.WQ:
        raise Violation("UAF", f"{what}: s_dio_done_wq may be NULL: this request never "
                        "ensured it (backing_aio_init_wq)", "s_dio_done_wq")
    if r.worker_state in (Worker.IDLE, Worker.DONE):
        r.worker_state = Worker.PENDING
        r.work_proc = s.m.compiled.proc_index[st.proc]
        s.note(Change.WORK_QUEUED)
    # already pending or running: queue_work() returns false and queues nothing


def _if_goto_choices(c: _Compiled, r: Req, st: IfGoto) -> list[str]:
    name = st.condition
    if name in ENV_BIT and not r.env & ENV_BIT[name]:
        return [env_answer(name, True), env_answer(name, False)]
    return [""]


@_semantics(IfGoto, _if_goto_choices)
def _if_goto(s: _Step, st: IfGoto, choice: str) -> None:
    if _condition(s, st.condition, choice, st.label) != st.negated:
        s.jump(st.target)


@_semantics(Goto)
def _goto(s: _Step, st: Goto, choice: str) -> None:
    s.jump(st.target)


@_semantics(Call)
def _call(s: _Step, st: Call, choice: str) -> None:
    s.set_frame(s.proc, s.pc, s.v, s.orig)
    s.push(s.m.compiled.proc_index[st.proc], s.v)
    s.unwind()
    s.next_pc = -1


@_semantics(Assign)
def _assign(s: _Step, st: Assign, choice: str) -> None:
    s.v = _value(st.value, s.v)


@_semantics(Return)
def _return_stmt(s: _Step, st: Return, choice: str) -> None:
    if st.value is None and len(s.stack) == 1 and s.actor == SUBMITTER:
        # a void submitter (the bio shape): the bio ends only through its completion
        _return(s, Val.QUEUED, st.label)
        s.next_pc = -1
    elif st.value is None:
        s.next_pc = len(s.m.compiled.bodies[s.proc])
    else:
        _return(s, _value(st.value, s.v), st.label)
        s.next_pc = -1


_missing = [cls.op for cls in STATEMENTS if cls not in _RUN]
if _missing:  # pragma: no cover - a new operation needs its semantics here
    raise AssertionError(f"no semantics for {', '.join(_missing)}")


def _condition(s: _Step, name: str, choice: str, what: str) -> bool:
    r, v = s.r, s.v
    if name == "queued":
        return bool(v == Val.QUEUED)
    if name == "error":
        return v in NEGATIVE
    if name == "write":
        s.wrapper(what)
        return bool(r.fields & WrapperField.WRITE)
    if name == "is_write":
        s.wrapper(what)
        return bool(r.fields & WrapperField.IS_WRITE)
    if name == "req_write":
        return bool(r.kind == ReqKind.WRITE)
    if name == "orig_write":
        # init_sync_kiocb sets no IOCB_WRITE: only an async write's original carries it
        s.orig_alive(what)
        return bool(r.kind == ReqKind.WRITE) and not is_sync(r)
    bit = ENV_BIT[name]
    if r.env & bit:
        truth = bool(r.env & (bit << 1))
    else:
        truth = choice.endswith(": yes")
        r.env |= bit | ((bit << 1) if truth else 0)
    if truth and name == "zero_length":
        r.outcome |= OutcomeBit.EARLY
        r.expected = Val.ZERO
    elif truth and name == "odirect_unsupported":
        r.outcome |= OutcomeBit.EARLY
        r.expected = Val.EINVAL
    elif truth and name == "not_backing":
        r.outcome |= OutcomeBit.EARLY
        r.expected = Val.ERR
    return truth


def _return(s: _Step, value: int, what: str) -> None:
    r = s.r
    stack = s.stack
    if len(stack) > 1:  # a procedure returns a value to its caller
        p, pc, _v, o = stack[-2]
        s.stack = (*stack[:-2], (p, pc + 1, value, o))
        s.unwind()
        return
    if s.actor != SUBMITTER:  # a completion's handler returns void: the value is dropped
        p, pc, v, o = stack[-1]
        s.set_frame(p, len(s.m.compiled.bodies[p]), v, o)
        s.unwind()
        return
    if value == Val.NONE:
        raise Violation("RESULT_PROPAGATED", f"{what}: returns ret, which was never set")
    if value == Val.QUEUED and is_sync(r):
        raise Violation("COMPLETE_IFF_QUEUED", f"{what}: returns -EIOCBQUEUED for a sync "
                        "kiocb, which has no ki_complete")
    if value != r.expected and (s.m.compiled.stacked or value != Val.QUEUED):
        # a block request or bio is completed through its completion, whatever the lower
        # filesystem did: only an early error comes back as the call's value
        raise Violation(
            "RESULT_PROPAGATED",
            f"{what}: the call returns {value_name(value)}, but the caller must see "
            f"{value_name(r.expected)}",
        )
    if value != Val.QUEUED:
        # The upper layer finishes the request now and reads ki_pos (f_pos update).
        s.pos_check("the upper layer, after the call returned")
        if r.ki_complete_runs:
            raise Violation("COMPLETE_IFF_QUEUED", f"{what}: the call returns "
                            f"{value_name(value)} after ki_complete already ran")
    s.note(Change.RETURNED, r.returned, value)
    r.submitter_state = Submitter.RETURNED
    r.returned = value
    s.stack = ()


def _acyclic(variant: Variant) -> bool:
    """True when no run can loop: every jump goes forward and no procedure calls itself,
    directly or not. Then every step makes progress and the state graph is acyclic."""
    calls: dict[str, set[str]] = {}
    for name, body in variant.procs.items():
        tags = {s.tag: i for i, s in enumerate(body) if s.tag is not None}
        tags[END] = len(body)
        calls[name] = set()
        for i, st in enumerate(body):
            if any(tags[t] <= i for t in st.jump_targets()):
                return False
            callee = called(variant, st)
            if callee is not None:
                calls[name].add(callee)
    seen: set[str] = set()
    done: set[str] = set()

    def cyclic(p: str) -> bool:
        if p in done:
            return False
        if p in seen:
            return True
        seen.add(p)
        if any(cyclic(q) for q in calls[p]):
            return True
        done.add(p)
        return False

    return not any(cyclic(p) for p in calls)
