"""The properties, with the stable IDs every output uses (DESIGN section 3).

Each property is decided by the state machine from states and counters: a step that breaks
a safety property raises ``Violation`` as it happens; the properties about how a request
ends are judged on final states (``backing_aio.model.semantics.final_violations``); TERMINATES is
judged on the reachable graph by the explorer. Nothing here looks at statement names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from backing_aio.vocab import PROPERTY_IDS as PROPERTY_IDS  # re-exported
from backing_aio.vocab import SUBJECTS as SUBJECTS
from backing_aio.vocab import Shape

if TYPE_CHECKING:
    from backing_aio.model.lang import Variant


@dataclass(frozen=True)
class Property:
    id: str
    text: str
    when: str  # "step": checked as each step runs; "end": on final states; "graph"


PROPERTIES: Final[tuple[Property, ...]] = (
    Property("UAF", "no step touches the wrapper (or the clone in it) after it was freed or "
             "before it was allocated, nor the original kiocb after the upper layer "
             "completed it; no backing file is used after its last reference is dropped",
             "step"),
    Property("DOUBLE_FREE", "the wrapper is freed at most once", "step"),
    Property("REF_UNDERFLOW", "the wrapper's reference count never goes below zero and is "
             "never raised from zero (refcount_t)", "step"),
    Property("LEAK", "when every actor has finished, each allocated wrapper is freed and every "
             "file reference taken is dropped", "end"),
    Property("CLEANUP_ONCE", "the caller's callback runs as often as the variant's contract "
             "says for the way the request ended (exactly once once it reached submit)",
             "end"),
    Property("COMPLETE_IFF_QUEUED", "the original kiocb's ki_complete runs exactly once if the "
             "call returned -EIOCBQUEUED, never otherwise", "end"),
    Property("FREEZE_BALANCED", "every start of freeze protection is matched by exactly one "
             "end, by whichever side the variant's contract names; never nested, and ended "
             "by the task that holds it or, once handed on, through __sb_writers_acquired",
             "end"),
    Property("POS_BEFORE_CALLBACK", "the original kiocb's ki_pos is updated before the "
             "callbacks (and the upper layer) read it", "step"),
    Property("RESULT_PROPAGATED", "the result the caller sees (return value, callback or "
             "completion argument) is the lower filesystem's result, or the error that "
             "stopped the request before it", "step"),
    Property("CONTEXT", "what must not run in irq completion context does not", "step"),
    Property("TERMINATES", "no reachable state is stuck: every run can reach the end", "graph"),
)
# One text per ID of the vocabulary, in its order.
assert tuple(p.id for p in PROPERTIES) == PROPERTY_IDS
BY_ID: Final[dict[str, Property]] = {p.id: p for p in PROPERTIES}


def verdict_text(failed: Iterable[str]) -> str:
    """``holds``, or ``fails`` and the properties in their stable order."""
    got = sorted(failed, key=PROPERTY_IDS.index)
    return "fails " + ",".join(got) if got else "holds"


def not_applicable(variant: Variant) -> frozenset[str]:
    """The properties a variant cannot break by its shape (``backing_aio.vocab.Shape``):
    with no ki_pos handed back and no caller callback (block and bio shapes),
    POS_BEFORE_CALLBACK and CLEANUP_ONCE; with no write among its requests,
    FREEZE_BALANCED. They are neither checked nor reported."""
    out: set[str] = set()
    if variant.shape != Shape.STACKED:
        out |= {"POS_BEFORE_CALLBACK", "CLEANUP_ONCE"}
    if not any(t.endswith("write") for t in variant.kinds):
        out.add("FREEZE_BALANCED")
    return frozenset(out)


class Violation(Exception):
    """Raised by a step (or a final-state check) that breaks a property.

    ``subject`` names what the finding is about when a property can be broken on several
    objects (a use after free of the wrapper is a different bug from one of the file), so
    that each gets its own shortest counterexample.
    """

    def __init__(self, prop: str, message: str, subject: str = "") -> None:
        assert prop in BY_ID, prop
        assert not subject or subject in SUBJECTS, subject
        super().__init__(f"{prop}: {message}")
        self.prop = prop
        self.message = message
        self.subject = subject
