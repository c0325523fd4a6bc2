"""The verdict at any number of requests, composed from one request of each type.

Requests share nothing but the shared backing file's count. Explored alone, a request
sees the count as 1 (the owner's reference) plus its own gets minus its puts. Among N
requests it sees that plus the references the others hold. While no request drops a
reference it does not hold, that number is never below 0. So if every decision a step
takes on the count is the same whatever the others hold, the request behaves identically
at every N, and so do all its findings: a step's, its end's, and being stuck. What is
left is the end of the whole run. The count at the end is 1 plus every request's net
references, none negative, so it is more than 1 exactly when some request ends holding
one.

Both conditions are checked, not assumed:
- the count each request sees is an ``AnyCount``, its own part plus an unknown number
  k >= 0 of others' references. Every comparison the semantics makes on it must be
  answered the same for every k, or ``Undecided`` stops the composition;
- a request whose references go negative (an over-drop) stops it too.

A stopped composition says why. The explicit search (``explorer``) then gives the verdict
for each N it can afford. This mirrors the z3 any-N argument (``prove``) with explicit
states: one request's reachable states, far fewer than the states of N requests.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field

from backing_aio.model.lang import Variant
from backing_aio.model.properties import Violation, verdict_text
from backing_aio.model.semantics import Action, BackingAio
from backing_aio.model.state import DONE, State
from backing_aio.verify.graph import Walk


class Undecided(Exception):
    """A comparison on the shared count whose answer depends on the other requests."""


@dataclass(frozen=True)
class AnyCount:
    """The shared file's count as one request sees it among any number of others:
    ``own`` (the owner's 1 and this request's gets minus puts) plus what the others hold,
    an unknown k >= 0. Arithmetic moves ``own``; a comparison answers only when it
    answers the same for every k."""

    own: int

    def __add__(self, n: int) -> AnyCount:
        return AnyCount(self.own + n)

    def __sub__(self, n: int) -> AnyCount:
        return AnyCount(self.own - n)

    def _below(self, n: int, strict: bool) -> bool:
        # own + k < n (or <= n) for every k >= 0 never holds (k is unbounded); it fails
        # for every k exactly when it fails for k = 0
        if self.own > n or (strict and self.own == n):
            return False
        raise Undecided(f"the shared count (this request's {self.own} plus any others') "
                        f"compared with {n}")

    def __lt__(self, n: int) -> bool:
        return self._below(n, strict=True)

    def __le__(self, n: int) -> bool:
        return self._below(n, strict=False)

    def __gt__(self, n: int) -> bool:
        return not self._below(n, strict=False)

    def __ge__(self, n: int) -> bool:
        return not self._below(n, strict=True)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, AnyCount):  # two states' counts, when states are compared
            return self.own == other.own
        if isinstance(other, int):
            return not self.__lt__(other) and self.__le__(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.own)

    def __int__(self) -> int:
        raise Undecided("the shared count read as a number")


@dataclass
class Composition:
    """The composed verdict, or why there is none (``reason``)."""

    variant: str
    failed: frozenset[str] = frozenset()
    reason: str = ""  # non-empty: not composed, the explicit search decides
    states: int = 0  # one request of each type, summed
    seconds: float = 0.0
    kinds: tuple[str, ...] = field(default_factory=tuple)

    @property
    def composed(self) -> bool:
        return not self.reason

    def verdict(self) -> str:
        return verdict_text(self.failed)

    def text(self) -> str:
        if not self.composed:
            return f"any N: not composed ({self.reason})"
        return (f"any N: {self.verdict()} by composition (one request of each type, "
                f"{self.states} states, {self.seconds:.3f}s)")


class _Stop(Exception):
    pass


def compose(variant: Variant) -> Composition:
    """The findings of ``variant`` at every N >= 1 (every mix of its request types), from
    one request of each type; see the module's docstring for why and when this holds."""
    started = time.perf_counter()
    model = BackingAio(variant)
    out = Composition(variant.name, kinds=model.kinds)
    failed: set[str] = set()
    collecting = gc.isenabled()
    gc.disable()  # as the explorer: many tuples, no cycles
    try:
        for kind in model.kinds:
            states, found = _one_request(model, kind)
            out.states += states
            failed |= found
    except Undecided as e:
        out.reason = f"a step's decision depends on the other requests: {e}"
    except _Stop as e:
        out.reason = str(e)
    finally:
        if collecting:
            gc.enable()
    if out.composed:
        out.failed = frozenset(failed)
    out.seconds = time.perf_counter() - started
    return out


def _one_request(model: BackingAio, kind: str) -> tuple[int, set[str]]:
    """Explore one request of ``kind`` among unknown others: its states and findings."""
    found: set[str] = set()
    ends: list[int] = []

    def successors(i: int, state: State) -> list[tuple[Action, State]]:
        steps = model.successors(state, "none")
        kept: list[tuple[Action, State]] = []
        for action, nxt in steps:
            if isinstance(nxt, Violation):
                found.add(nxt.prop)
                ends.append(i)
                continue
            r = nxt[1]
            if r is not DONE and r.shared_refs < 0:
                raise _Stop(f"the {kind} drops a reference on the shared file it does not "
                            f"hold ({action.actor})")
            kept.append((action, nxt))
        if not steps:
            if model.is_final(state):
                ends.append(i)
                own = state[0].own
                if own < 1:
                    raise _Stop(f"the {kind} ends holding {own - 1} references on the "
                                "shared file")
                if own > 1:
                    found.add("LEAK")  # its reference is never dropped, at any N
            elif model.acyclic:
                found.add("TERMINATES")  # stuck for good, whatever the others do
        return kept

    graph: Walk[State, Action] = Walk(successors, edges=not model.acyclic)
    graph.start((AnyCount(1), model.new_request(kind)))
    graph.run()
    if not model.acyclic and graph.cannot_reach(ends):
        found.add("TERMINATES")  # cannot reach its end: nor can the run of N
    return len(graph), found
