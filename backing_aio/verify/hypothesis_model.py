"""Hypothesis stateful testing of the model: random deep runs with many requests.

The explorer enumerates every interleaving of a few requests; this machine goes the other
way: long random runs with many requests arriving over time (up to ``MAX_REQUESTS``), each
rule application one step of the model chosen among every enabled (request, actor, choice).
Any violation fails the run; Hypothesis shrinks it, and the failure message carries the
shrunk run as a saved counterexample (backing_aio.verify.trace's JSON: ``backing-aio replay FILE``
replays it) and its step-by-step explanation.

A request issued mid-run is, for the model, a request whose first step comes late: the
saved trace lists every request from the start, which replays the same.

``machine(variant)`` builds the machine for one variant; ``profile(name)`` gives the
settings: ``quick`` (the default, for the fast test tier) or ``ci`` (more and longer runs).
"""

from __future__ import annotations

import json
import os
from typing import Any, ClassVar, Final

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from backing_aio.model.lang import Variant
from backing_aio.model.properties import Violation
from backing_aio.model.semantics import REQUEST_TYPES, Action, BackingAio, State
from backing_aio.verify.trace import ReplayError, Step, Trace, check_replay, explain_text

MAX_REQUESTS: Final[int] = 40  # requests over a whole run
MAX_LIVE: Final[int] = 6  # requests in flight at once
MAX_BURST: Final[int] = 16  # steps one rule application may take
# Choices that end a request before it does anything interesting are drawn less often, so
# that runs go deep: weight 1 against ``COMMON`` for the others.
RARE: Final[frozenset[str]] = frozenset(
    {"zero_length: yes", "odirect_unsupported: yes", "alloc fails", "wq fails"})
COMMON: Final[int] = 4

def profiles(prefix: str, quick: tuple[int, int], ci: tuple[int, int]) -> dict[str, settings]:
    """The two profiles of a stateful machine, as (examples, steps per run), registered
    with Hypothesis under ``prefix``: ``quick`` (the fast test tier) skips Hypothesis's own
    shrinking, which takes minutes for a stateful run; ``ci`` shrinks too."""
    out = {
        "quick": settings(max_examples=quick[0], stateful_step_count=quick[1], deadline=None,
                          report_multiple_bugs=False,
                          phases=(Phase.explicit, Phase.reuse, Phase.generate),
                          suppress_health_check=[HealthCheck.too_slow]),
        "ci": settings(max_examples=ci[0], stateful_step_count=ci[1], deadline=None,
                       report_multiple_bugs=False,
                       suppress_health_check=[HealthCheck.too_slow]),
    }
    for name, s in out.items():
        settings.register_profile(f"{prefix}-{name}", s)
    return out


def chosen(known: dict[str, settings], name: str | None = None) -> settings:
    """The settings of a profile; by default $BACKING_AIO_HYPOTHESIS or ``quick``."""
    name = name or os.environ.get("BACKING_AIO_HYPOTHESIS", "quick")
    if name not in known:
        raise ValueError(f"unknown profile {name!r} (known: {', '.join(known)})")
    return known[name]


# The model's machine: shrinking is left to ``minimal`` (below) in ``quick``.
PROFILES: Final[dict[str, settings]] = profiles("backing-aio", quick=(60, 60), ci=(400, 150))


def profile(name: str | None = None) -> settings:
    """The settings of one of the model machine's profiles (``chosen``)."""
    return chosen(PROFILES, name)


class Found(AssertionError):
    """The machine's run broke a property; ``trace`` replays it. The message (with the
    step-by-step explanation) is written only when shown: shrinking raises this a lot."""

    def __init__(self, variant: Variant, trace: Trace) -> None:
        super().__init__(f"{trace.prop} ({trace.subject or '-'}) in {variant.name}")
        self.variant = variant
        self.trace = trace

    @property
    def minimal(self) -> Trace:
        """The run cut down to the request that broke the property, if that alone still
        breaks it (requests share only the file's count, so it usually does)."""
        return minimal(self.variant, self.trace)

    def __str__(self) -> str:
        t = self.minimal
        try:
            text = explain_text(self.variant, t)
        except Exception as e:  # pragma: no cover - the explanation is a courtesy
            text = f"(no explanation: {e})"
        cut = "" if t is self.trace else (
            f" (the run had {len(self.trace.kinds)} requests and {len(self.trace.steps)} steps;"
            f" shown: request #{self._kept()} alone)")
        return (f"{t.prop} ({t.subject or '-'}) in {t.variant}{cut}: {t.message}\n{text}\n"
                "replayable counterexample (save as a file, then `backing-aio replay FILE`):\n"
                f"{json.dumps(t.as_json())}")


    def _kept(self) -> int:
        return self.trace.steps[-1].request


def minimal(variant: Variant, trace: Trace) -> Trace:
    """``trace`` projected on the request of its last step, renumbered 0, if the projection
    still breaks the same property (same subject); otherwise ``trace`` itself."""
    if trace.at_end or not trace.steps or len(trace.kinds) == 1:
        return trace
    keep = trace.steps[-1].request
    cut = Trace(trace.variant, trace.prop, trace.subject, trace.message,
                (trace.kinds[keep],),
                tuple(Step(0, s.actor, s.choice) for s in trace.steps if s.request == keep),
                False, trace.source)
    try:
        check_replay(variant, cut)
    except ReplayError:
        return trace
    return cut


class ModelMachine(RuleBasedStateMachine):
    """Random runs of one variant's model (set by ``machine``)."""

    variant: ClassVar[Variant]

    def __init__(self) -> None:
        super().__init__()
        self.model = BackingAio(self.variant)
        self.state: State = (1,)
        self.kinds: list[str] = []
        self.steps: list[Step] = []
        self.found: list[Violation] = []
        self.at_end = False

    # -- rules ------------------------------------------------------------------------------
    @initialize(kinds=st.lists(st.sampled_from(REQUEST_TYPES), min_size=1, max_size=4))
    def start(self, kinds: list[str]) -> None:
        for k in kinds:
            self._issue(k)

    @precondition(lambda self: len(self.kinds) < MAX_REQUESTS and not self.found
                  and self._live() < MAX_LIVE)
    @rule(kind=st.sampled_from(REQUEST_TYPES))
    def issue(self, kind: str) -> None:
        """A new request arrives (io_uring submits another SQE)."""
        self._issue(kind)

    @precondition(lambda self: not self.found)
    @rule(data=st.data(), burst=st.integers(1, MAX_BURST))
    def run_actor(self, data: st.DataObject, burst: int) -> None:
        """One actor of one request takes up to ``burst`` steps in a row, the environment
        choosing at each. Long runs of one actor with few switches between them find the
        races quickly (most concurrency bugs need only one or two preemptions)."""
        actors = self._actors()
        if not actors:
            if not self.model.is_final(self.state):
                self._found([Violation("TERMINATES", "no actor can move and the run has "
                                       "not ended")], at_end=True)
            return
        req, actor = data.draw(st.sampled_from(actors), label="actor")
        for _ in range(burst):
            r = self.state[1 + req]
            if actor not in self.model.enabled_actors(r):
                return
            choices = self._weighted(self.model.choices(r, actor))
            choice = data.draw(st.sampled_from(choices), label="choice")
            self._apply(Action(req, actor, choice))
            if self.found:
                return

    # -- checks -----------------------------------------------------------------------------
    @invariant()
    def no_violation(self) -> None:
        if self.found:
            raise self._failure()

    def teardown(self) -> None:
        """Finish the run and judge its end. The finishing steps are always the first
        enabled ones (no new race): a finding stays in the drawn steps, which shrink."""
        if self.found:
            return
        for _ in range(100_000):
            enabled = self._enabled()
            if not enabled:
                break
            self._apply(enabled[0])
            if self.found:
                raise self._failure()
        if not self.model.is_final(self.state):
            self._found([Violation("TERMINATES", "no actor can move and the run has not "
                                   "ended")], at_end=True)
        else:
            found = self.model.final_violations(self.state)
            if found:
                self._found(found, at_end=True)
        if self.found:
            raise self._failure()

    # -- helpers ----------------------------------------------------------------------------
    def _issue(self, kind: str) -> None:
        served = self.model.kinds
        if kind not in served:  # a variant that serves fewer types: the same draw, mapped
            kind = served[REQUEST_TYPES.index(kind) % len(served)]
        self.kinds.append(kind)
        self.state = (*self.state, self.model.new_request(kind))

    def _live(self) -> int:
        return sum(1 for r in self.state[1:] if self.model.enabled_actors(r))

    def _actors(self) -> list[tuple[int, str]]:
        return [(i, a) for i, r in enumerate(self.state[1:]) for a in self.model.enabled_actors(r)]

    @staticmethod
    def _weighted(choices: list[str]) -> list[str]:
        """The common choices repeated: a weighted draw that still shrinks to the first."""
        out: list[str] = []
        for c in choices:
            out.extend([c] * (1 if c in RARE else COMMON))
        return out

    def _enabled(self) -> list[Action]:
        return [Action(i, a, c) for i, a in self._actors()
                for c in self.model.choices(self.state[1 + i], a)]

    def _apply(self, action: Action) -> None:
        self.steps.append(Step(action.req, action.actor, action.choice))
        nxt = self.model.apply(self.state, action)
        if isinstance(nxt, list):
            self._found(nxt, at_end=False)
        else:
            self.state = nxt

    def _found(self, violations: list[Violation], at_end: bool) -> None:
        self.found = violations
        self.at_end = at_end

    def _failure(self) -> Found:
        v = self.found[0]
        return Found(self.variant, Trace(self.variant.name, v.prop, v.subject, v.message,
                                         tuple(self.kinds), tuple(self.steps), self.at_end))


def machine(variant: Variant) -> type[ModelMachine]:
    """The state machine class for ``variant``."""
    attrs: dict[str, Any] = {"variant": variant}
    name = "ModelMachine_" + "".join(c if c.isalnum() else "_" for c in variant.name)
    return type(name, (ModelMachine,), attrs)


def search(variant: Variant, name: str = "quick") -> Trace | None:
    """One derandomized run of the machine with profile ``name`` (the same runs every
    time): the trace of the first property it breaks, or None when every run held. A
    random search that finds nothing has proved nothing; what it finds is a real run."""
    try:
        run_state_machine_as_test(machine(variant), settings=settings(
            profile(name), database=None, derandomize=True))
    except Found as e:
        return e.minimal
    return None
