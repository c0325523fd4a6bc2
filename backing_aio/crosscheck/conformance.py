"""Conformance: every run of the reference implementation (refimpl/) is a run of the model.

A run emits one ``Event(request, actor, op, choice)`` per step (backing_aio.refimpl.sched).
Replaying it on the model of the same variant (``BackingAio.apply``) must accept every step, and the
model and the run must reach the same verdict: both clean at the end, or the same property
broken. ``Conformance`` replays a run as it goes (or afterwards) and reports the first step
the model cannot take, with the reason.

The mapping from the reference implementation's points to model steps:

| refimpl point                                   | model step                            |
|-------------------------------------------------|---------------------------------------|
| ``step(op)`` in refimpl.helpers                 | the statement the actor is at; its    |
|                                                 | ``op`` must be ``op``                 |
| ``lower_returns`` (LowerFs.submit, after queue) | actor ``lower``: L2 touch, return     |
| ``complete_fires`` (a completion thread)        | actor ``completion`` while armed      |
| ``work_starts`` (a workqueue worker)            | actor ``worker`` while pending        |
| ``Event.choice``                                | ``Action.choice`` (model spelling)    |
| ``Event.req``                                   | the request's stable number           |
| actors parked at a scheduling decision          | the actors the model enables          |

Requests interact in the model only through the shared file's count (state[0]; see
model/state.py), so each request is replayed on its own two-field state
``(shared, request)`` with the one global count: the same steps as on the whole state, at a
constant cost per step however many requests a long run issues.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from backing_aio.model.lang import Variant
from backing_aio.model.properties import Violation
from backing_aio.model.semantics import Action, BackingAio, EnvStep, env_step
from backing_aio.model.state import DONE, Req, State
from backing_aio.model.variants import named
from backing_aio.refimpl.helpers import Helpers
from backing_aio.refimpl.kasan import Finding
from backing_aio.refimpl.run import RunResult, implementation
from backing_aio.refimpl.sched import (
    COMPLETE_FIRES,
    LOWER_RETURNS,
    WORK_STARTS,
    Event,
)
from backing_aio.verify.trace import Step, Trace


@dataclass(frozen=True)
class Mismatch:
    """The first step of a run the model cannot take (``step`` counts from 1)."""

    step: int
    event: Event
    reason: str

    def __str__(self) -> str:
        e = self.event
        choice = f" [{e.choice}]" if e.choice else ""
        return f"step {self.step}: #{e.req} {e.actor} {e.op}{choice}: {self.reason}"


@dataclass
class Report:
    variant: str
    steps: int = 0  # steps the model took
    mismatch: Mismatch | None = None
    violations: list[Violation] = field(default_factory=list)  # the model's verdict
    at_step: int = 0  # the step the model found them at (0: at the end)
    after: int = 0  # steps the run took after the model's verdict
    unfinished: list[str] = field(default_factory=list)  # requests the model sees running
    # the run itself broke (a bug or a timeout of the harness, not a finding): what it did
    # is not a run of the code, so it agrees with nothing
    harness_errors: list[str] = field(default_factory=list)

    @property
    def props(self) -> list[str]:
        return [v.prop for v in self.violations]

    @property
    def conforms(self) -> bool:
        """The model took every step of the run, and the run ended where the model can."""
        return self.mismatch is None and not self.unfinished and not self.harness_errors

    def agrees(self, findings: Sequence[Finding]) -> bool:
        """The run conforms and reached the model's verdict: both clean, or a property in
        common (the model judges a request's end when its last actor finishes, the run at
        teardown, so a run may go on after the model's verdict)."""
        if not self.conforms:
            return False
        if not self.violations and not findings:
            return True
        return bool({f.prop for f in findings} & set(self.props))

    def explain(self, findings: Sequence[Finding] = ()) -> str:
        if self.harness_errors:
            return f"{self.variant}: the run broke: " + "; ".join(self.harness_errors)
        if self.mismatch is not None:
            return f"{self.variant}: the model cannot take {self.mismatch}"
        if self.unfinished:
            return f"{self.variant}: the run ended, the model did not: " + "; ".join(
                self.unfinished)
        model = ", ".join(f"{v.prop} ({v.message})" for v in self.violations) or "nothing"
        run = ", ".join(str(f) for f in findings) or "nothing"
        where = f"at step {self.at_step}" if self.at_step else "at the end"
        return (f"{self.variant}: {self.steps} steps conform; the model finds {model} "
                f"{where}; the run finds {run}")


# The reference implementation's names for the environment's own steps.
_ENV_EVENTS: Final[dict[EnvStep, str]] = {
    EnvStep.LOWER_RETURNS: LOWER_RETURNS,
    EnvStep.COMPLETION_FIRES: COMPLETE_FIRES,
    EnvStep.WORK_STARTS: WORK_STARTS,
}


def model_op(model: BackingAio, r: Req, actor: str) -> str | None:
    """The reference implementation's name for the step ``actor`` takes next in ``r``."""
    env = env_step(r, actor)
    if env is not None:
        return _ENV_EVENTS[env]
    st = model.where(r, actor).stmt
    return st.op if st is not None else None


def takes(model: BackingAio, r: Req, actor: str, event: str) -> bool:
    """Is ``event`` (the reference implementation's name of a step) the step ``actor``
    takes next in ``r``?"""
    env = env_step(r, actor)
    if env is not None:
        return _ENV_EVENTS[env] == event
    st = model.where(r, actor).stmt
    return st is not None and st.named(event)


class Conformance:
    """Replays a run's events on the model, one at a time or in batches."""

    def __init__(self, variant: Variant, rtype_of: Callable[[int], str]) -> None:
        self.variant = variant
        self.model = BackingAio(variant)
        self.rtype_of = rtype_of
        self.shared = 1
        self.reqs: dict[int, Req] = {}
        self.report = Report(variant.name)
        self.fed = 0  # events consumed (for feeding from a growing list)

    @property
    def stopped(self) -> bool:
        return self.report.mismatch is not None or bool(self.report.violations)

    def start(self, requests: Iterable[int]) -> None:
        """The run's requests, before their first steps (so that what they may do first is
        known when the run asks who is ready)."""
        for i in requests:
            self._req(i)

    def _req(self, i: int) -> Req:
        r = self.reqs.get(i)
        if r is None:
            r = self.reqs[i] = self.model.new_request(self.rtype_of(i))
        return r

    def feed(self, events: Iterable[Event]) -> None:
        for ev in events:
            self.fed += 1
            self.step(ev)

    def feed_from(self, events: Sequence[Event]) -> None:
        """Consume the events of ``events`` not consumed yet."""
        self.feed(events[self.fed:])

    def step(self, ev: Event) -> None:
        rep = self.report
        if self.stopped:
            rep.after += 1
            return
        n = rep.steps + 1
        r = self._req(ev.req)
        if r == DONE:
            rep.mismatch = Mismatch(n, ev, "the model has finished this request")
            return
        enabled = self.model.enabled_actors(r)
        if ev.actor not in enabled:
            rep.mismatch = Mismatch(n, ev, f"{ev.actor} cannot move here (the model can move: "
                                    f"{', '.join(enabled) or 'nothing'})")
            return
        if not takes(self.model, r, ev.actor, ev.op):
            want = model_op(self.model, r, ev.actor)
            w = self.model.where(r, ev.actor)
            at = f" ({w.proc}:{w.pc} {w.stmt.label})" if w.stmt is not None else ""
            rep.mismatch = Mismatch(n, ev, f"the model is at {want}{at}")
            return
        try:
            nxt = self.model.apply((self.shared, r), Action(0, ev.actor, ev.choice))
        except ValueError as e:
            rep.mismatch = Mismatch(n, ev, str(e))
            return
        rep.steps = n
        if isinstance(nxt, list):
            rep.violations = nxt
            rep.at_step = n
            return
        self.shared = nxt[0]
        self.reqs[ev.req] = nxt[1]

    def enabled(self) -> set[tuple[int, str]]:
        return {(i, a) for i, r in self.reqs.items() for a in self.model.enabled_actors(r)}

    def state(self) -> State:
        """The whole model state, requests in their stable order."""
        return (self.shared, *(self.reqs[i] for i in sorted(self.reqs)))

    def finish(self, requests: Iterable[int] = ()) -> Report:
        """The run has ended: every request must have finished in the model too, and the
        end of the run is judged (the shared file's count)."""
        rep = self.report
        if self.stopped:
            return rep
        for i in requests:
            self._req(i)
        for i, r in sorted(self.reqs.items()):
            if r != DONE:
                moving = self.model.enabled_actors(r)
                rep.unfinished.append(f"request #{i} can still move: {', '.join(moving)}"
                                      if moving else f"request #{i} is stuck")
        if not rep.unfinished:
            rep.violations = self.model.final_violations(
                (self.shared, *(DONE for _ in self.reqs)))
        return rep


Impl = type[Helpers] | str


def resolve(impl: Impl, variant: Variant | str | None = None) -> tuple[type[Helpers], Variant]:
    """The implementation class and the model variant its runs must conform to (by
    default the one it names)."""
    cls = implementation(impl) if isinstance(impl, str) else impl
    if variant is None:
        variant = cls.name
    return cls, named(variant) if isinstance(variant, str) else variant


def check_run(variant: Variant | str, result: RunResult) -> Report:
    """Replay a finished run on the model (offline)."""
    v = named(variant) if isinstance(variant, str) else variant
    kinds = {r.index: r.rtype for r in result.requests}
    c = Conformance(v, kinds.__getitem__)
    c.feed(result.events)
    c.report.harness_errors = [repr(e) for e in result.errors]
    if c.stopped or result.stopped or result.errors or result.raised:
        return c.report  # the model's verdict, or the step the run stopped at
    return c.finish(kinds)


def as_trace(result: RunResult, prop: str = "", subject: str = "") -> Trace:
    """A run as a verify.trace.Trace (to replay or explain it with the model's tools)."""
    return Trace(result.variant, prop, subject, "", result.kinds,
                 tuple(Step(e.req, e.actor, e.choice) for e in result.events), at_end=False)
