"""The z3 verdict: what the unbounded proof (and bounded model checking) decided, rendered
once as text and once as JSON for every command that shows it (prove, gate, report, bench,
agree).

A verdict is one of: the properties hold for any number of requests; they hold for one
request only (the any-N argument did not go through); some properties fail; or nothing is
decided, because z3 answered unknown within its limit, the candidate invariant is not
inductive, or the ways of checking disagree. Undecided is never a proof, and it never
reads as "fails" either: a proof that is not inductive has no failing property to name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from backing_aio.vocab import PROPERTY_IDS

if TYPE_CHECKING:  # z3 is slow to import: the gate builds verdicts without it
    from backing_aio.verify.bmc import BmcResult
    from backing_aio.verify.prove import Proof


class Decision(Enum):
    HOLDS_FOR_ALL_N = "holds for all N"
    HOLDS_FOR_ONE = "holds for one request"
    FAILS = "fails"
    UNKNOWN = "z3 unknown"  # a query ran out of its limit
    NOT_INDUCTIVE = "invariant not inductive"
    DISAGREE = "the checks disagree"  # explorer, bounded search and proof differ

    @property
    def decided(self) -> bool:
        return self in (Decision.HOLDS_FOR_ALL_N, Decision.HOLDS_FOR_ONE, Decision.FAILS)


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    failed: tuple[str, ...] = ()  # FAILS: the properties, in PROPERTY_IDS order
    reasons: tuple[str, ...] = ()  # undecided: why; HOLDS_FOR_ONE: the any-N gaps

    def __post_init__(self) -> None:
        if (self.decision is Decision.FAILS) != bool(self.failed):
            raise ValueError("a verdict names failed properties exactly when it fails")

    @staticmethod
    def fails(failed: Iterable[str], reasons: Sequence[str] = ()) -> Verdict:
        return Verdict(Decision.FAILS, _ordered(failed), tuple(reasons))

    @property
    def decided(self) -> bool:
        return self.decision.decided

    @property
    def holds_for_all_n(self) -> bool:
        return self.decision is Decision.HOLDS_FOR_ALL_N

    def text(self) -> str:
        """One line: "holds for all N", "holds for one request", "fails UAF,LEAK" or
        "NOT DECIDED (why)"."""
        if self.decision is Decision.FAILS:
            return "fails " + ",".join(self.failed)
        if not self.decided:
            return f"NOT DECIDED ({self.decision.value})"
        return str(self.decision.value)

    def as_json(self) -> dict[str, Any]:
        return {"text": self.text(), "decision": self.decision.name.lower(),
                "decided": self.decided, "failed": list(self.failed),
                "reasons": list(self.reasons)}


def _ordered(props: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(props), key=PROPERTY_IDS.index))


def of_proof(proof: Proof, found: BmcResult | None = None) -> Verdict:
    """The verdict of one request type's proof, and of its bounded search when there is
    one: an unknown answer or a replay that fails leaves it undecided, as does a bounded
    search that breaks other properties than the proof."""
    unknown = list(proof.unknown)
    if found is not None:
        unknown += [f"bmc: {why}" for why in (*found.unknown, *found.replay_errors)]
    if unknown:
        return Verdict(Decision.UNKNOWN, reasons=tuple(unknown))
    if proof.not_inductive:
        return Verdict(Decision.NOT_INDUCTIVE, reasons=tuple(proof.not_inductive))
    if found is not None and found.failed != proof.failed:
        return Verdict(Decision.DISAGREE, reasons=(
            f"bmc breaks {_names(found.failed)}, the proof {_names(proof.failed)}",))
    if proof.failed:
        return Verdict.fails(proof.failed)
    if proof.all_n:
        return Verdict(Decision.HOLDS_FOR_ONE, reasons=tuple(proof.all_n))
    return Verdict(Decision.HOLDS_FOR_ALL_N)


def combine(parts: Iterable[Verdict], problems: Sequence[str] = ()) -> Verdict:
    """One verdict of several (a variant's request types). ``problems`` are what the
    caller found wrong across them (disagreements with the explorer, say), each naming its
    part; with them the verdict is undecided and they are its reasons. Else: undecided if a
    part is (with the first such part's decision, and every undecided part's reasons);
    failing with every part's failed properties; holding for all N if every part does."""
    parts = list(parts)
    undecided = [p for p in parts if not p.decided]
    reasons = tuple(problems) or tuple(r for p in undecided for r in p.reasons)
    if undecided:
        return Verdict(undecided[0].decision, reasons=reasons)
    if problems:
        return Verdict(Decision.DISAGREE, reasons=reasons)
    failed = [prop for p in parts for prop in p.failed]
    if failed:
        return Verdict.fails(failed)
    if not parts or any(p.decision is Decision.HOLDS_FOR_ONE for p in parts):
        return Verdict(Decision.HOLDS_FOR_ONE, reasons=tuple(r for p in parts
                                                             for r in p.reasons))
    return Verdict(Decision.HOLDS_FOR_ALL_N)


def _names(props: Iterable[str]) -> str:
    return ",".join(_ordered(props)) or "nothing"
