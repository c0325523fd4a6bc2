"""Hypothesis stateful testing of the reference implementation, with real IO.

Where backing_aio.verify.hypothesis_model drives the model alone, this machine drives running code:
a kernel of refimpl/ on a real backing file, its queued IO done by a real backend (``thread``
or ``uring``), under the controlled scheduler, which the rules drive one decision at a time:

- ``submit``: a task issues a read or a write: sync or async, where in the file, how long
  (zero included), O_DIRECT or not (real O_DIRECT where the filesystem does it: the
  misaligned ones get -EINVAL from the real kernel).
- ``run_actor``: one ready actor (a submitter, the lower filesystem still inside submit,
  a completion whose IO the backend finished, a workqueue worker) takes a few steps: this
  is how completions are delivered, in any order, before or after submit returns.
- ``inject``: the next decision of one kind takes a fault (allocation or workqueue failure,
  an error or a short count instead of the IO, an inline completion, a file opened on the
  fly); undecided decisions take the fault-free option (async IO is queued).
- ``io_uring_write``: the next async write comes from io_uring, which sets
  IOCB_DIO_CALLER_COMP (on kernels that have it); otherwise the upper layer is Linux AIO.

After every step: no finding of the running code's checks (the checking allocator, file
references, refcount_t, freeze protection, the upper layer's checks, bytes read against
the shadow copy), every step is the model's next step and the actors ready to move are
those the model enables, and no property the model judges is broken. As an invariant the
file equals its shadow copy outside the requests in flight (every write landed where it
should, nothing else moved). At the end every request is finished, nothing leaks, and the
file equals the shadow copy.

A failure is a ``Broken`` naming the property (or ``CONFORMANCE`` when the run left the
model); Hypothesis prints the program of rule calls that reproduces it (the machine classes
are module attributes, see ``machine``), and the message carries the run as a model trace
that ``backing-aio replay`` replays, when the model agrees on the property.

``profile(name)``: ``quick`` (default; the fast test tier) or ``ci``, chosen as in
backing_aio.verify.hypothesis_model by $BACKING_AIO_HYPOTHESIS.
"""

from __future__ import annotations

import json
import os
import threading
from collections import deque
from collections.abc import Sequence
from typing import Any, ClassVar, Final

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from backing_aio.crosscheck.conformance import Conformance
from backing_aio.model.lang import Variant
from backing_aio.model.properties import PROPERTY_IDS
from backing_aio.model.variants import named
from backing_aio.refimpl.env import ALL_OPTIONS, CALLER_COMP_YES, Env
from backing_aio.refimpl.helpers import IMPLEMENTATIONS, Helpers
from backing_aio.refimpl.kasan import Finding
from backing_aio.refimpl.run import BLOCK, Workspace, kernel_for
from backing_aio.refimpl.sched import ACTORS, COMPLETION, LOWER, Controlled, First
from backing_aio.refimpl.upper import Upper
from backing_aio.verify.hypothesis_model import chosen, profiles
from backing_aio.verify.trace import Step, Trace
from backing_aio.vocab import EnvCondition

SLOTS: Final[int] = 8  # the file is cut into slots; a request in flight owns one
SLOT: Final[int] = 4 * BLOCK
MAX_REQUESTS: Final[int] = 24
MAX_LIVE: Final[int] = 4
SETTLE_AFTER: Final[int] = 2  # requests issued before the run may end (deeper runs)
OFFSETS: Final[tuple[int, ...]] = (0, 512, BLOCK, 1, 100)  # in the slot; O_DIRECT-aligned first
LENGTHS: Final[tuple[int, ...]] = (BLOCK, 512, 2 * BLOCK, 0, 1, 1000, BLOCK + 1)

# The fault-free option of each environment decision, and the faults ``inject`` may inject
# (which upper layer issues a write is ``io_uring_write``'s, not a fault).
DEFAULTS: Final[dict[str, str]] = {
    "alloc": "alloc ok", "fdget": "borrowed", "wq": "wq ok", "sync": "returns RES",
    "submit": "queues", "complete": "res RES",
    # not a fault as such: the upper layer is Linux AIO unless a rule makes it io_uring,
    # which sets IOCB_DIO_CALLER_COMP on the next async write (on kernels that have it)
    "caller_comp": "caller_comp: no",
    "privs": "privs ok", "not_backing": "not_backing: no",
}
FAULTS: Final[tuple[str, ...]] = tuple(
    f"{what}={option}" for what, options in ALL_OPTIONS.items() for option in options
    if option != DEFAULTS[what] and what != EnvCondition.CALLER_COMP)

# Each example is a real run (threads, file IO): fewer, shorter examples than the model's
# machine.
PROFILES: Final[dict[str, settings]] = profiles("backing-aio-refimpl", quick=(40, 40),
                                                ci=(300, 60))


def profile(name: str | None = None) -> settings:
    """The settings of one of the refimpl machine's profiles (``chosen``)."""
    return chosen(PROFILES, name)


class Faults:
    """The environment's chooser: an injected fault for the next decision of its kind,
    else the fault-free option."""

    def __init__(self) -> None:
        self._next: dict[str, deque[str]] = {what: deque() for what in DEFAULTS}
        self._lock = threading.Lock()  # decisions are taken on the actors' threads

    def inject(self, what: str, option: str) -> None:
        with self._lock:
            self._next[what].append(option)

    def pick(self, what: str, options: Sequence[str], req: int) -> int:
        with self._lock:
            queued = self._next[what]
            option = queued.popleft() if queued else DEFAULTS[what]
        return list(options).index(option)


class Broken(AssertionError):
    """The run broke ``prop`` (a property ID, ``DATA``, or ``CONFORMANCE``)."""

    def __init__(self, prop: str, message: str, trace: Trace | None = None) -> None:
        super().__init__(f"{prop}: {message}")
        self.prop = prop
        self.message = message
        self.trace = trace

    def __str__(self) -> str:
        out = f"{self.prop}: {self.message}"
        if self.trace is not None:
            out += ("\nthe run as a model trace (save as a file, then `backing-aio replay "
                    f"FILE`):\n{json.dumps(self.trace.as_json())}")
        return out


_workspaces: dict[int, Workspace] = {}


def _workspace() -> Workspace:
    """One workspace per process (reset for every example): probing O_DIRECT and making a
    temporary directory for every example would cost more than the example."""
    ws = _workspaces.get(os.getpid())
    if ws is None:
        ws = _workspaces[os.getpid()] = Workspace(size=SLOTS * SLOT)
    return ws


class RefimplMachine(RuleBasedStateMachine):
    """Random runs of one implementation on one backend (set by ``machine``)."""

    impl: ClassVar[type[Helpers]]
    variant: ClassVar[Variant]
    backend: ClassVar[str]
    io_uring: ClassVar[bool] = True  # whether ``io_uring_write`` may run

    def __init__(self) -> None:
        super().__init__()
        self.ws = _workspace()
        self.shadow = self.ws.reset()
        self.faults = Faults()
        self.sched = Controlled(First())  # decisions come from the rules (ready/grant)
        self.k = kernel_for(self.impl, self.sched, Env(self.faults, ALL_OPTIONS), self.ws,
                            self.backend)
        self.upper = Upper(self.k, self.impl(self.k), self.shadow)
        self.k.upper = self.upper
        self.conf = Conformance(self.variant, lambda i: self.k.requests[i].rtype)
        self.broken: Broken | None = None
        self.settled = False
        self.slots: dict[int, int] = {}  # slot -> request in flight there

    # -- rules ------------------------------------------------------------------------------
    @precondition(lambda self: self.broken is None and not self.settled
                  and len(self.k.requests) < MAX_REQUESTS and len(self._live()) < MAX_LIVE)
    @rule(kind=st.sampled_from(("read", "write")), sync=st.booleans(),
          slot=st.integers(0, SLOTS - 1), offset=st.sampled_from(OFFSETS),
          length=st.sampled_from(LENGTHS), direct=st.booleans())
    def submit(self, kind: str, sync: bool, slot: int, offset: int, length: int,
               direct: bool) -> None:
        """A task issues a request in ``slot`` (the next free one from there)."""
        busy = {s for s, i in self.slots.items() if not self.k.requests[i].finished}
        slot = next(s % SLOTS for s in range(slot, slot + SLOTS) if s % SLOTS not in busy)
        r = self.upper.prepare(("sync-" if sync else "") + kind, slot * SLOT + offset, length,
                               direct)
        self.slots[slot] = r.index
        self.conf.start([r.index])
        self.sched.spawn(lambda: self.upper.submit(r), f"task#{r.index}")
        self._check(self.sched.ready())

    @precondition(lambda self: self.broken is None and not self.settled)
    # plain strings: Hypothesis prints an argument's repr, and the program must replay
    @rule(actor=st.sampled_from([str(a) for a in ACTORS]), nth=st.integers(0, 3),
          steps=st.integers(1, 12))
    def run_actor(self, actor: str, nth: int, steps: int) -> None:
        """The ``nth`` ready ``actor`` (any ready one if none is) takes up to ``steps``
        steps in a row."""
        ready = self.sched.ready()
        if not ready:
            return
        same = [key for key in ready if key[1] == actor] or ready
        key = same[nth % len(same)]
        for _ in range(steps):
            self.sched.grant(key)
            ready = self.sched.ready()
            self._check(ready)
            if self.broken is not None or key not in ready:
                return

    @precondition(lambda self: self.broken is None)
    @rule(fault=st.sampled_from(FAULTS))
    def inject(self, fault: str) -> None:
        """The next decision of this kind takes the fault (after ``settle``, none comes:
        this is then the one rule left, as Hypothesis wants one)."""
        what, option = fault.split("=", 1)
        self.faults.inject(what, option)

    @precondition(lambda self: self.broken is None and self.io_uring)
    @rule()
    def io_uring_write(self) -> None:
        """The next async write comes from io_uring, which sets IOCB_DIO_CALLER_COMP on
        it (on a kernel that has the flag; elsewhere nothing asks). A rule of its own, not
        one fault among many: an upper layer is not a rare event."""
        self.faults.inject(EnvCondition.CALLER_COMP, CALLER_COMP_YES)

    @precondition(lambda self: self.broken is None and not self.settled
                  and len(self.k.requests) >= SETTLE_AFTER)
    @rule()
    def settle(self) -> None:
        """The run ends: every actor runs to its end, then the end is judged. A rule, not
        only the teardown: Hypothesis drops a failure the teardown raises while it unwinds
        an example that ran out of data."""
        self._drain()
        if self.broken is None:
            self._judge_end()
        self.settled = True

    # -- checks -----------------------------------------------------------------------------
    @invariant()
    def holds(self) -> None:
        if self.broken is not None:
            raise self.broken
        self._file_matches(except_live=True)
        if self.broken is not None:
            raise self.broken

    def teardown(self) -> None:
        """Run every actor to its end (the first ready one each time: no new race), then
        judge the end: the model's verdict, leaks, the whole file."""
        try:
            if self.broken is None and not self.settled:
                self._drain()
                if self.broken is None:
                    self._judge_end()
        finally:
            self.sched.finish()
            self.k.release_files()
        if self.broken is not None:
            raise self.broken

    # -- helpers ----------------------------------------------------------------------------
    def _live(self) -> list[int]:
        return [i for i, r in self.k.requests.items() if not r.finished]

    def _drain(self) -> None:
        for _ in range(100_000):
            ready = self.sched.ready()
            if not ready or self.broken is not None:
                return
            self.sched.grant(ready[0])
            self._check(self.sched.ready())

    def _check(self, ready: list[tuple[int, str]]) -> None:
        """After a step: the run's own findings, then the model's view of the step."""
        if self.broken is not None:
            return
        self.conf.feed_from(self.sched.events)
        rep = self.conf.report
        findings = [e for e in self.sched.failures if isinstance(e, Finding)]
        if findings:
            f = findings[0]
            agree = f.prop in rep.props
            self._break(f.prop, f"the run finds {f}" + (
                f"; the model agrees at step {rep.at_step}" if agree else
                f"; the model finds {', '.join(rep.props) or 'nothing'}"), agree)
            return
        if self.sched.failures:
            raise self.sched.failures[0]  # a bug of the harness: let it show as it is
        if rep.mismatch is not None:
            self._break("CONFORMANCE", f"the model cannot take {rep.mismatch}")
            return
        if rep.violations:
            v = rep.violations[0]
            self._break(v.prop, f"the model finds {v.message} at step {rep.at_step}; the "
                        "run has not found it (yet)", True)
            return
        enabled = self.conf.enabled()
        extra = set(ready) - enabled
        # An inline completion runs on the submitter's thread before the lower filesystem
        # returns: those two actors of the request cannot both be ready.
        missing = {(i, a) for i, a in enabled - set(ready)
                   if not (self.k.requests[i].inline and a in (LOWER, COMPLETION))}
        if extra or missing:
            self._break("CONFORMANCE", f"after step {rep.steps}: ready {sorted(ready)}, the "
                        f"model enables {sorted(enabled)}")

    def _judge_end(self) -> None:
        rep = self.conf.finish(self.k.requests)
        if rep.unfinished:
            self._break("CONFORMANCE", "; ".join(rep.unfinished))
            return
        findings = self.upper.end_checks()
        if findings:
            f = findings[0]
            agree = f.prop in rep.props
            self._break(f.prop, f"at the end the run finds {f}; the model finds "
                        f"{', '.join(rep.props) or 'nothing'}", agree, at_end=True)
            return
        if rep.violations:
            v = rep.violations[0]
            self._break(v.prop, f"at the end the model finds {v.message}; the run does not",
                        True, at_end=True)
            return
        self._file_matches(except_live=False)

    def _file_matches(self, except_live: bool) -> None:
        data = bytearray(self.ws.read())
        if except_live:
            # What requests in flight may have written yet is not judged until they finish.
            for i in self._live():
                r = self.k.requests[i]
                data[r.offset:r.offset + r.length] = self.shadow[r.offset:r.offset + r.length]
        if data != self.shadow:
            at = next(i for i, (a, b) in enumerate(zip(data, self.shadow, strict=True))
                      if a != b)
            self._break("DATA", f"byte {at} of the file is {data[at]:#x}, the shadow copy "
                        f"says {self.shadow[at]:#x}" + (
                            " (no request in flight covers it)" if except_live else ""))

    def _break(self, prop: str, message: str, replayable: bool = False,
               at_end: bool = False) -> None:
        trace = None
        if replayable and prop in PROPERTY_IDS:
            kinds = tuple(self.k.requests[i].rtype for i in sorted(self.k.requests))
            steps = tuple(Step(e.req, e.actor, e.choice)
                          for e in self.sched.events[:self.conf.report.steps])
            trace = Trace(self.variant.name, prop, "", message, kinds, steps, at_end)
        self.broken = Broken(prop, f"{self.impl.name} on {self.backend}: {message}", trace)


def machine(impl: type[Helpers] | str, backend: str = "thread",
            variant: Variant | str | None = None,
            io_uring: bool = True) -> type[RefimplMachine]:
    """The machine for an implementation (by name or class: a broken version from
    tests/broken.py too) on a backend, checked against its model variant (by default the
    one it names). ``io_uring`` off: no async write comes from io_uring, so none carries
    IOCB_DIO_CALLER_COMP (for a version known to pass it down, when the rest of what it
    does is the question). The class is also a module attribute under its own name, so
    that the program Hypothesis prints for a failure runs after
    ``from backing_aio.crosscheck.hypothesis_refimpl import *``."""
    cls = IMPLEMENTATIONS[impl] if isinstance(impl, str) else impl
    v = named(cls.name) if variant is None else (
        named(variant) if isinstance(variant, str) else variant)
    name = "Refimpl_" + "".join(c if c.isalnum() else "_" for c in f"{cls.name}_{backend}"
                                + ("" if io_uring else "_aio_only"))
    made = globals().get(name)
    if isinstance(made, type) and issubclass(made, RefimplMachine) and (
            made.impl is cls and made.variant == v and made.io_uring == io_uring):
        return made
    attrs: dict[str, Any] = {"impl": cls, "variant": v, "backend": backend,
                             "io_uring": io_uring, "__module__": __name__}
    made = type(name, (RefimplMachine,), attrs)
    globals()[name] = made
    return made
