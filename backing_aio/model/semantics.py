"""The state machine: N concurrent requests on one shared backing file.

This module is the semantics. A state is a tuple ``(shared, req_0, ..., req_{N-1})``:
``shared`` is the reference count of the backing file the requests share (1 at the start:
the upper file's own reference, which it keeps for the whole run), and each ``req_i`` is a
flat tuple of small integers describing one request, its wrapper and its actors (indexes
``R_*`` below). Requests interact only through ``shared``, so requests in the same local
state are interchangeable: ``canonical`` sorts them (symmetry reduction).

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

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations_with_replacement
from typing import Any, Final

from backing_aio.model.lang import (
    END,
    NEGATIVE,
    OPS,
    VALUE_SPELLING,
    Stmt,
    Val,
    Variant,
    value_name,
)
from backing_aio.model.properties import Violation
from backing_aio.vocab import ACTORS as ACTORS  # re-exported for the model's users
from backing_aio.vocab import CHOICES as CHOICES
from backing_aio.vocab import ENV_CONDITIONS, KINDS, Actor
from backing_aio.vocab import REQUEST_TYPES as REQUEST_TYPES

# ---- request tuple layout -------------------------------------------------------------
R_KIND = 0  # 0 read, 1 write
R_ENV = 1  # decided environment facts, 2 bits each: known, value
R_SUB = 2  # submitter's stack of frames (proc, pc, v, orig_loaded)
R_SUBST = 3  # submitter: 0 running, 1 inside submit (the IO is queued), 2 returned
R_RET = 4  # the value the call returned (Val)
R_LOWER = 5  # lower fs: 0 not holding the clone, 1 queued and still inside submit, 2 returned
R_COMP = 6  # completion's stack
R_COMPST = 7  # completion: 0 not armed, 1 armed (may fire), 2 running, 3 done
R_WORK = 8  # worker's stack
R_WORKST = 9  # worker: 0 idle, 1 pending, 2 running, 3 done
R_WORKPROC = 10  # procedure the work item runs
R_AIO = 11  # wrapper: 0 never allocated, 1 live, 2 freed
R_REF = 12  # wrapper's refcount
R_FIELDS = 13  # wrapper fields set: F_ORIG, F_CALLBACK, F_WRITE (IOCB_WRITE in the clone)
R_KIC = 14  # clone's ki_complete: procedure index, or -1 (NULL: a sync kiocb)
R_RES = 15  # aio->res
R_AIOFD = 16  # aio->fd: file * 2 + FDPUT_FPUT
R_CLONEF = 17  # clone's ki_filp: file id
R_REAL = 18  # the caller's struct fd: file * 2 + FDPUT_FPUT
R_TMP = 19  # the file opened on the fly: -1 never opened, >0 its count, 0 freed
R_CB = 20  # runs of the caller's callback
R_KC = 21  # runs of the original kiocb's ki_complete
R_WR = 22  # freeze protection held (starts minus ends)
R_POS = 23  # P_IO_DONE, P_CLONE_FINAL, P_ORIG_SYNCED
R_OUT = 24  # O_SUBMITTED, O_ALLOC_FAILED, O_WQ_FAILED, O_EARLY
R_EXP = 25  # the result the caller must see (set by the environment's events)
R_LRES = 26  # the lower filesystem's result for this request (sync result or completion res)
R_SHREF = 27  # references on the shared file this request holds (gets minus puts)
R_LEN = 28

FIELD_NAMES: Final[tuple[str, ...]] = (
    "kind", "env", "submitter", "submitter_state", "returned", "lower", "completion",
    "completion_state", "worker", "worker_state", "work_proc", "wrapper", "ref", "fields",
    "ki_complete", "aio_res", "aio_fd", "clone_file", "real_fd", "tmp_file",
    "callback_runs", "ki_complete_runs", "writers", "pos", "outcome", "expected",
    "lower_result", "shared_refs",
)
assert len(FIELD_NAMES) == R_LEN

F_ORIG, F_CALLBACK, F_WRITE, F_WQ = 1, 2, 4, 8  # F_WQ: this request ensured s_dio_done_wq
P_IO_DONE, P_CLONE_FINAL, P_ORIG_SYNCED = 1, 2, 4
O_SUBMITTED, O_ALLOC_FAILED, O_WQ_FAILED, O_EARLY = 1, 2, 4, 8
FILE_NONE, FILE_SHARED, FILE_TMP = 0, 1, 2
AIO_NONE, AIO_LIVE, AIO_FREED = 0, 1, 2

SUBMITTER: Final[str] = Actor.SUBMITTER
LOWER: Final[str] = Actor.LOWER
COMPLETION: Final[str] = Actor.COMPLETION
WORKER: Final[str] = Actor.WORKER
ENV_BIT: Final[dict[str, int]] = {name: 1 << (2 * i) for i, name in enumerate(ENV_CONDITIONS)}

State = tuple[Any, ...]  # (shared, req, req, ...)
Req = tuple[Any, ...]


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


class ReductionUnsound(Exception):
    """A step dropped a shared-file reference its request did not hold: requests are not
    independent in this variant, so the "independent" reduction does not apply."""


class _Compiled:
    """A variant with names resolved to indexes, for fast stepping."""

    def __init__(self, variant: Variant) -> None:
        self.variant = variant
        self.proc_names: list[str] = list(variant.procs)
        self.proc_index = {name: i for i, name in enumerate(self.proc_names)}
        self.bodies: list[tuple[Stmt, ...]] = [variant.procs[n] for n in self.proc_names]
        self.jump: list[dict[str, int]] = []
        for body in self.bodies:
            tags = {s.tag: i for i, s in enumerate(body) if s.tag is not None}
            tags[END] = len(body)
            self.jump.append(tags)
        self.entry = tuple(self.proc_index[variant.entry[k]] for k in KINDS)
        self.callee_freeze = variant.freeze == "callee"
        self.expected_callbacks = tuple(
            {o: variant.callbacks.get(k, {}).get(o, 0) for o in ("submitted", "alloc_failed",
                                                             "wq_failed", "early")}
            for k in KINDS
        )
        self.process_context = tuple(k in variant.process_context for k in KINDS)


def _value(spelling: str | None, v: int) -> int:
    if spelling is None or spelling == "ret":
        return v
    return int(VALUE_SPELLING[spelling])


# A request whose actors have all finished, once its own end-of-request properties were
# judged: it can influence nothing but the shared file's count (which is global), so all
# finished requests are the same state. Sorts before every live request.
DONE: Final[Req] = (-1,)


def request_type(r: Req) -> str:
    sync = "sync-" if r[R_ENV] & (ENV_BIT["sync_kiocb"] << 1) else ""
    return sync + KINDS[r[R_KIND]]


def request_done(r: Req) -> bool:
    return (
        r[R_SUBST] == 2 and r[R_LOWER] != 1 and r[R_COMPST] not in (1, 2)
        and r[R_WORKST] not in (1, 2)
    )


def outcome_of(r: Req) -> str:
    out = r[R_OUT]
    if out & O_SUBMITTED:
        return "submitted"
    if out & O_ALLOC_FAILED:
        return "alloc_failed"
    if out & O_WQ_FAILED:
        return "wq_failed"
    return "early"


class _Step:
    """Executes one step of one actor on a mutable copy of a request."""

    __slots__ = ("actor", "irq", "m", "over_drop", "r", "shared", "stack_at", "touched_shared")

    def __init__(self, m: BackingAio, shared: int, r: Req, actor: str) -> None:
        self.m = m
        self.r: list[Any] = list(r)
        self.shared = shared
        self.actor = actor
        # the lower filesystem runs on the submitter's stack: it is the same task, inside submit
        self.stack_at = {COMPLETION: R_COMP, WORKER: R_WORK}.get(actor, R_SUB)
        self.irq = actor == COMPLETION
        # Set when the step reads or writes the shared file's count: the only thing requests
        # share, hence the only way one request's step can depend on another's.
        self.touched_shared = False
        # Set when the step drops a shared-file reference this request does not hold.
        self.over_drop = False

    # -- memory and lifetime checks -----------------------------------------------------
    def wrapper(self, what: str) -> None:
        state = self.r[R_AIO]
        if state == AIO_LIVE:
            return
        if state == AIO_NONE:
            raise Violation("UAF", f"{what}: the wrapper was never allocated (aio is NULL)",
                            "wrapper")
        raise Violation("UAF", f"{what}: the wrapper was already freed", "wrapper")

    def orig(self, what: str) -> None:
        r = self.r
        alive = r[R_SUBST] != 2 or (r[R_RET] == Val.QUEUED and r[R_KC] == 0)
        if not alive:
            raise Violation(
                "UAF", f"{what}: the original kiocb was already completed and freed by the "
                "upper layer", "original kiocb"
            )

    def orig_field(self, what: str) -> None:
        if not self.r[R_FIELDS] & F_ORIG:
            raise Violation("UAF", f"{what}: aio->orig_iocb was never set (NULL dereference)",
                            "original kiocb")
        self.orig(what)

    def file_alive(self, fid: int, what: str) -> None:
        if fid == FILE_SHARED:
            self.touched_shared = True
        if fid == FILE_NONE:
            raise Violation("UAF", f"{what}: no file (NULL ki_filp)", "ki_filp")
        count = self.shared if fid == FILE_SHARED else self.r[R_TMP]
        if count <= 0:
            name = "shared file" if fid == FILE_SHARED else "file opened on the fly"
            raise Violation(
                "UAF", f"{what}: the {name} is used after its last reference was dropped", name
            )

    def file_get(self, fid: int, what: str) -> None:
        self.file_alive(fid, what)
        if fid == FILE_SHARED:
            self.shared += 1
            self.r[R_SHREF] += 1
        else:
            self.r[R_TMP] += 1

    def file_put(self, fid: int, what: str) -> None:
        if fid == FILE_SHARED:
            self.over_drop = self.over_drop or self.r[R_SHREF] <= 0
            self.r[R_SHREF] -= 1
        self.file_alive(fid, what)
        if fid == FILE_SHARED:
            self.shared -= 1
        else:
            self.r[R_TMP] -= 1

    # -- freeze protection ----------------------------------------------------------------
    def start_write(self) -> None:
        self.r[R_WR] += 1

    def write_protected(self, what: str) -> None:
        """Under the caller contract a write reaches the lower fs only under protection."""
        if self.r[R_KIND] == 1 and not self.m.compiled.callee_freeze and self.r[R_WR] <= 0:
            raise Violation("FREEZE_BALANCED", f"{what}: the write is issued without freeze "
                            "protection")

    def submit_once(self, what: str) -> None:
        if self.r[R_OUT] & O_SUBMITTED:
            raise Violation("RESULT_PROPAGATED", f"{what}: the request is submitted to the "
                            "lower filesystem a second time (the IO runs twice; the first "
                            "result is lost)")
        self.r[R_OUT] |= O_SUBMITTED

    def end_write(self, what: str) -> None:
        if self.r[R_WR] <= 0:
            raise Violation("FREEZE_BALANCED", f"{what} ends freeze protection that is not held")
        self.r[R_WR] -= 1

    # -- frames -----------------------------------------------------------------------------
    def frame(self) -> tuple[int, int, int, int]:
        stack = self.r[self.stack_at]
        return stack[-1]  # type: ignore[no-any-return]

    def set_frame(self, proc: int, pc: int, v: int, orig: int) -> None:
        stack = self.r[self.stack_at]
        self.r[self.stack_at] = (*stack[:-1], (proc, pc, v, orig))

    def push(self, proc: int, v: int) -> None:
        self.r[self.stack_at] = self.r[self.stack_at] + ((proc, 0, v, 0),)

    def unwind(self) -> None:
        """Pop every frame that ran off its end; mark the actor done when none is left."""
        m = self.m.compiled
        stack = self.r[self.stack_at]
        while stack and stack[-1][1] >= len(m.bodies[stack[-1][0]]):
            stack = stack[:-1]
            if stack:  # the caller continues after its call statement
                p, pc, v, o = stack[-1]
                stack = (*stack[:-1], (p, pc + 1, v, o))
        self.r[self.stack_at] = stack
        if not stack:
            if self.actor == COMPLETION:
                self.r[R_COMPST] = 3
            elif self.actor == WORKER:
                self.r[R_WORKST] = 3
            else:  # pragma: no cover - entry procedures end in return or goto (validated)
                raise AssertionError("submitter ran off its entry procedure")

    def result_check(self, got: int, what: str) -> None:
        want = self.r[R_LRES]
        if want == Val.NONE:
            raise Violation("RESULT_PROPAGATED", f"{what} runs before the lower filesystem "
                            "produced a result")
        if got != want:
            raise Violation(
                "RESULT_PROPAGATED",
                f"{what} gets {value_name(got)}, but the lower filesystem's result is "
                f"{value_name(want)}",
            )

    def pos_check(self, who: str) -> None:
        pos = self.r[R_POS]
        if pos & P_IO_DONE and not pos & P_ORIG_SYNCED:
            raise Violation(
                "POS_BEFORE_CALLBACK",
                f"{who} reads the original kiocb's ki_pos before it was updated from the clone",
            )


class BackingAio:
    """The model of one variant: initial states, enabled steps, successor function."""

    def __init__(self, variant: Variant) -> None:
        self.variant = variant
        self.compiled = _Compiled(variant)
        self.acyclic = _acyclic(variant)
        self.has_fdget = any(st.op == "fdget" for b in variant.procs.values() for st in b)
        self.fresh = frozenset(self.new_request(k) for k in REQUEST_TYPES)

    # -- states -----------------------------------------------------------------------------
    def new_request(self, rtype: str) -> Req:
        r: list[Any] = [0] * R_LEN
        r[R_KIND] = 0 if rtype.endswith("read") else 1
        sync = ENV_BIT["sync_kiocb"]
        r[R_ENV] = sync | ((sync << 1) if rtype.startswith("sync-") else 0)
        r[R_SUB] = ((self.compiled.entry[r[R_KIND]], 0, int(Val.NONE), 0),)
        r[R_COMP] = ()
        r[R_WORK] = ()
        r[R_RET] = Val.NONE
        r[R_KIC] = -1
        r[R_WORKPROC] = -1
        # The caller's file: obtained by the variant's fdget if it has one (unset until
        # then), otherwise borrowed from the caller, who holds it for the whole call.
        r[R_REAL] = FILE_NONE if self.has_fdget else FILE_SHARED * 2
        r[R_TMP] = -1
        r[R_EXP] = Val.NONE
        r[R_LRES] = Val.NONE
        r[R_RES] = Val.NONE
        return tuple(r)

    def initial_states(self, n: int, kinds: Sequence[str] | None = None) -> list[State]:
        """Every mix of request types among ``n`` requests (one state per multiset), or
        exactly the given types."""
        if kinds is not None:
            for k in kinds:
                if k not in REQUEST_TYPES:
                    raise ValueError(f"unknown request type {k!r}")
            return [canonical((1, *(self.new_request(k) for k in kinds)))]
        return [
            canonical((1, *(self.new_request(k) for k in mix)))
            for mix in combinations_with_replacement(REQUEST_TYPES, n)
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
        if r[R_AIO] == AIO_LIVE:
            out.append(Violation("LEAK", f"{who}: the wrapper is never freed "
                                 f"(ref = {r[R_REF]})", "wrapper"))
        if r[R_TMP] > 0:
            out.append(Violation("LEAK", f"{who}: the file opened on the fly keeps "
                                 f"{r[R_TMP]} reference(s)", "file opened on the fly"))
        want = self.compiled.expected_callbacks[r[R_KIND]][outcome_of(r)]
        if r[R_CB] != want:
            out.append(Violation("CLEANUP_ONCE", f"{who}: the caller's callback ran "
                                 f"{r[R_CB]} time(s), the contract says {want} when the "
                                 f"request ends {outcome_of(r).replace('_', ' ')}"))
        queued = r[R_RET] == Val.QUEUED
        if queued and r[R_KC] != 1:
            out.append(Violation("COMPLETE_IFF_QUEUED", f"{who}: the call returned "
                                 f"-EIOCBQUEUED but ki_complete ran {r[R_KC]} time(s)"))
        if not queued and r[R_KC] != 0:
            out.append(Violation("COMPLETE_IFF_QUEUED", f"{who}: the call returned "
                                 f"{value_name(r[R_RET])} and ki_complete ran too"))
        if r[R_WR] != 0:
            out.append(Violation("FREEZE_BALANCED", f"{who}: freeze protection still held "
                                 f"{r[R_WR]} time(s) at the end"))
        return out

    # -- where each actor is ----------------------------------------------------------------
    def enabled_actors(self, r: Req) -> list[str]:
        if r == DONE:
            return []
        out = []
        if r[R_SUBST] == 0 and r[R_SUB]:
            out.append(SUBMITTER)
        if r[R_LOWER] == 1:
            out.append(LOWER)
        if r[R_COMPST] in (1, 2):
            out.append(COMPLETION)
        if r[R_WORKST] in (1, 2):
            out.append(WORKER)
        return out

    def where(self, r: Req, actor: str) -> Where:
        c = self.compiled
        stack_at = {SUBMITTER: R_SUB, COMPLETION: R_COMP, WORKER: R_WORK}.get(actor)
        if stack_at is None or not r[stack_at]:
            return Where("", -1, None)
        proc, pc, _v, _o = r[stack_at][-1]
        body = c.bodies[proc]
        return Where(c.proc_names[proc], pc, body[pc] if pc < len(body) else None)

    # -- successor function -----------------------------------------------------------------
    def successors(
        self, state: State, reduction: str = "dependent"
    ) -> list[tuple[Action, State | Violation]]:
        """Every step enabled in ``state``: the canonical next state, or the violation the
        step commits. Among requests in identical local states only the first moves.

        ``reduction`` picks a partial-order reduction (only for variants whose control flow
        cannot loop, so the state graph is acyclic; otherwise it is ignored):

        - ``"none"``: every enabled step of every request.
        - ``"dependent"``: if some request can only take steps that leave the shared file's
          count alone, only that request moves. Requests share nothing else and none can
          enable or disable another's steps, so those steps form a persistent set; in an
          acyclic graph a persistent-set search reaches every final state and every
          violating step.
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
        shared = state[0]
        reqs = state[1:]
        order: Sequence[int] = range(len(reqs))
        if reduction == "independent":
            # Keep moving the request that is under way: sorting reorders requests after
            # every step, and picking "the first" afresh would interleave them after all.
            started = [i for i, r in enumerate(reqs) if r != DONE and r not in self.fresh]
            order = started[:1] or order
        everything: list[tuple[Action, State | Violation]] = []
        for i in order:
            r = reqs[i]
            if i and r == reqs[i - 1]:
                continue
            mine: list[tuple[Action, State | Violation]] = []
            local = True
            for actor in self.enabled_actors(r):
                for choice in self.choices(r, actor):
                    action = Action(i, actor, choice)
                    s = _Step(self, shared, r, actor)
                    try:
                        nr = self._run(s, choice)
                    except Violation as v:
                        if s.over_drop and reduction == "independent":
                            raise ReductionUnsound(v.message) from None
                        mine.append((action, v))
                        local = local and not s.touched_shared
                        continue
                    if s.over_drop and reduction == "independent":
                        raise ReductionUnsound(action.actor) from None
                    local = local and not s.touched_shared
                    if request_done(nr):
                        ends = self.request_end_violations(nr)
                        if ends:
                            mine.extend((action, v) for v in ends)
                            continue
                        nr = DONE
                    mine.append((action, canonical((s.shared, *reqs[:i], nr, *reqs[i + 1:]))))
            if mine and (reduction == "independent" or (reduction == "dependent" and local)):
                return mine
            everything.extend(mine)
        return everything

    def apply(self, state: State, action: Action) -> State | list[Violation]:
        """Take ``action`` in ``state`` without reordering requests (for replay). Returns
        the next state, or every violation the step commits (a request's end can break
        several properties at once). Raises ValueError if the step is not enabled."""
        r = state[1 + action.req]
        if action.actor not in self.enabled_actors(r):
            raise ValueError(f"{action.actor} of request {action.req} cannot move here")
        if action.choice not in self.choices(r, action.actor):
            raise ValueError(f"{action.actor} of request {action.req} has no choice "
                             f"{action.choice!r} here")
        s = _Step(self, state[0], r, action.actor)
        try:
            nr = self._run(s, action.choice)
        except Violation as v:
            return [v]
        if request_done(nr):
            ends = self.request_end_violations(nr)
            if ends:
                return ends
            nr = DONE
        reqs = list(state[1:])
        reqs[action.req] = nr
        return (s.shared, *reqs)

    def choices(self, r: Req, actor: str) -> list[str]:
        """The environment's choices for ``actor``'s next step (all of them in CHOICES)."""
        if actor == LOWER:
            return [""]
        if actor == COMPLETION and r[R_COMPST] == 1:
            return ["res RES", "res -EIO"]
        if actor == WORKER and r[R_WORKST] == 1:
            return [""]
        stmt = self.where(r, actor).stmt
        assert stmt is not None
        op = stmt.op
        if op == "kmem_cache_zalloc":
            return ["alloc ok", "alloc fails"]
        if op == "fdget":
            return ["borrowed", "opened (FDPUT_FPUT)"]
        if op == "vfs_iter":
            return ["returns RES", "returns -EIO"]
        if op == "vfs_iocb_iter":
            if r[R_AIO] == AIO_LIVE and r[R_KIC] < 0:
                # No ki_complete: the clone is a sync kiocb, so the lower fs cannot queue it.
                return ["returns RES", "returns -EIO"]
            return ["returns RES", "returns -EIO", "queues"]
        if op == "init_wq":
            return ["wq ok", "wq fails"]
        if op == "if_goto":
            name = stmt.arg("cond").lstrip("!")
            if name in ENV_BIT and not r[R_ENV] & ENV_BIT[name]:
                return [f"{name}: yes", f"{name}: no"]
        return [""]

    def _run(self, s: _Step, choice: str) -> Req:
        r = s.r
        actor = s.actor
        if actor == LOWER:
            self._lower_returns(s)
        elif actor == COMPLETION and r[R_COMPST] == 1:
            self._completion_fires(s, choice)
        elif actor == WORKER and r[R_WORKST] == 1:
            s.wrapper("the workqueue runs aio->work")
            r[R_WORKST] = 2
            s.push(r[R_WORKPROC], int(Val.NONE))
        else:
            self._execute(s, choice)
        return tuple(r)

    # -- the environment's own steps ---------------------------------------------------------
    def _lower_returns(self, s: _Step) -> None:
        # L2: after queueing, the lower fs may still touch the clone and its file until it
        # returns. One touch right before returning covers every interleaving: the
        # completion may already have run, or not.
        s.wrapper("the lower filesystem, still inside submit, touches the clone")
        s.file_alive(s.r[R_CLONEF], "the lower filesystem touches the clone's ki_filp")
        s.r[R_LOWER] = 2
        s.r[R_SUBST] = 0
        p, pc, _v, o = s.frame()
        s.set_frame(p, pc, int(Val.QUEUED), o)

    def _completion_fires(self, s: _Step, choice: str) -> None:
        s.wrapper("the lower filesystem calls the clone's ki_complete")
        s.file_alive(s.r[R_CLONEF], "the lower filesystem completes IO on the clone's ki_filp")
        res = Val.OK if choice == "res RES" else Val.ERR
        s.r[R_POS] |= P_IO_DONE | P_CLONE_FINAL
        s.r[R_LRES] = res
        s.r[R_COMPST] = 2
        s.push(s.r[R_KIC], int(res))

    # -- statements -------------------------------------------------------------------------
    def _execute(self, s: _Step, choice: str) -> None:
        c = self.compiled
        proc, pc, v, orig = s.frame()
        stmt = c.bodies[proc][pc]
        op = stmt.op
        r = s.r
        nxt = pc + 1
        what = stmt.label

        if op == "kmem_cache_zalloc":
            if choice == "alloc fails":
                r[R_OUT] |= O_ALLOC_FAILED
                r[R_EXP] = Val.ENOMEM
                nxt = c.jump[proc][stmt.arg("on_fail")]
            else:
                if r[R_AIO] == AIO_LIVE:
                    raise Violation("LEAK", f"{what}: a second wrapper overwrites a live one")
                r[R_AIO] = AIO_LIVE
                r[R_REF] = 0
                r[R_FIELDS] &= F_WQ  # a fresh, zeroed wrapper; F_WQ is not a wrapper field
                r[R_KIC] = -1
                r[R_RES] = Val.ZERO
                r[R_AIOFD] = 0
                r[R_CLONEF] = FILE_NONE
        elif op == "kmem_cache_free":
            if r[R_AIO] == AIO_FREED:
                raise Violation("DOUBLE_FREE", f"{what}: the wrapper is freed a second time")
            if r[R_AIO] == AIO_NONE:
                raise Violation("UAF", f"{what}: frees a wrapper that was never allocated",
                                "wrapper")
            r[R_AIO] = AIO_FREED
        elif op == "init_orig_iocb":
            s.wrapper(what)
            r[R_FIELDS] |= F_ORIG
        elif op == "init_callback":
            s.wrapper(what)
            r[R_FIELDS] |= F_CALLBACK
        elif op == "set_ki_flags":
            s.wrapper(what)
            if r[R_KIND] == 1:
                r[R_FIELDS] |= F_WRITE
        elif op == "set_ki_complete":
            s.wrapper(what)
            r[R_KIC] = c.proc_index[stmt.arg("proc")]
        elif op == "kiocb_clone":
            s.wrapper(what)
            fid = r[R_REAL] >> 1
            if stmt.arg("get_file"):
                s.file_get(fid, what)
            else:
                s.file_alive(fid, what)
            r[R_CLONEF] = fid
            # kiocb_clone copies ki_flags (IOCB_WRITE of a write) and ki_pos, not ki_complete
            r[R_FIELDS] = (r[R_FIELDS] & ~F_WRITE) | (F_WRITE if r[R_KIND] == 1 else 0)
            r[R_KIC] = -1
        elif op == "store_res":
            s.wrapper(what)
            r[R_RES] = v
        elif op == "load_res":
            s.wrapper(what)
            v = r[R_RES]
        elif op == "load_orig":
            s.wrapper(what)
            if not r[R_FIELDS] & F_ORIG:
                raise Violation("UAF", f"{what}: aio->orig_iocb was never set (NULL)",
                                "original kiocb")
            orig = 1
        elif op == "refcount_set":
            s.wrapper(what)
            r[R_REF] = stmt.arg("n")
        elif op == "refcount_inc":
            s.wrapper(what)
            if r[R_REF] == 0:
                raise Violation("REF_UNDERFLOW", f"{what}: increments a count of zero")
            r[R_REF] += 1
        elif op == "refcount_dec_and_test":
            s.wrapper(what)
            if r[R_REF] == 0:
                raise Violation("REF_UNDERFLOW", f"{what}: decrements a count of zero")
            r[R_REF] -= 1
            if r[R_REF] != 0:
                nxt = c.jump[proc][stmt.arg("else_goto")]
        elif op == "fput_clone":
            s.wrapper(what)
            s.file_put(r[R_CLONEF], what)
        elif op == "fdget":
            if r[R_TMP] > 0:
                raise Violation("LEAK", f"{what}: a second fdget loses the first open file")
            if choice == "borrowed":
                r[R_REAL] = FILE_SHARED * 2
            else:
                r[R_TMP] = 1
                r[R_REAL] = FILE_TMP * 2 + 1
        elif op == "fdput":
            if r[R_REAL] & 1:
                s.file_put(r[R_REAL] >> 1, what)
        elif op == "fd_clear_flags":
            r[R_REAL] &= ~1
        elif op == "fd_move_to_wrapper":
            s.wrapper(what)
            r[R_AIOFD] = r[R_REAL]
        elif op == "fdput_wrapper":
            s.wrapper(what)
            if r[R_AIOFD] & 1:
                s.file_put(r[R_AIOFD] >> 1, what)
        elif op == "get_file":
            s.file_get(r[R_REAL] >> 1, what)
        elif op == "file_start_write":
            s.file_alive(r[R_REAL] >> 1, what)
            s.start_write()
        elif op == "file_end_write":
            s.file_alive(r[R_REAL] >> 1, what)
            s.end_write(what)
        elif op == "kiocb_start_write":
            s.wrapper(what)
            s.file_alive(r[R_CLONEF], what)
            s.start_write()
        elif op == "kiocb_end_write":
            s.wrapper(what)
            s.file_alive(r[R_CLONEF], what)
            s.end_write(what)
        elif op == "vfs_iter":
            s.file_alive(r[R_REAL] >> 1, what)
            s.orig(what)
            s.write_protected(what)
            s.submit_once(what)
            res = Val.OK if choice == "returns RES" else Val.ERR
            # The IO advances the original kiocb's ki_pos itself (&iocb->ki_pos).
            r[R_POS] |= P_IO_DONE | P_ORIG_SYNCED
            r[R_EXP] = r[R_LRES] = v = res
            # Under the callee contract vfs_iter_write starts and ends freeze protection
            # itself, balanced: nothing is left for the caller.
        elif op == "vfs_iocb_iter":
            s.wrapper(what)
            s.file_alive(r[R_REAL] >> 1, what)
            s.file_alive(r[R_CLONEF], what)
            s.write_protected(what)
            s.submit_once(what)
            write = r[R_KIND] == 1
            if c.callee_freeze and write:
                s.start_write()  # vfs_iocb_iter_write: kiocb_start_write(iocb)
            if choice == "queues":
                r[R_SUBST] = 1
                r[R_LOWER] = 1
                r[R_COMPST] = 1
                r[R_EXP] = Val.QUEUED
                v = int(Val.NONE)  # set when the lower filesystem returns
            else:
                res = Val.OK if choice == "returns RES" else Val.ERR
                r[R_POS] |= P_IO_DONE | P_CLONE_FINAL
                r[R_EXP] = r[R_LRES] = v = res
                if c.callee_freeze and write:
                    s.end_write("vfs_iocb_iter_write (not queued)")
        elif op == "init_wq":
            s.orig(what)
            if choice == "wq fails":
                r[R_OUT] |= O_WQ_FAILED
                r[R_EXP] = v = Val.ENOMEM
                nxt = c.jump[proc][stmt.arg("on_fail")]
            else:
                v = Val.ZERO
                r[R_FIELDS] |= F_WQ
        elif op == "update_pos":
            s.wrapper(what)
            s.orig_field(what)
            if r[R_POS] & P_CLONE_FINAL:
                r[R_POS] |= P_ORIG_SYNCED
            else:
                r[R_POS] &= ~P_ORIG_SYNCED  # a stale position, copied before the IO finished
        elif op == "callback":
            runs = True
            if stmt.arg("via") == "wrapper":
                s.wrapper(what)
                runs = bool(r[R_FIELDS] & F_CALLBACK)  # if (aio->cleanup)
                if runs:
                    s.orig_field(what)
            else:
                s.orig(what)
            if runs:
                if s.irq and c.process_context[r[R_KIND]]:
                    raise Violation("CONTEXT", f"{what}: the caller's callback runs in irq "
                                    "completion context, but this caller needs process context")
                r[R_CB] += 1
                if r[R_CB] > 1:
                    raise Violation("CLEANUP_ONCE", f"{what}: the caller's callback runs a "
                                    "second time")
                if stmt.arg("reads_pos"):
                    s.pos_check(f"{what} (the caller's callback)")
                if stmt.arg("passes_result"):
                    s.result_check(v, f"{what} (the caller's callback)")
        elif op == "ki_complete":
            if not orig:
                raise Violation("UAF", f"{what}: orig_iocb was never loaded (NULL)",
                                "original kiocb")
            s.orig(what)
            if r[R_ENV] & (ENV_BIT["sync_kiocb"] << 1):
                raise Violation("COMPLETE_IFF_QUEUED", f"{what}: the original kiocb is sync: it "
                                "has no ki_complete")
            s.pos_check(f"{what} (the upper layer's completion)")
            s.result_check(v, what)
            r[R_KC] += 1
            if r[R_KC] > 1:
                raise Violation("COMPLETE_IFF_QUEUED", f"{what}: ki_complete runs a second time")
            if r[R_SUBST] == 2 and r[R_RET] != Val.QUEUED:
                raise Violation("COMPLETE_IFF_QUEUED", f"{what}: ki_complete runs although the "
                                f"call returned {value_name(r[R_RET])}")
        elif op == "queue_work":
            s.wrapper(what)
            s.orig_field(what)  # file_inode(aio->orig_iocb->ki_filp)->i_sb->s_dio_done_wq
            if not r[R_FIELDS] & F_WQ:
                raise Violation("UAF", f"{what}: s_dio_done_wq may be NULL: this request never "
                                "ensured it (backing_aio_init_wq)", "s_dio_done_wq")
            if r[R_WORKST] in (0, 3):
                r[R_WORKST] = 1
                r[R_WORKPROC] = c.proc_index[stmt.arg("proc")]
            # already pending or running: queue_work() returns false and queues nothing
        elif op == "if_goto":
            cond = stmt.arg("cond")
            neg = cond.startswith("!")
            name = cond.lstrip("!")
            truth = self._condition(s, name, v, choice, what)
            if truth != neg:
                nxt = c.jump[proc][stmt.arg("target")]
        elif op == "goto":
            nxt = c.jump[proc][stmt.arg("target")]
        elif op == "call":
            s.set_frame(proc, pc, v, orig)
            s.push(c.proc_index[stmt.arg("proc")], v)
            s.unwind()
            return
        elif op == "assign":
            v = _value(stmt.arg("value"), v)
        elif op == "return_":
            if stmt.arg("value") is None:
                nxt = len(c.bodies[proc])
            else:
                self._return(s, _value(stmt.arg("value"), v), what)
                return
        else:  # pragma: no cover - OPS is closed and validated
            raise AssertionError(f"no semantics for {op}; known: {sorted(OPS)}")
        s.set_frame(proc, nxt, v, orig)
        s.unwind()

    def _condition(self, s: _Step, name: str, v: int, choice: str, what: str) -> bool:
        r = s.r
        if name == "queued":
            return bool(v == Val.QUEUED)
        if name == "error":
            return v in NEGATIVE
        if name == "write":
            s.wrapper(what)
            return bool(r[R_FIELDS] & F_WRITE)
        bit = ENV_BIT[name]
        if r[R_ENV] & bit:
            truth = bool(r[R_ENV] & (bit << 1))
        else:
            truth = choice.endswith(": yes")
            r[R_ENV] |= bit | ((bit << 1) if truth else 0)
        if truth and name == "zero_length":
            r[R_OUT] |= O_EARLY
            r[R_EXP] = Val.ZERO
        elif truth and name == "odirect_unsupported":
            r[R_OUT] |= O_EARLY
            r[R_EXP] = Val.EINVAL
        return truth

    def _return(self, s: _Step, value: int, what: str) -> None:
        r = s.r
        stack = r[s.stack_at]
        if len(stack) > 1:  # a procedure returns a value to its caller
            p, pc, _v, o = stack[-2]
            r[s.stack_at] = (*stack[:-2], (p, pc + 1, value, o))
            s.unwind()
            return
        if s.actor != SUBMITTER:  # a completion's handler returns void: the value is dropped
            p, pc, v, o = stack[-1]
            s.set_frame(p, len(self.compiled.bodies[p]), v, o)
            s.unwind()
            return
        if value == Val.NONE:
            raise Violation("RESULT_PROPAGATED", f"{what}: returns ret, which was never set")
        if value == Val.QUEUED and r[R_ENV] & (ENV_BIT["sync_kiocb"] << 1):
            raise Violation("COMPLETE_IFF_QUEUED", f"{what}: returns -EIOCBQUEUED for a sync "
                            "kiocb, which has no ki_complete")
        if value != r[R_EXP]:
            raise Violation(
                "RESULT_PROPAGATED",
                f"{what}: the call returns {value_name(value)}, but the caller must see "
                f"{value_name(r[R_EXP])}",
            )
        if value != Val.QUEUED:
            # The upper layer finishes the request now and reads ki_pos (f_pos update).
            s.pos_check("the upper layer, after the call returned")
            if r[R_KC]:
                raise Violation("COMPLETE_IFF_QUEUED", f"{what}: the call returns "
                                f"{value_name(value)} after ki_complete already ran")
        r[R_SUBST] = 2
        r[R_RET] = value
        r[R_SUB] = ()


def _acyclic(variant: Variant) -> bool:
    """True when no run can loop: every jump goes forward and no procedure calls itself,
    directly or not. Then every step makes progress and the state graph is acyclic."""
    calls: dict[str, set[str]] = {}
    for name, body in variant.procs.items():
        tags = {s.tag: i for i, s in enumerate(body) if s.tag is not None}
        tags[END] = len(body)
        calls[name] = set()
        for i, st in enumerate(body):
            for spec in OPS[st.op].args:
                if spec.kind == "tag" and tags[st.arg(spec.name)] <= i:
                    return False
            if st.op == "call":
                calls[name].add(st.arg("proc"))
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


def canonical(state: State) -> State:
    """Requests are interchangeable: sort them (kind is the first field)."""
    reqs = state[1:]
    if len(reqs) < 2:
        return state
    return (state[0], *sorted(reqs))


def canonical_perm(state: State) -> tuple[State, list[int]]:
    """The canonical state and, for each of its requests, the index it had in ``state``."""
    reqs = state[1:]
    order = sorted(range(len(reqs)), key=lambda i: reqs[i])
    return (state[0], *(reqs[i] for i in order)), order


def describe_request(r: Req) -> dict[str, object]:
    """A readable view of a request tuple (for outputs and tests)."""
    if r == DONE:
        return {"done": True}
    return {name: r[i] for i, name in enumerate(FIELD_NAMES)}
