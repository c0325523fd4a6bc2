"""Exhaustive breadth-first exploration of a variant with N concurrent requests.

States are canonical (requests sorted: symmetry reduction), so each class of states is
visited once; symmetry keeps lengths, so breadth-first order still finds a shortest path to
every class. The partial-order reductions do not keep lengths: the independent one moves
the request under way to its end before the next starts, so a write that breaks a property
is shown after a whole read. What a counterexample is, is therefore said on it
(``Counterexample.shortest``):

- with no partial-order reduction, each is a shortest run in the full interleaving space;
- with the independent one, a finding of one request (a step, the request's end, a request
  that can never move again) is rebuilt from that request explored alone and embedded in
  the N requests, the others not moving: requests meet only on the shared file's count,
  which stays at least 1 without an over-drop, so no run of N is shorter. A finding at the
  end of the whole run (the shared file's count) costs every request's whole run in every
  interleaving, and the sequential runs the reduction explores are as short as any;
- with the dependent one, each is the shortest run that reduction met, and a shorter
  interleaving may exist (``--reduction none`` gives the shortest, at its cost).

Safety properties are raised by steps; the properties about how requests end are judged on
final states. TERMINATES: in a variant whose control flow cannot loop, a request that is
not finished and whose actors can none of them move can never move again (requests cannot
enable each other's steps); with loops, it is judged on the graph once it is complete:
every state must be able to reach an end (a final state, or a step that commits a
violation and so ends the run with a finding of its own).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from backing_aio.model.lang import Variant
from backing_aio.model.properties import Violation, verdict_text
from backing_aio.model.semantics import Action, BackingAio, ReductionUnsound, State
from backing_aio.model.state import DONE, request_type
from backing_aio.verify.graph import NodeLimit, Walk


@dataclass(frozen=True)
class Counterexample:
    """A path from an initial state to a violation of ``prop``: a shortest one in the full
    interleaving space when ``shortest``, otherwise the shortest the reduction met (see the
    module's docstring).

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
    shortest: bool = True

    @property
    def what(self) -> str:
        """How a person should read its length."""
        return "shortest" if self.shortest else "shortest the reduction found"


@dataclass
class Result:
    variant: str
    requests: int
    states: int = 0
    transitions: int = 0
    finals: int = 0
    seconds: float = 0.0
    reduction: str = "none"  # the partial-order reduction the numbers were obtained with
    stopped: bool = False  # ``first``: the search stopped at its first finding
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
    first: bool = False,
    symmetry: bool = True,
) -> Result:
    """Explore every interleaving of ``requests`` concurrent requests (every mix of reads
    and writes, or exactly ``kinds``) and return a counterexample per finding, the shortest
    one where the reduction allows (``Counterexample.shortest``).

    ``reduction="auto"`` tries the independent-requests reduction and falls back to the
    dependency-aware one if a request drops a shared reference it does not hold (see
    ``BackingAio.successors``); ``"none"`` explores the full product. ``first`` stops at
    the first finding (bug hunting: the verdict then names that one property).
    ``symmetry=False`` keeps requests apart too (the reduction test's reference).
    """
    if requests < 1:
        raise ValueError("at least one request")
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown reduction {reduction!r}")
    model = BackingAio(variant, symmetry=symmetry)
    started = time.perf_counter()
    if not model.acyclic:
        mode = "none"
    elif reduction == "auto":
        mode = "independent"
    else:
        mode = reduction
    # The search allocates millions of tuples and frees none: the cyclic collector would
    # walk them all again and again for nothing (measured: a third of the time).
    collecting = gc.isenabled()
    gc.disable()
    try:
        while True:
            try:
                result = _search(model, requests, kinds, mode, max_states, progress,
                                 started, first)
            except ReductionUnsound:
                if reduction != "auto":
                    raise
                mode = "dependent"
                continue
            if mode == "independent" and requests > 1 and not (first and result.failed):
                _embed_single_runs(model, requests, kinds, result)
            result.seconds = time.perf_counter() - started
            return result
    finally:
        if collecting:
            gc.enable()


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
    first: bool = False,
) -> Result:
    search = _Search(model, requests, mode, progress, started, first, max_states)
    for s in model.initial_states(requests, kinds):
        search.graph.start(s)
    try:
        search.graph.run()
    except NodeLimit:
        raise StateLimit(f"more than {max_states} states") from None
    if not model.acyclic and not search.graph.stopped:
        _terminates(search.graph, search.ends, search.record)
    search.result.states = len(search.graph)
    search.result.stopped = search.graph.stopped
    return search.result


class _Search:
    """One breadth-first search: what it records of each state it expands."""

    def __init__(self, model: BackingAio, requests: int, mode: str,
                 progress: Callable[[int, float], None] | None, started: float, first: bool,
                 max_states: int | None) -> None:
        self.model, self.requests, self.mode = model, requests, mode
        self.progress, self.started, self.first = progress, started, first
        self.result = Result(model.variant.name, requests, reduction=mode)
        self.ends: list[int] = []  # states that end a run (for TERMINATES with loops)
        self.next_report = 2_000
        # Without loops a request that cannot move is stuck for good (see the module's
        # docstring): TERMINATES needs no graph, so the walk keeps no edges. With no
        # partial-order reduction every request is looked at in every state; the
        # reductions see it where the run stops.
        self.every_request = model.acyclic and mode == "none" and requests > 1
        # independent with N > 1: exact only at the end of the whole run until the
        # findings of single requests are embedded (_embed_single_runs)
        self.alone = mode != "independent" or requests == 1
        self.graph: Walk[State, Action] = Walk(self.successors, max_nodes=max_states,
                                               edges=not model.acyclic)

    def record(self, v: Violation, i: int, last: Action | None) -> None:
        key = (v.prop, v.subject)
        actor = last.actor if last is not None else "end"
        runs = self.result.by_actor.setdefault(key, {})
        if actor in runs:
            return
        init, actions = self.graph.path(i)
        if last is not None:
            actions = (*actions, last)
        shortest = self.mode != "dependent" and (
            self.alone or (last is None and v.prop != "TERMINATES"))
        cx = Counterexample(v.prop, v.subject, v.message, self.model.variant.name,
                            self.requests, init, actions, at_end=last is None,
                            shortest=shortest)
        runs[actor] = cx
        self.result.violations.setdefault(key, cx)
        if self.first:
            self.graph.stop()

    def successors(self, i: int, state: State) -> list[tuple[Action, State]]:
        model, result = self.model, self.result
        steps = model.successors(state, self.mode)
        result.transitions += len(steps)
        if self.progress is not None and len(self.graph) >= self.next_report:
            self.next_report += 2_000  # the callback throttles what it shows
            self.progress(len(self.graph), time.perf_counter() - self.started)
        if self.every_request and any(model.stuck(r) for r in state[1:]):
            self.record(Violation("TERMINATES", STUCK), i, None)
        for _, nxt in steps:
            if isinstance(nxt, Violation):  # a step that commits a violation ends the run
                self.ends.append(i)
                return _record_violations(steps, i, self.record)
        if not steps:
            if model.is_final(state):
                result.finals += 1
                self.ends.append(i)
                for v in model.final_violations(state):
                    self.record(v, i, None)
            elif model.acyclic:
                self.record(Violation("TERMINATES", STUCK), i, None)
        return steps  # type: ignore[return-value]  # no violation among them


STUCK = "no actor can move and the run has not ended"


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
    """With loops: the first state (in breadth-first order) that cannot reach an end is the
    TERMINATES counterexample."""
    for i in graph.cannot_reach(ends):
        stuck = not graph.succ[i]
        why = STUCK if stuck else "from here every run loops forever without reaching the end"
        record(Violation("TERMINATES", why), i, None)
        return


def _embed_single_runs(model: BackingAio, requests: int, kinds: Sequence[str] | None,
                       result: Result) -> None:
    """Replace each finding of one request by the shortest run of that request explored
    alone, embedded in the N requests' first initial state that has one of its type (the
    others never move). Under the independent reduction nothing shorter exists (see the
    module's docstring); a finding at the end of the whole run stays as found."""
    if all(cx.at_end and cx.prop != "TERMINATES" for cx in result.violations.values()):
        return  # no finding of one request: nothing to rebuild
    initials = model.initial_states(requests, kinds)
    present = {request_type(r) for s in initials for r in s[1:]}
    for kind in sorted(present):
        alone = _search(model, 1, [kind], "independent", None, None, 0.0)
        for key, runs in alone.by_actor.items():
            for actor, cx in runs.items():
                if cx.at_end and cx.prop != "TERMINATES":
                    continue  # the shared file's count at the end: judged on N requests
                mine = result.by_actor.setdefault(key, {})
                old = mine.get(actor)
                if old is None or not old.shortest or len(cx.actions) < len(old.actions):
                    mine[actor] = _embedded(model, initials, cx)
    for key, runs in result.by_actor.items():
        result.violations[key] = min(runs.values(), key=lambda c: len(c.actions))


def _embedded(model: BackingAio, initials: list[State], cx: Counterexample) -> Counterexample:
    """``cx`` (one request) replayed on the first of ``initials`` with a request of its type
    that has not started, the others staying where they are."""
    fresh = cx.initial[1]
    state = start = next(s for s in initials if fresh in s[1:])
    j = state[1:].index(fresh)  # the first of equal requests: the one the search moves
    actions: list[Action] = []
    for n, a in enumerate(cx.actions):
        actions.append(Action(j, a.actor, a.choice))
        if n == len(cx.actions) - 1 and not cx.at_end:
            break  # the step that commits the violation
        nxt = model.apply(state, actions[-1])
        assert not isinstance(nxt, list), "a step before the last broke a property"
        moved = nxt[1 + j]
        state = model.canonical(nxt)
        if moved is not DONE:
            j = state[1:].index(moved)
    return Counterexample(cx.prop, cx.subject, cx.message, cx.variant, len(start) - 1, start,
                          tuple(actions), cx.at_end, shortest=True)
