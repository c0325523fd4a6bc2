"""Exhaustive breadth-first exploration of a variant with N concurrent requests.

States are canonical (requests sorted: symmetry reduction), so each class of states is
visited once. Breadth-first order makes the first path found to any state a shortest one;
for each property the first violation met is therefore a shortest counterexample.

Safety properties are raised by steps; the properties about how requests end are judged on
final states; TERMINATES is judged on the graph once it is complete: every state must be
able to reach an end (a final state, or a step that commits a violation and so ends the run
with a finding of its own).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from backing_aio.model.lang import Variant
from backing_aio.model.properties import Violation, verdict_text
from backing_aio.model.semantics import Action, BackingAio, ReductionUnsound, State
from backing_aio.verify.graph import NodeLimit, Walk


@dataclass(frozen=True)
class Counterexample:
    """A shortest path from an initial state to a violation of ``prop``.

    ``actions`` are taken in canonical states (as the explorer met them);
    ``backing_aio.verify.trace`` turns them into steps with stable request numbers and replays them.
    """

    prop: str
    subject: str
    message: str
    variant: str
    requests: int
    initial: State
    actions: tuple[Action, ...]
    at_end: bool  # judged on a final state (no step of its own commits it)


@dataclass
class Result:
    variant: str
    requests: int
    states: int = 0
    transitions: int = 0
    finals: int = 0
    seconds: float = 0.0
    reduction: str = "none"  # the partial-order reduction the numbers were obtained with
    # the shortest counterexample of each finding: (property, subject)
    violations: dict[tuple[str, str], Counterexample] = field(default_factory=dict)
    # and of each finding, the shortest run whose breaking step is each actor's ("end"
    # for a property judged at the end): the other ways the same bug happens (SARIF
    # shows them as more code flows of one result)
    by_actor: dict[tuple[str, str], dict[str, Counterexample]] = field(default_factory=dict)

    @property
    def failed(self) -> frozenset[str]:
        return frozenset(p for p, _ in self.violations)

    def verdict(self) -> str:
        return verdict_text(self.failed)

    def counterexample(self, prop: str) -> Counterexample:
        """The shortest counterexample of ``prop`` over all its subjects."""
        found = [c for (p, _), c in self.violations.items() if p == prop]
        if not found:
            raise KeyError(prop)
        return min(found, key=lambda c: len(c.actions))


class StateLimit(Exception):
    """The search met more states than it was allowed to."""


REDUCTIONS = ("auto", "independent", "dependent", "none")


def explore(
    variant: Variant,
    requests: int,
    *,
    kinds: Sequence[str] | None = None,
    reduction: str = "auto",
    max_states: int | None = None,
    progress: Callable[[int, float], None] | None = None,
) -> Result:
    """Explore every interleaving of ``requests`` concurrent requests (every mix of reads
    and writes, or exactly ``kinds``) and return the shortest counterexample per finding.

    ``reduction="auto"`` tries the independent-requests reduction and falls back to the
    dependency-aware one if a request drops a shared reference it does not hold (see
    ``BackingAio.successors``); ``"none"`` explores the full product.
    """
    if requests < 1:
        raise ValueError("at least one request")
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown reduction {reduction!r}")
    model = BackingAio(variant)
    started = time.perf_counter()
    if not model.acyclic:
        mode = "none"
    elif reduction == "auto":
        mode = "independent"
    else:
        mode = reduction
    while True:
        try:
            result = _search(model, requests, kinds, mode, max_states, progress, started)
        except ReductionUnsound:
            if reduction != "auto":
                raise
            mode = "dependent"
            continue
        result.seconds = time.perf_counter() - started
        return result


def smallest_failure(variant: Variant,
                     max_requests: int) -> tuple[frozenset[str], Result | None]:
    """The properties ``variant`` breaks at the smallest N = 1..max that shows any, and
    that exploration (the last one if none does). A mutant killed with one request is not
    explored with three: this is how the gates judge them."""
    result = None
    for n in range(1, max_requests + 1):
        result = explore(variant, n)
        if result.failed:
            return result.failed, result
    return frozenset(), result


def _search(
    model: BackingAio,
    requests: int,
    kinds: Sequence[str] | None,
    mode: str,
    max_states: int | None,
    progress: Callable[[int, float], None] | None,
    started: float,
) -> Result:
    variant = model.variant
    ends: list[int] = []
    result = Result(variant.name, requests, reduction=mode)
    next_report = 2_000

    def record(v: Violation, i: int, last: Action | None) -> None:
        key = (v.prop, v.subject)
        actor = last.actor if last is not None else "end"
        runs = result.by_actor.setdefault(key, {})
        if actor in runs:
            return
        init, actions = graph.path(i)
        if last is not None:
            actions = (*actions, last)
        cx = Counterexample(v.prop, v.subject, v.message, variant.name, requests, init,
                            actions, at_end=last is None)
        runs[actor] = cx
        result.violations.setdefault(key, cx)

    def successors(i: int, state: State) -> list[tuple[Action, State]]:
        nonlocal next_report
        steps = model.successors(state, mode)
        result.transitions += len(steps)
        if progress is not None and len(graph) >= next_report:
            next_report += 2_000  # the callback throttles what it shows
            progress(len(graph), time.perf_counter() - started)
        for _, nxt in steps:
            if isinstance(nxt, Violation):  # a step that commits a violation ends the run
                ends.append(i)
                return _record_violations(steps, i, record)
        if not steps and model.is_final(state):
            result.finals += 1
            ends.append(i)
            for v in model.final_violations(state):
                record(v, i, None)
        # a state with no step that is not final is stuck: TERMINATES below
        return steps  # type: ignore[return-value]  # no violation among them

    graph: Walk[State, Action] = Walk(successors, max_nodes=max_states)
    for s in model.initial_states(requests, kinds):
        graph.start(s)
    try:
        graph.run()
    except NodeLimit:
        raise StateLimit(f"more than {max_states} states") from None
    _terminates(graph, ends, record)
    result.states = len(graph)
    return result


def _record_violations(
    steps: list[tuple[Action, State | Violation]],
    i: int,
    record: Callable[[Violation, int, Action | None], None],
) -> list[tuple[Action, State]]:
    """Record the steps of state ``i`` that commit a violation; the others go on."""
    kept: list[tuple[Action, State]] = []
    for action, nxt in steps:
        if isinstance(nxt, Violation):
            record(nxt, i, action)
        else:
            kept.append((action, nxt))
    return kept


def _terminates(
    graph: Walk[State, Action],
    ends: list[int],
    record: Callable[[Violation, int, Action | None], None],
) -> None:
    """The first state (in breadth-first order) that cannot reach an end is the TERMINATES
    counterexample."""
    for i in graph.cannot_reach(ends):
        stuck = not graph.succ[i]
        why = ("no actor can move and the run has not ended" if stuck else
               "from here every run loops forever without reaching the end")
        record(Violation("TERMINATES", why), i, None)
        return
