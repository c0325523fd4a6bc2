"""What a step did, as data: the model's own account of each step, for explanations.

The semantics (backing_aio.model.semantics) records an ``Effect`` wherever a step changes
something a reader follows: the wrapper's memory and count, file references, freeze
protection, the callbacks' runs, the original kiocb's position, the call's return, the
completion and the work item. backing_aio.verify.trace words them (once) and
backing_aio.present.diagrams draws them; neither looks inside a request to find out.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Change(Enum):
    """What an effect changes, in the order an explanation lists a step's effects."""

    SHARED_FILE_REFS = "shared file refs"  # the shared backing file's count
    WRAPPER = "wrapper"  # the wrapper's memory (state.Wrapper)
    REF = "ref"  # the wrapper's reference count
    OPENED_FILE_REFS = "opened file refs"  # the count of the file opened on the fly
    FREEZE = "freeze held"  # freeze protection held
    CALLBACK_RUNS = "callback runs"  # runs of the caller's callback
    KI_COMPLETE_RUNS = "ki_complete runs"  # runs of the original kiocb's ki_complete
    ORIG_POS = "orig ki_pos"  # the original kiocb's ki_pos is up to date (1) or stale (0)
    RETURNED = "returns"  # the call returned a value (lang.Val)
    COMPLETION_ARMED = "completion armed"  # the lower filesystem queued the IO
    WORK_QUEUED = "work queued"  # the completion queued the work item
    # IOCB_DIO_CALLER_COMP: the lower fs passed 0 and left the real completion to the issuer
    CALLER_COMP_DEFERRED = "completion deferred to the issuer"
    REQUEST_FINISHED = "request finished"  # every actor of the request has finished


# The changes to memory (as opposed to control): a picture's memory lane shows them.
MEMORY: frozenset[Change] = frozenset({
    Change.SHARED_FILE_REFS, Change.WRAPPER, Change.REF, Change.OPENED_FILE_REFS,
})
# Changes that are events: they happened, there is no value before and after.
EVENTS: frozenset[Change] = frozenset({
    Change.COMPLETION_ARMED, Change.WORK_QUEUED, Change.CALLER_COMP_DEFERRED,
    Change.REQUEST_FINISHED,
})


@dataclass(frozen=True)
class Effect:
    """One change a step made: ``change`` from ``before`` to ``after``."""

    change: Change
    before: int = 0
    after: int = 0

    @property
    def memory(self) -> bool:
        return self.change in MEMORY


def net(effects: list[Effect]) -> list[Effect]:
    """A step's effects as the step leaves things: one per change (from its first value
    to its last), none where a change was undone within the step (freeze protection that
    vfs_iocb_iter_write starts and ends), in ``Change`` order. When the request finished,
    only what outlives it: the shared file's count."""
    first: dict[Change, Effect] = {}
    last: dict[Change, Effect] = {}
    for e in effects:
        first.setdefault(e.change, e)
        last[e.change] = e
    if Change.REQUEST_FINISHED in first:
        first = {c: e for c, e in first.items()
                 if c in (Change.SHARED_FILE_REFS, Change.REQUEST_FINISHED)}
    out = []
    for change in Change:
        if change not in first:
            continue
        e = Effect(change, first[change].before, last[change].after)
        if change in EVENTS or e.before != e.after:
            out.append(e)
    return out
