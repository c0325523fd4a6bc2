"""Driving the reference implementation from the model: a model trace run on refimpl, and
the search over every interleaving and environment choice of a small program.

``explore`` is a stateless search over the controlled scheduler's decisions, pruned where
the run reaches a model state it already explored from, together with the little state the
model does not see yet. It checks conformance on every run and collects the model states
the runs visit, so a test can compare them with the model's own reachable states: the
reference implementation does everything the model says can happen, and nothing else.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from backing_aio.crosscheck.conformance import (
    Conformance,
    Impl,
    Report,
    resolve,
)
from backing_aio.model.lang import Variant
from backing_aio.model.properties import Violation
from backing_aio.model.semantics import Action, BackingAio
from backing_aio.model.state import State, canonical
from backing_aio.refimpl.env import MODEL_OPTIONS, Env
from backing_aio.refimpl.kernel import Kernel
from backing_aio.refimpl.run import BLOCK, IoSpec, RunResult, Workspace, run
from backing_aio.refimpl.sched import (
    Controlled,
    Prefix,
    Script,
    Seeded,
    Stop,
)
from backing_aio.verify.graph import walk
from backing_aio.verify.trace import Trace
from backing_aio.vocab import EnvCondition, env_answer


def program_for(trace: Trace) -> tuple[list[IoSpec], bool]:
    """The program (and whether the file can do O_DIRECT) a model trace describes: request
    types from the trace, zero length and O_DIRECT refusal from its choices."""
    zero: set[int] = set()
    direct: set[int] = set()
    for s in trace.steps:
        if s.choice == env_answer(EnvCondition.ZERO_LENGTH, True):
            zero.add(s.request)
        if s.choice == env_answer(EnvCondition.ODIRECT_UNSUPPORTED, True):
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
            # the upper layer decided IOCB_DIO_CALLER_COMP before the first step; the
            # model learns it only when a step copies the original's flags
            caller_comp = tuple(sorted(i for i, r in k.requests.items() if r.caller_comp))
            key = (state, tuple(sorted(k.lower.pending.items())),
                   k.upper_sb.s_dio_done_wq is not None, caller_comp, tuple(ready))
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
    workqueue's existence, which originals carry IOCB_DIO_CALLER_COMP), plus who is
    ready. Every run is checked for conformance."""
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


