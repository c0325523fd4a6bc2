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
model/backing_aio.py), so each request is replayed on its own two-field state
``(shared, request)`` with the one global count: the same steps as on the whole state, at a
constant cost per step however many requests a long run issues.

``explore`` drives the reference implementation through every interleaving and every
environment choice of a small program (a stateless search over the controlled
scheduler's decisions, pruned where the run reaches a model state it already explored from,
together with the little state the model does not see yet). It checks conformance on every
run, and collects the model states the runs visit, so a test can compare them with the
model's own reachable states: the reference implementation does everything the model says
can happen, and nothing else.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from backing_aio.model.lang import Variant
from backing_aio.model.properties import Violation
from backing_aio.model.semantics import Action, BackingAio, EnvStep, env_step
from backing_aio.model.state import DONE, Req, State, canonical
from backing_aio.model.variants import named
from backing_aio.refimpl.env import MODEL_OPTIONS, Env
from backing_aio.refimpl.helpers import Helpers
from backing_aio.refimpl.kasan import Finding
from backing_aio.refimpl.kernel import Kernel
from backing_aio.refimpl.run import BLOCK, IoSpec, RunResult, Workspace, implementation, run, stress
from backing_aio.refimpl.sched import (
    COMPLETE_FIRES,
    LOWER_RETURNS,
    WORK_STARTS,
    Controlled,
    Event,
    Free,
    Prefix,
    Script,
    Seeded,
    Stop,
)
from backing_aio.verify.graph import walk
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


# A catalogue variant, or a generated mutant by its stable name: the command line's one
# resolver (an unknown name is a ValueError that is also bad input, exit 2).
variant_named = named


Impl = type[Helpers] | str


def resolve(impl: Impl, variant: Variant | str | None = None) -> tuple[type[Helpers], Variant]:
    """The implementation class and the model variant its runs must conform to (by
    default the one it names)."""
    cls = implementation(impl) if isinstance(impl, str) else impl
    if variant is None:
        variant = cls.name
    return cls, variant_named(variant) if isinstance(variant, str) else variant


def check_run(variant: Variant | str, result: RunResult) -> Report:
    """Replay a finished run on the model (offline)."""
    v = variant_named(variant) if isinstance(variant, str) else variant
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


# ---- driving the reference implementation ------------------------------------------

def program_for(trace: Trace) -> tuple[list[IoSpec], bool]:
    """The program (and whether the file can do O_DIRECT) a model trace describes: request
    types from the trace, zero length and O_DIRECT refusal from its choices."""
    zero: set[int] = set()
    direct: set[int] = set()
    for s in trace.steps:
        if s.choice == "zero_length: yes":
            zero.add(s.request)
        if s.choice == "odirect_unsupported: yes":
            direct.add(s.request)
    specs = [IoSpec(k, offset=2 * BLOCK * i, length=0 if i in zero else BLOCK,
                    direct=i in direct) for i, k in enumerate(trace.kinds)]
    return specs, not direct


def run_trace(trace: Trace, workspace: Workspace, impl: Impl | None = None,
              backend: str = "thread") -> RunResult:
    """Run the reference implementation (by default the one of the trace's variant) on
    exactly the interleaving and environment choices of a model trace."""
    specs, can_odirect = program_for(trace)
    script = Script([(s.request, s.actor, s.choice) for s in trace.steps])
    sched = Controlled(script)
    return run(impl or trace.variant, specs, sched=sched, env=Env(script, MODEL_OPTIONS),
               workspace=workspace, can_odirect=can_odirect, backend=backend)


class Follow:
    """Follows one controlled run on the model as it goes (the scheduler's ``on_pick``):
    at every scheduling decision the actors ready to move must be ones the model enables
    (all of them, unless ``require_all`` is off: an inline completion hides the lower
    filesystem's step). With a ``visited`` set it also prunes: a path stops at a decision
    whose state was met before, once past the ``chooser``'s prefix."""

    def __init__(self, variant: Variant, require_all: bool = True,
                 chooser: Prefix | None = None, visited: set[Any] | None = None,
                 states: set[State] | None = None) -> None:
        self.variant = variant
        self.require_all = require_all
        self.chooser = chooser
        self.visited = visited
        self.states = states
        self.sched: Controlled | None = None
        self._k: Kernel | None = None
        self._conf: Conformance | None = None

    @property
    def conf(self) -> Conformance:
        assert self._conf is not None, "the run has not started"
        return self._conf

    def on_kernel(self, k: Kernel) -> None:
        self._k = k
        self._conf = Conformance(self.variant, lambda i: k.requests[i].rtype)
        self._conf.start(k.requests)

    def on_pick(self, ready: list[tuple[int, str]]) -> None:
        conf = self.conf
        assert self.sched is not None
        conf.feed_from(self.sched.events)
        rep = conf.report
        if rep.mismatch is not None:
            raise Disagreement(str(rep.mismatch))
        if rep.violations:
            return  # the model's run ended here; the verdicts are compared at the end
        enabled = conf.enabled()
        extra = set(ready) - enabled
        if extra:
            raise Disagreement(f"after step {rep.steps}: ready to move {sorted(extra)}, "
                               f"the model enables {sorted(enabled)}")
        if self.require_all and enabled - set(ready):
            raise Disagreement(f"after step {rep.steps}: the model enables "
                               f"{sorted(enabled - set(ready))}, the run cannot move them")
        state = conf.state()
        if self.states is not None:
            self.states.add(canonical(state))
        if self.visited is not None and self.chooser is not None and (
                self.chooser.beyond_prefix):
            k = self._k
            assert k is not None
            key = (state, tuple(sorted(k.lower.pending.items())),
                   k.upper_sb.s_dio_done_wq is not None, tuple(ready))
            if key in self.visited:
                raise Stop("pruned")
            self.visited.add(key)

    def finish(self, result: RunResult) -> Report:
        """The run is over: replay what is left and judge its end."""
        conf = self.conf
        conf.feed_from(result.events)
        conf.report.harness_errors = [repr(e) for e in result.errors]
        if conf.stopped or result.stopped or result.errors or result.raised:
            return conf.report  # the model's verdict, or the step the run stopped at
        rep = conf.finish(r.index for r in result.requests)
        if self.states is not None and not rep.violations and rep.conforms:
            self.states.add(canonical(conf.state()))
        return rep


class Disagreement(Stop):
    """The run left the model: a step it cannot take, or actors ready that it does not
    enable."""


def run_checked(
    impl: Impl,
    specs: Sequence[IoSpec],
    *,
    workspace: Workspace,
    seed: int,
    options: dict[str, tuple[str, ...]] | None = None,
    weights: dict[str, float] | None = None,
    can_odirect: bool = True,
    require_all_enabled: bool = True,
    variant: Variant | str | None = None,
    backend: str = "thread",
) -> tuple[RunResult, Report]:
    """One seeded controlled run, followed on the model as it goes (see ``Follow``)."""
    cls, v = resolve(impl, variant)
    chooser = Seeded(seed, weights)
    follow = Follow(v, require_all_enabled)
    sched = follow.sched = Controlled(chooser, follow.on_pick)
    result = run(cls, specs, sched=sched, env=Env(chooser, options or MODEL_OPTIONS),
                 workspace=workspace, can_odirect=can_odirect, on_kernel=follow.on_kernel,
                 backend=backend)
    rep = follow.finish(result)
    if isinstance(sched.stopped_by, Disagreement) and rep.mismatch is None:
        rep.unfinished.append(str(sched.stopped_by))
    return result, rep


@dataclass
class Exploration:
    variant: str
    specs: list[IoSpec]
    runs: int = 0
    pruned: int = 0
    completed: int = 0
    states: set[State] = field(default_factory=set)  # canonical model states visited
    findings: dict[str, tuple[RunResult, Report]] = field(default_factory=dict)
    disagreements: list[str] = field(default_factory=list)  # runs that left the model
    verdicts: list[str] = field(default_factory=list)  # conforming runs, other verdicts
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def explore(
    impl: Impl,
    specs: Sequence[IoSpec],
    *,
    workspace: Workspace,
    options: dict[str, tuple[str, ...]] | None = None,
    can_odirect: bool = True,
    prune: bool = True,
    max_runs: int = 50_000,
    variant: Variant | str | None = None,
    backend: str = "thread",
) -> Exploration:
    """Every interleaving and environment choice of ``specs``, as a depth-first search
    over the controlled scheduler's decisions. With ``prune`` a path stops at a scheduling
    point whose state was met before: the model's state, plus what the reference
    implementation knows and the model does not yet (a queued IO's decided outcome, the
    workqueue's existence), plus who is ready. Every run is checked for conformance."""
    cls, v = resolve(impl, variant)
    out = Exploration(cls.name, list(specs))
    started = time.perf_counter()
    visited: set[Any] = set()
    prefix: list[int] = []
    while out.runs < max_runs:
        out.runs += 1
        chooser = Prefix(prefix)
        follow = Follow(v, True, chooser, visited if prune else None, out.states)
        sched = follow.sched = Controlled(chooser, follow.on_pick)
        result = run(cls, specs, sched=sched, env=Env(chooser, options or MODEL_OPTIONS),
                     workspace=workspace, can_odirect=can_odirect,
                     on_kernel=follow.on_kernel, backend=backend)
        why = sched.stopped_by
        if isinstance(why, Disagreement):
            out.disagreements.append(f"{chooser.taken}: {why}")
        elif why is not None:
            out.pruned += 1
        elif result.errors:
            out.errors.append(f"{chooser.taken}: {result.errors[0]!r}")
        else:
            out.completed += 1
            rep = follow.finish(result)
            if not rep.conforms:
                out.disagreements.append(f"{chooser.taken}: {rep.explain(result.findings)}")
            elif not rep.agrees(result.findings):
                out.verdicts.append(f"{chooser.taken}: {rep.explain(result.findings)}")
            for f in result.findings:
                out.findings.setdefault(f.prop, (result, rep))
        taken = chooser.taken
        while taken and taken[-1][2] + 1 >= taken[-1][1]:
            taken.pop()
        if not taken:
            break
        prefix = [t[2] for t in taken[:-1]] + [taken[-1][2] + 1]
    out.seconds = time.perf_counter() - started
    return out


def reachable(variant: Variant, kinds: Sequence[str]) -> set[State]:
    """Every model state reachable from the initial state with these request types (no
    reduction), the violating steps left out."""
    model = BackingAio(variant)

    def successors(_: int, s: State) -> list[tuple[Action, State]]:
        return [(a, n) for a, n in model.successors(s, "none") if not isinstance(n, Violation)]

    return set(walk(model.initial_states(len(kinds), kinds)[:1], successors).nodes)


def programs(rtype: str, *, direct_refused: bool) -> list[tuple[list[IoSpec], bool]]:
    """The programs of one request that cover the model's request-level choices: some
    bytes, zero bytes, and (if the variant asks) O_DIRECT on a file that cannot do it."""
    out = [([IoSpec(rtype, 0, BLOCK, segments=2)], True), ([IoSpec(rtype, 0, 0)], True)]
    if direct_refused:
        out.append(([IoSpec(rtype, 0, BLOCK, direct=True)], False))
    return out


# ---- a throughput benchmark: checked runs next to the same runs with checking off ----

@dataclass
class BenchRow:
    variant: str
    backend: str
    mode: str  # "checked": KASAN on, every step replayed on the model; "unchecked": neither
    requests: int
    steps: int
    device_ios: int  # real asynchronous completions (the benchmark's unit)
    async_ios: int  # real IOs of asynchronous kiocbs (also those served inside submit)
    ios: int  # all real IOs (sync kiocbs too)
    direct: int  # O_DIRECT requests among them
    seconds: float
    findings: int
    file_ok: bool
    conforms: bool | None
    baseline: float | None = None  # async IOs per second of the unchecked twin
    problems: list[str] = field(default_factory=list)  # the findings and errors, in words

    @property
    def rate(self) -> float:
        return self.device_ios / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        conf = "-" if self.conforms is None else "yes" if self.conforms else "NO"
        cost = "-" if not self.baseline or not self.rate else f"{self.baseline / self.rate:.2f}x"
        return (f"{self.variant:<9} {self.backend:<7} {self.mode:<9} {self.requests:>8} "
                f"{self.steps:>9} {self.device_ios:>9} {self.async_ios:>9} {self.ios:>8} "
                f"{self.direct:>7} "
                f"{self.seconds:>8.2f} {self.rate:>8.0f} {self.findings:>8} "
                f"{'yes' if self.file_ok else 'NO':>7} {conf:>8} {cost:>7}")


BENCH_HEADER = (f"{'variant':<9} {'backend':<7} {'mode':<9} {'requests':>8} {'steps':>9} "
                f"{'completed':>9} {'async IOs':>9} {'real IOs':>8} {'O_DIRECT':>7} "
                f"{'seconds':>8} "
                f"{'IOs/s':>8} {'findings':>8} {'file ok':>7} {'conforms':>8} "
                f"{'cost':>7}")

BENCH_NOTE = ("# completed: real asynchronous completions, queued IOs the backend "
              "transferred and completed on another thread (the unit of IOs/s); async IOs: "
              "all real IOs of async kiocbs, also those served inside submit or completed "
              "inline; real IOs: sync kiocbs too. checked: the checking allocator on and "
              "every step replayed on the model as it runs; unchecked: both off. cost: "
              "unchecked IOs/s / checked IOs/s.")


def bench(variant: str, n: int, *, checked: bool, backend: str = "thread", seed: int = 1,
          tasks: int = 8, size_blocks: int = 1024) -> BenchRow:
    """Stress runs (reads and writes, sync and async, some O_DIRECT, faults injected) from
    ``tasks`` tasks on real threads, until ``n`` real asynchronous completions are done.
    ``checked``: the checking allocator on and every step replayed on the model as it
    runs; otherwise both off (the same workload: the same seed)."""
    holder: dict[str, Conformance] = {}

    def attach(k: Kernel, sched: Free) -> None:
        c = Conformance(variant_named(variant), lambda i: k.requests[i].rtype)
        holder["c"] = c
        sched.on_events = c.feed

    with Workspace(size=size_blocks * BLOCK) as ws:
        r = stress(variant, None, device_ios=n, workspace=ws, seed=seed, tasks=tasks,
                   on_kernel=attach if checked else None, backend=backend, checking=checked)
    conforms: bool | None = None
    if checked:
        rep = holder["c"].finish(range(r.requests))
        conforms = rep.conforms and not rep.violations and rep.steps == r.steps
    return BenchRow(variant, backend, "checked" if checked else "unchecked", r.requests,
                    r.steps, r.device_ios, r.async_ios, r.ios, r.direct, r.seconds,
                    len(r.findings) + len(r.errors), r.file_ok, conforms,
                    problems=[str(f) for f in r.findings] + [repr(e) for e in r.errors])


def bench_table(variants: Sequence[str], backends: Sequence[str], n: int, *, tasks: int,
                seed: int, out: Path | None) -> int:
    """``bench`` for every variant and backend, unchecked then checked, printed as rows as
    they finish (and written to ``out``): 0 every run clean and conforming, 1 one is not."""
    from backing_aio.outputs import write_text
    from backing_aio.refimpl.uring import unavailable

    rows = []
    lines = [BENCH_HEADER]
    print(BENCH_HEADER, flush=True)
    notes = [BENCH_NOTE]
    for v in variants:
        for backend in backends:
            why = unavailable() if backend == "uring" else None
            if why is not None:
                notes.append(f"# {v} {backend}: not run: io_uring is unavailable ({why})")
                print(notes[-1], flush=True)
                continue
            base: float | None = None
            for checked in (False, True):
                row = bench(v, n, checked=checked, backend=backend, seed=seed, tasks=tasks)
                if checked:
                    row.baseline = base
                else:
                    base = row.rate
                rows.append(row)
                lines.append(row.line())
                print(row.line(), flush=True)
                for why in row.problems[:3]:
                    notes.append(f"# {v} {backend} {row.mode}: {why}")
                    print(notes[-1], flush=True)
    with Workspace() as ws:
        notes.append("# O_DIRECT: real, " + (f"aligned to {ws.dio_align} bytes" if ws.direct_io
                                             else f"not available ({ws.direct_reason})"))
    print("\n".join(notes[1:]), flush=True)
    if out is not None:
        write_text(out, "\n".join(lines + notes) + "\n")
    bad = [r for r in rows if r.findings or not r.file_ok or r.conforms is False]
    return 1 if bad else 0
