"""A variant's contract with its callers, derived from its explored state graph.

For one request of each type (N = 1), every run from the initial state to the end is
followed, and what a caller can observe along it is kept as *events*, per actor: the value
returned, ``ki_complete`` running, which callbacks and kernel calls run, who starts and
ends freeze protection, who frees the wrapper and puts a file, when ``ki_pos`` is updated.
An actor's events keep their order; the interleaving of actors does not count (it is the
scheduler's, not the contract's). The runs are grouped by how the request ends: queued
(``-EIOCBQUEUED``), not queued, an allocation failure, an early error, a synchronous IO.
Two variants have the same contract when every group has the same set of behaviours, so a
rename, or a reorder of independent statements, changes nothing.

The graph is walked once, each state's behaviours to the end computed once (the graph of
one request is acyclic for the variants the catalogue has; a cycle is refused).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from backing_aio.model.effects import Change, Effect
from backing_aio.model.lang import Callback, KCall, Variant, value_name
from backing_aio.model.semantics import COMPLETION, Action, BackingAio
from backing_aio.model.state import DONE, Req, State, outcome_of
from backing_aio.vocab import Outcome

# An actor and its events, in order; a behaviour is one such tuple per actor that moved.
Behaviour = tuple[tuple[str, tuple[str, ...]], ...]
# the contexts actors run in, as a caller must assume them
_CONTEXT: Final = {COMPLETION: "completion (irq)"}


class CyclicGraph(ValueError):
    """The request's state graph has a cycle: its runs cannot be enumerated this way."""


@dataclass(frozen=True)
class Group:
    """How a request of type ``rtype`` ends: ``outcome`` (``queued``, ``not queued``,
    ``alloc failed``, ``wq failed``, ``early``, ``broken``)."""

    rtype: str
    outcome: str

    def text(self) -> str:
        return f"{self.outcome} {self.rtype}"


Contract = dict[Group, frozenset[Behaviour]]


def _events(model: BackingAio, r: Req, action: Action, effects: Iterable[Effect]) -> list[str]:
    """What a caller can see of one step, in words."""
    st = model.where(r, action.actor).stmt
    out = []
    if isinstance(st, KCall):
        out.append(f"calls {st.fn}")
    for e in effects:
        c = e.change
        if c is Change.RETURNED:
            out.append(f"returns {value_name(e.after)}")
        elif c is Change.CALLBACK_RUNS:
            out.append(_callback_text(st))
        elif c is Change.KI_COMPLETE_RUNS:
            out.append("calls ki_complete")
        elif c is Change.WRAPPER:
            out.append({1: "allocates the wrapper", 2: "frees the wrapper"}.get(
                e.after, f"wrapper {e.before}->{e.after}"))
        elif c in (Change.SHARED_FILE_REFS, Change.OPENED_FILE_REFS):
            which = "the backing file" if c is Change.SHARED_FILE_REFS else \
                "the file opened on the fly"
            out.append(f"{'gets' if e.after > e.before else 'puts'} {which}")
        elif c is Change.FREEZE:
            out.append("starts freeze protection" if e.after > e.before
                       else "ends freeze protection")
        elif c is Change.ORIG_POS and e.after:
            out.append("updates ki_pos")
        elif c is Change.WORK_QUEUED:
            out.append("queues the work")
        elif c is Change.CALLER_COMP_DEFERRED:
            out.append("leaves the completion to the issuer")
    return out


def contract(v: Variant) -> Contract:
    """``v``'s contract: for each way a request of each of its types ends, the set of
    behaviours a caller may observe."""
    model = BackingAio(v)
    out: dict[Group, set[Behaviour]] = {}
    for rtype in model.kinds:
        [start] = model.initial_states(1, [rtype])
        for outcome, behaviour in _runs(model, start, rtype):
            out.setdefault(Group(rtype, outcome), set()).add(behaviour)
    return {g: frozenset(b) for g, b in out.items()}


def _runs(model: BackingAio, start: State, rtype: str) -> set[tuple[str, Behaviour]]:
    """Every (outcome, behaviour) of the runs from ``start``: each state's once."""
    memo: dict[State, frozenset[tuple[str, tuple[tuple[str, str], ...]]]] = {}
    on_path: set[State] = set()

    def suffixes(state: State) -> frozenset[tuple[str, tuple[tuple[str, str], ...]]]:
        if state in memo:
            return memo[state]
        if state in on_path:
            raise CyclicGraph(f"{model.variant.name}: a {rtype} can loop")
        on_path.add(state)
        r = state[1]
        found: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
        for actor in model.enabled_actors(r):
            for choice in model.choices(r, actor):
                action = Action(0, actor, choice)
                after, effects = model.apply_explained(state, action)
                mine = tuple((actor, e) for e in _events(model, r, action, effects))
                if isinstance(after, list):  # the step breaks a property: the run ends
                    props = ",".join(sorted({x.prop for x in after}))
                    found.add(("broken", (*mine, (actor, f"breaks {props}"))))
                    continue
                if after[1] is DONE or after[1] == DONE:
                    found.add((str(outcome_of(r)), mine))
                    continue
                found.update((o, (*mine, *rest)) for o, rest in suffixes(after))
        on_path.discard(state)
        memo[state] = frozenset(found)
        return memo[state]

    out: set[tuple[str, Behaviour]] = set()
    for pending, events in suffixes(start):
        returned = next((e[len("returns "):] for a, e in events
                         if e.startswith("returns ")), None)
        outcome = pending if pending == "broken" else _outcome_named(pending, returned, rtype)
        out.add((outcome, _per_actor(events)))
    return out


def _callback_text(st: object) -> str:
    """The caller's callback that runs, with what it is handed beyond its file: the
    position it reads and the result."""
    if not isinstance(st, Callback):
        return "runs the callback"
    args = [a for a, on in (("ki_pos", st.reads_pos), ("result", st.passes_result)) if on]
    return f"runs callback {st.fn}" + (f"({', '.join(args)})" if args else "")


def _outcome_named(o: str, returned: str | None, rtype: str) -> str:
    if rtype.startswith("sync-"):
        return "sync" if o == Outcome.SUBMITTED else o.replace("_", " ")
    if o == Outcome.SUBMITTED:
        return "queued" if returned == "-EIOCBQUEUED" else "not queued"
    return o.replace("_", " ")


def _per_actor(events: tuple[tuple[str, str], ...]) -> Behaviour:
    actors: dict[str, list[str]] = {}
    for actor, e in events:
        actors.setdefault(_CONTEXT.get(actor, actor), []).append(e)
    return tuple(sorted((a, tuple(es)) for a, es in actors.items()))


@dataclass(frozen=True)
class Difference:
    """A group whose behaviours differ: those only the old variant has, only the new."""

    group: Group
    removed: frozenset[Behaviour]
    added: frozenset[Behaviour]


def diff(old: Contract, new: Contract) -> list[Difference]:
    out = []
    for g in sorted(set(old) | set(new), key=lambda g: (g.rtype, g.outcome)):
        a, b = old.get(g, frozenset()), new.get(g, frozenset())
        if a != b:
            out.append(Difference(g, a - b, b - a))
    return out


def behaviour_text(b: Behaviour) -> str:
    return "; ".join(f"{actor}: {', '.join(events)}" for actor, events in b)


def _where(behaviours: frozenset[Behaviour]) -> dict[str, frozenset[str]]:
    """Each event, and the actors it happens in across ``behaviours``."""
    out: dict[str, set[str]] = {}
    for b in behaviours:
        for actor, events in b:
            for e in events:
                out.setdefault(e, set()).add(actor)
    return {e: frozenset(a) for e, a in out.items()}


def summary(old: frozenset[Behaviour], new: frozenset[Behaviour]) -> list[str]:
    """The differences of one group in words: an event that moved to other actors, that
    no longer happens, or that is new."""
    a, b = _where(old), _where(new)
    out = []
    for e in sorted(set(a) | set(b)):
        was, now = a.get(e, frozenset()), b.get(e, frozenset())
        if was == now:
            continue
        if not now:
            out.append(f"{e}: no longer ({' or '.join(sorted(was))})")
        elif not was:
            out.append(f"{e}: new ({' or '.join(sorted(now))})")
        else:
            out.append(f"{e}: {' or '.join(sorted(was))} -> {' or '.join(sorted(now))}")
    return out
