"""The state of the model: one shared count and N requests, each a flat named tuple.

A state is a tuple ``(shared, req_0, ..., req_{N-1})``: ``shared`` is the reference count
of the backing file the requests share (1 at the start: the upper file's own reference,
which it keeps for the whole run) and each ``req_i`` is a ``Req``. Requests interact only
through ``shared``, so requests in the same local state are interchangeable: ``canonical``
sorts them (symmetry reduction).

``Req`` is a ``NamedTuple``, so it stays a tuple: it hashes, compares and sorts as one
(the sort order decides which state is canonical, hence every state count and every
counterexample: the field order and the values are fixed), and backing_aio.verify.symbolic
splits it into control and data and joins it again by field name. A step changes a request
through a ``Draft``, the same fields in a mutable object, and freezes it again.

The statuses are ``IntEnum``s and the bit sets are named ``int`` constants: a bit set is
tested and combined on every step, and ``IntFlag`` arithmetic runs in Python, many times
slower than an ``int``'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import Any, Final, NamedTuple, cast

from backing_aio.model.lang import Val
from backing_aio.vocab import ENV_CONDITIONS, KINDS, Actor, Outcome

# One frame of an actor's stack: (procedure index, statement index, the ret register,
# orig_iocb loaded into a local). A plain tuple: a step builds one or two, and a named
# tuple's constructor would cost more than the rest of many steps.
Frame = tuple[int, int, int, int]
Stack = tuple[Frame, ...]


class ReqKind(IntEnum):
    """``Req.kind``: the request's kind (``KINDS`` in this order)."""

    READ = 0
    WRITE = 1


class Submitter(IntEnum):
    """``Req.submitter_state``."""

    RUNNING = 0
    IN_SUBMIT = 1  # the IO is queued; the lower filesystem is still inside submit
    RETURNED = 2


class Lower(IntEnum):
    """``Req.lower``: the lower filesystem's hold on the clone (contract L2)."""

    OUT = 0  # not holding the clone
    HOLDS_CLONE = 1  # queued it and is still inside submit
    RETURNED = 2


class Completion(IntEnum):
    """``Req.completion_state``: the clone's ki_complete."""

    UNARMED = 0
    ARMED = 1  # may fire at any time
    RUNNING = 2
    DONE = 3


class Worker(IntEnum):
    """``Req.worker_state``: the work item the completion queues."""

    IDLE = 0
    PENDING = 1
    RUNNING = 2
    DONE = 3


class Wrapper(IntEnum):
    """``Req.wrapper``: the wrapper's memory."""

    NONE = 0  # never allocated
    LIVE = 1
    FREED = 2


class FreezeHolder(IntEnum):
    """``Req.freeze_holder``: who holds the request's freeze protection, as lockdep sees
    it (the protection is held at most once: a nested start is a violation)."""

    NONE = 0
    RELEASED = 1  # handed on (kiocb_start_write, __sb_writers_release): any context ends it
    SUBMITTER = 2  # taken by the submitting task (file_start_write), which must end it
    COMPLETION = 3
    WORKER = 4


class File(IntEnum):
    """The files a request can name: ``Req.clone_file`` and the file of an fd field."""

    NONE = 0
    SHARED = 1  # the backing file all requests share (its count is the state's ``shared``)
    TMP = 2  # the file the caller's fdget opened on the fly (its count is ``tmp_file``)


class WrapperField:
    """Bits of ``Req.fields``: the wrapper fields set, the clone's ki_flags, and facts about
    the request that are not wrapper fields (kmem_cache_zalloc keeps those: ``KEPT``)."""

    ORIG: Final = 1  # aio->orig_iocb
    CALLBACK: Final = 2  # aio->cleanup (the caller's callback)
    WRITE: Final = 4  # IOCB_WRITE in the clone's ki_flags
    # The stacked filesystem's s_dio_done_wq is set up: this request ensured it
    # (backing_aio_init_wq) or the filesystem did at mount. Once set it stays set until
    # unmount, so what one request saw set, every later step of it sees set.
    WQ: Final = 8
    CALLER_COMP: Final = 16  # IOCB_DIO_CALLER_COMP in the clone's ki_flags
    # the ``flags`` passed down to the helper had IOCB_DIO_CALLER_COMP / IOCB_WRITE cleared
    FLAGS_NO_CALLER_COMP: Final = 32
    FLAGS_NO_WRITE: Final = 64
    IS_WRITE: Final = 128  # aio->is_write (6.12.118: "backing-file: always end a queued write")
    KEPT: Final = WQ | FLAGS_NO_CALLER_COMP | FLAGS_NO_WRITE


class PosBit:
    """Bits of ``Req.pos``: where the file position stands."""

    IO_DONE: Final = 1  # the IO has finished
    CLONE_FINAL: Final = 2  # the clone's ki_pos is final
    ORIG_SYNCED: Final = 4  # the original kiocb's ki_pos was updated from it


class OutcomeBit:
    """Bits of ``Req.outcome``: how the request ended, for the callback contract."""

    SUBMITTED: Final = 1
    ALLOC_FAILED: Final = 2
    WQ_FAILED: Final = 4
    EARLY: Final = 8


# Req.env: two bits per environment condition, "decided" and its value.
ENV_BIT: Final[dict[str, int]] = {name: 1 << (2 * i) for i, name in enumerate(ENV_CONDITIONS)}
SYNC_KIOCB: Final[int] = ENV_BIT["sync_kiocb"] << 1  # the value bit of sync_kiocb
CALLER_COMP_DECIDED: Final[int] = ENV_BIT["caller_comp"]
ORIG_CALLER_COMP: Final[int] = CALLER_COMP_DECIDED << 1  # the original carries the flag

# A struct fd in a field (``real_fd``, ``aio_fd``): the file times 2, plus 1 for FDPUT_FPUT.
FDPUT_FPUT: Final = 1


def fd(file: File, fput: bool = False) -> int:
    return file * 2 + (FDPUT_FPUT if fput else 0)


def fd_file(value: int) -> File:
    """The file of a struct fd. Not converted to ``File``: backing_aio.verify.symbolic runs
    the model on z3 terms, and a conversion would ask for a concrete value."""
    return cast(File, value >> 1)


class Req(NamedTuple):
    """One request, its wrapper and its actors. The field order is the sort order."""

    kind: ReqKind
    env: int  # decided environment facts: ENV_BIT
    submitter: Stack
    submitter_state: Submitter
    returned: int  # the value the call returned (Val)
    lower: Lower
    completion: Stack
    completion_state: Completion
    worker: Stack
    worker_state: Worker
    work_proc: int  # the procedure the work item runs (index), -1 before queue_work
    wrapper: Wrapper
    ref: int  # the wrapper's refcount
    fields: int  # WrapperField
    ki_complete: int  # the clone's ki_complete: procedure index, or -1 (NULL: a sync kiocb)
    aio_res: int  # aio->res (Val)
    aio_fd: int  # aio->fd: fd()
    clone_file: File  # the clone's ki_filp
    real_fd: int  # the caller's struct fd: fd()
    tmp_file: int  # the file opened on the fly: -1 never opened, >0 its count, 0 freed
    callback_runs: int  # runs of the caller's callback
    ki_complete_runs: int  # runs of the original kiocb's ki_complete
    writers: int  # freeze protection held (starts minus ends)
    pos: int  # PosBit
    outcome: int  # OutcomeBit
    expected: int  # the result the caller must see (set by the environment's events; Val)
    lower_result: int  # the lower fs's result (sync result or completion res; Val)
    shared_refs: int  # references on the shared file this request holds (gets minus puts)
    freeze_holder: FreezeHolder  # who holds the freeze protection (lockdep's view)


FIELD_NAMES: Final[tuple[str, ...]] = Req._fields

# A request whose actors have all finished, once its own end-of-request properties were
# judged: it can influence nothing but the shared file's count (which is global), so all
# finished requests are the same state. Sorts before every live request (kind is never
# negative), and hashes as cheaply as a one-element tuple. Typed as a request so that every
# function taking one takes it too: each of them checks for DONE first.
DONE: Final[Req] = cast(Req, (-1,))

State = tuple[Any, ...]  # (shared, req, req, ...): shared may be a z3 term (verify.symbolic)


class Draft:
    """A request while one step changes it: ``Req``'s fields, mutable."""

    __slots__ = FIELD_NAMES
    kind: ReqKind
    env: int
    submitter: Stack
    submitter_state: Submitter
    returned: int
    lower: Lower
    completion: Stack
    completion_state: Completion
    worker: Stack
    worker_state: Worker
    work_proc: int
    wrapper: Wrapper
    ref: int
    fields: int
    ki_complete: int
    aio_res: int
    aio_fd: int
    clone_file: File
    real_fd: int
    tmp_file: int
    callback_runs: int
    ki_complete_runs: int
    writers: int
    pos: int
    outcome: int
    expected: int
    lower_result: int
    shared_refs: int
    freeze_holder: FreezeHolder

    def __init__(self, r: Req) -> None:
        (self.kind, self.env, self.submitter, self.submitter_state, self.returned,
         self.lower, self.completion, self.completion_state, self.worker, self.worker_state,
         self.work_proc, self.wrapper, self.ref, self.fields, self.ki_complete, self.aio_res,
         self.aio_fd, self.clone_file, self.real_fd, self.tmp_file, self.callback_runs,
         self.ki_complete_runs, self.writers, self.pos, self.outcome, self.expected,
         self.lower_result, self.shared_refs, self.freeze_holder) = r

    def freeze(self) -> Req:
        # tuple.__new__ skips Req.__new__'s argument handling: this runs on every step
        return tuple.__new__(Req, (
            self.kind, self.env, self.submitter, self.submitter_state, self.returned,
            self.lower, self.completion, self.completion_state, self.worker,
            self.worker_state, self.work_proc, self.wrapper, self.ref, self.fields,
            self.ki_complete, self.aio_res, self.aio_fd, self.clone_file, self.real_fd,
            self.tmp_file, self.callback_runs, self.ki_complete_runs, self.writers, self.pos,
            self.outcome, self.expected, self.lower_result, self.shared_refs,
            self.freeze_holder))


def stack_of(r: Req, actor: str) -> Stack:
    """The frames of an actor of the variant's code (the lower filesystem runs none)."""
    if actor == Actor.SUBMITTER:
        return r.submitter
    if actor == Actor.COMPLETION:
        return r.completion
    if actor == Actor.WORKER:
        return r.worker
    return ()


def request_type(r: Req) -> str:
    sync = "sync-" if r.env & SYNC_KIOCB else ""
    return sync + KINDS[r.kind]


def is_sync(r: Req | Draft) -> bool:
    """The original kiocb is sync: it has no ki_complete."""
    return bool(r.env & SYNC_KIOCB)


# The statuses every step tests, as module names: Python 3.11 reads a global four times
# faster than an enum member off its class, and the search reads these on every step.
RUNNING: Final = Submitter.RUNNING
RETURNED: Final = Submitter.RETURNED
HOLDS_CLONE: Final = Lower.HOLDS_CLONE
ARMED: Final = Completion.ARMED
PENDING: Final = Worker.PENDING
LIVE: Final = Wrapper.LIVE
COMPLETION_MOVES: Final = frozenset({Completion.ARMED, Completion.RUNNING})
WORKER_MOVES: Final = frozenset({Worker.PENDING, Worker.RUNNING})


def request_done(r: Req) -> bool:
    """Every actor of the request has finished."""
    return (
        r.submitter_state == RETURNED and r.lower != HOLDS_CLONE
        and r.completion_state not in COMPLETION_MOVES and r.worker_state not in WORKER_MOVES
    )


def outcome_of(r: Req) -> str:
    out = r.outcome
    if out & OutcomeBit.SUBMITTED:
        return Outcome.SUBMITTED
    if out & OutcomeBit.ALLOC_FAILED:
        return Outcome.ALLOC_FAILED
    if out & OutcomeBit.WQ_FAILED:
        return Outcome.WQ_FAILED
    return Outcome.EARLY


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
    """A readable view of a request (for outputs and tests)."""
    if r == DONE:
        return {"done": True}
    return dict(zip(FIELD_NAMES, (int(x) if isinstance(x, IntEnum) else x for x in r),
                    strict=True))


def new_request(rtype: str, entry: Sequence[int], borrowed: bool, wq: bool = False,
                pdu: bool = False) -> Req:
    """A request of type ``rtype`` before its first step: the submitter at the start of
    procedure ``entry[kind]``; the caller's file ``borrowed`` from the caller (who holds it
    for the whole call) or, when the variant obtains it with fdget, unset until then;
    ``wq`` when the filesystem set up its s_dio_done_wq at mount; ``pdu`` when the wrapper
    is the original's pdu (the block shape): live from the start, and it knows its
    original (blk_mq_rq_from_pdu)."""
    kind = ReqKind.READ if rtype.endswith("read") else ReqKind.WRITE
    sync = ENV_BIT["sync_kiocb"]
    return Req(
        kind=kind,
        env=sync | (SYNC_KIOCB if rtype.startswith("sync-") else 0),
        submitter=((entry[kind], 0, int(Val.NONE), 0),), submitter_state=Submitter.RUNNING,
        returned=Val.NONE, lower=Lower.OUT,
        completion=(), completion_state=Completion.UNARMED,
        worker=(), worker_state=Worker.IDLE, work_proc=-1,
        wrapper=Wrapper.LIVE if pdu else Wrapper.NONE, ref=0,
        fields=(WrapperField.WQ if wq else 0) | (WrapperField.ORIG if pdu else 0),
        ki_complete=-1,
        aio_res=Val.NONE, aio_fd=0,
        clone_file=File.NONE, real_fd=fd(File.SHARED) if borrowed else fd(File.NONE),
        tmp_file=-1, callback_runs=0, ki_complete_runs=0, writers=0, pos=0, outcome=0,
        expected=Val.NONE, lower_result=Val.NONE, shared_refs=0,
        freeze_holder=FreezeHolder.NONE,
    )
