"""Actors, instrumented points and the schedulers that decide who runs next.

The helpers run on real threads: the submitting task, the lower filesystem's completion
threads, the workqueue's workers. Each thread acts, at any moment, as one *actor* of one
request, in the model's vocabulary: ``submitter``, ``lower`` (the lower filesystem still
inside submit after queueing, contract L2), ``completion`` (the clone's ki_complete and what
it calls) and ``worker`` (a work item queued by a completion). Before every atomic step the
model has, the code calls ``step(op)``: that is an instrumented point and a scheduling
point. The step runs from that point to the actor's next point; its environment choice
(allocation failed, IO queued, ...) is recorded with ``choose`` as soon as it is decided.

Two schedulers:

- ``Controlled``: cooperative. Every actor thread parks at each point; once every thread is
  parked (or finished) the harness thread asks a ``Chooser`` which parked actor goes next,
  runs it to its next point, and so on. Runs are reproducible from the chooser's decisions:
  a seeded RNG, a script (a model trace), or a prefix (for the exhaustive search in
  ``backing_aio.crosscheck.conformance``).
- ``Free``: the operating system decides. One lock is held from a point to the actor's next
  point, so steps stay atomic and the event log is the order in which they ran, while the
  real IO between them (preadv/pwritev on the completion threads) runs in parallel.

Both log every step as an ``Event(request, actor, op, choice)``: the trace a run emits.
"""

from __future__ import annotations

import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final, Protocol

from backing_aio.vocab import Actor as Role
from backing_aio.vocab import Choice, EnvCondition, env_answer

SUBMITTER, LOWER, COMPLETION, WORKER = (
    Role.SUBMITTER, Role.LOWER, Role.COMPLETION, Role.WORKER)
# In the order a scheduling decision lists the ready actors of one request.
ACTORS: Final[tuple[Role, ...]] = (SUBMITTER, LOWER, COMPLETION, WORKER)
_ORDER: Final[dict[str, int]] = {a: i for i, a in enumerate(ACTORS)}

# Points that are the environment's own steps, not statements of the helpers.
LOWER_RETURNS: Final[str] = "lower_returns"  # L2: touches the clone, returns -EIOCBQUEUED
COMPLETE_FIRES: Final[str] = "complete_fires"  # the lower fs calls the clone's ki_complete
WORK_STARTS: Final[str] = "work_starts"  # the workqueue starts aio->work


@dataclass(slots=True)
class Event:
    """One step of a run: which request, which actor, which statement (model op), and the
    environment's choice in the model's spelling ("" when the step has one outcome)."""

    req: int
    actor: str
    op: str
    choice: str = ""


class Actor:
    """One actor of one request; ``k`` is the kernel (refimpl.kernel.Kernel) it runs in."""

    __slots__ = ("event", "irq", "k", "name", "req")

    def __init__(self, k: Any, req: int, name: str, irq: bool = False) -> None:
        self.k = k
        self.req = req
        self.name = name
        self.irq = irq  # completion context: nothing needing process context may run
        self.event: Event | None = None

    @property
    def key(self) -> tuple[int, str]:
        return (self.req, self.name)


_tls = threading.local()


def current() -> Actor:
    """The actor the calling thread is acting as (the kernel's ``current``, per actor)."""
    a: Actor | None = getattr(_tls, "actor", None)
    if a is None:
        raise RuntimeError("no actor: this code must run inside a request's actor")
    return a


def become(actor: Actor) -> None:
    """The calling thread acts as ``actor`` from its next point on."""
    _tls.actor = actor


def step(op: str, choice: str = "") -> None:
    """An instrumented point: the current actor is about to take the step ``op``."""
    a = current()
    a.k.sched.point(a, op, choice)


def choose(choice: str) -> None:
    """Record the environment's choice of the step under way."""
    ev = current().event
    assert ev is not None, "choose() outside a step"
    ev.choice = choice


class Aborted(BaseException):
    """Unwinds an actor thread when a controlled run stops early (a finding elsewhere, a
    pruned search path). A BaseException so that no ``except Exception`` swallows it."""


class Stop(Exception):
    """Raised by a controlled run's ``on_pick`` hook to end the run quietly (pruning)."""


class Chooser(Protocol):
    def pick(self, what: str, options: Sequence[str], req: int) -> int:
        """The index of the option to take. ``what`` is ``"schedule"`` for a scheduling
        decision (options are ``"#req actor"``) or an environment decision's name."""
        ...


class Seeded:
    """Seeded random decisions, optionally weighted by option name (default weight 1)."""

    def __init__(self, seed: int, weights: dict[str, float] | None = None) -> None:
        self.rng = random.Random(seed)
        self.weights = weights or {}
        self._lock = threading.Lock()

    def pick(self, what: str, options: Sequence[str], req: int) -> int:
        if len(options) == 1:
            return 0
        w = [self.weights.get(o, 1.0) for o in options]
        with self._lock:
            return self.rng.choices(range(len(options)), weights=w)[0]


class First:
    """Always the first option: the lowest-numbered actor, the environment's default."""

    def pick(self, what: str, options: Sequence[str], req: int) -> int:
        return 0


class Prefix:
    """Follow a list of decisions, then take the first option; record every decision with
    more than one option as ``(what, options, taken)`` (the exhaustive search's driver)."""

    def __init__(self, prefix: Sequence[int] = ()) -> None:
        self.prefix = list(prefix)
        self.taken: list[tuple[str, int, int]] = []

    @property
    def beyond_prefix(self) -> bool:
        return len(self.taken) >= len(self.prefix)

    def pick(self, what: str, options: Sequence[str], req: int) -> int:
        if len(options) == 1:
            return 0
        n = len(self.taken)
        i = self.prefix[n] if n < len(self.prefix) else 0
        if i >= len(options):
            raise Stop(f"decision {n} ({what}) has {len(options)} options, prefix says {i}")
        self.taken.append((what, len(options), i))
        return i


class ScriptError(Exception):
    """A scripted run cannot follow its script (the reference implementation did not offer
    the step or the choice the script names)."""


class Script:
    """Follow a model trace: the k-th scheduling decision runs the actor of the trace's
    k-th step; an environment decision inside a step takes that step's choice. Two
    decisions are made ahead of their step: the completion's result (fixed when the IO is
    queued) is the choice of the request's next completion step that has one
    (``RESULTS``); whether the upper layer sets IOCB_DIO_CALLER_COMP (decided when it
    builds the kiocb, before any step) is the request's answer wherever the trace has it
    (``CALLER_COMP``).
    """

    RESULTS: Final = frozenset({Choice.RES_RES, Choice.RES_EIO})
    CALLER_COMP: Final = frozenset({env_answer(EnvCondition.CALLER_COMP, t)
                                    for t in (True, False)})

    def __init__(self, steps: Sequence[tuple[int, str, str]]) -> None:
        self.steps = list(steps)
        self.at = -1  # the step under way

    def pick(self, what: str, options: Sequence[str], req: int) -> int:
        if what == "schedule":
            self.at += 1
            if self.at >= len(self.steps):
                raise ScriptError(f"the run goes on after the script's {len(self.steps)} steps")
            r, actor, _ = self.steps[self.at]
            want = f"#{r} {actor}"
            if want not in options:
                raise ScriptError(f"step {self.at + 1}: {want} is not ready (ready: "
                                  f"{', '.join(options)})")
            return list(options).index(want)
        choice = self._choice(what, req)
        if choice is None:
            return 0  # the script ends before this decision matters
        if choice not in options:
            raise ScriptError(f"step {self.at + 1}: the {what} decision has no option "
                              f"{choice!r} (options: {', '.join(options)})")
        return list(options).index(choice)

    def _choice(self, what: str, req: int) -> str | None:
        if what == "complete":
            for r, actor, choice in self.steps[self.at:]:
                if r == req and actor == COMPLETION and choice in self.RESULTS:
                    return choice
            return None  # the completion never fires within the script
        if what == EnvCondition.CALLER_COMP:
            for r, _actor, choice in self.steps:
                if r == req and choice in self.CALLER_COMP:
                    return choice
            return None  # no step of the script copies the original's flags
        return self.steps[self.at][2] if self.at >= 0 else ""


class Scheduler(ABC):
    """What the kernel needs from a scheduler. ``events`` is the run's trace."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.failures: list[BaseException] = []
        self._fail_lock = threading.Lock()

    deterministic: bool = False

    @abstractmethod
    def spawn(self, fn: Callable[[], None], name: str, pool: str = "task") -> None:
        """Run ``fn`` on another thread. ``pool``: "task" (a submitting task), "io" (the
        lower filesystem's completion threads) or "wq" (the workqueue's workers)."""

    @abstractmethod
    def point(self, a: Actor, op: str, choice: str) -> None:
        """The actor ``a`` reached a point: wait for its turn, then log the step."""

    @abstractmethod
    def idle(self) -> None:
        """The calling thread stops acting for now (it will wait for something outside the
        helpers, like a free region of the file)."""

    @abstractmethod
    def run(self) -> None:
        """Drive the run to its end (called on the harness thread)."""

    @abstractmethod
    def hold(self) -> None:
        """Something outside the scheduler's threads will act for the run later: an IO in
        flight in the kernel (io_uring), whose completion a reaper thread hands over with
        ``deliver``. Until then the run is not over, and a controlled run waits for it
        before deciding, as it waits for a spawned thread."""

    @abstractmethod
    def deliver(self, fn: Callable[[], None], name: str) -> None:
        """Called by a thread the scheduler does not own (the io_uring reaper), once per
        ``hold``: run ``fn`` as the held work, then drop the hold."""

    def fail(self, exc: BaseException) -> None:
        with self._fail_lock:
            self.failures.append(exc)

    def _main(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Aborted:
            pass
        except BaseException as e:  # a finding, or a bug of the reference implementation
            self.fail(e)
        finally:
            _tls.actor = None
            self._thread_done()

    @abstractmethod
    def _thread_done(self) -> None: ...


def _label(key: tuple[int, str]) -> str:
    return f"#{key[0]} {key[1]}"


class Controlled(Scheduler):
    """One actor at a time; the chooser picks among the parked ones.

    ``on_pick(ready)`` runs before each scheduling decision, with every earlier step
    finished: the conformance check follows the run there, and may raise ``Stop``.
    """

    deterministic = True

    def __init__(
        self,
        chooser: Chooser,
        on_pick: Callable[[list[tuple[int, str]]], None] | None = None,
        timeout: float = 30.0,
    ) -> None:
        super().__init__()
        self.chooser = chooser
        self.on_pick = on_pick
        self.timeout = timeout
        self.stopped_by: BaseException | None = None
        self._cond = threading.Condition()
        self._running = 0  # threads neither parked nor finished
        self._parked: dict[tuple[int, str], Actor] = {}
        self._granted: Actor | None = None
        self._stopped = False
        self._threads: list[threading.Thread] = []

    def spawn(self, fn: Callable[[], None], name: str, pool: str = "task") -> None:
        t = threading.Thread(target=self._main, args=(fn,), name=name, daemon=True)
        with self._cond:
            # Counted as running from now: the run waits for it to park before deciding,
            # which makes the decisions independent of thread timing.
            self._running += 1
            self._threads.append(t)
        t.start()

    def _thread_done(self) -> None:
        with self._cond:
            self._running -= 1
            self._cond.notify_all()

    def point(self, a: Actor, op: str, choice: str) -> None:
        with self._cond:
            if self._stopped:
                raise Aborted
            key = a.key
            assert key not in self._parked, f"two threads act as {_label(key)}"
            self._parked[key] = a
            self._running -= 1
            self._cond.notify_all()
            while self._granted is not a:
                if self._stopped:
                    del self._parked[key]
                    self._running += 1
                    raise Aborted
                self._cond.wait()
            self._granted = None
            del self._parked[key]
            ev = Event(a.req, a.name, op, choice)
            self.events.append(ev)
            a.event = ev

    def idle(self) -> None:
        pass  # in a controlled run only points give the processor away

    def fail(self, exc: BaseException) -> None:
        super().fail(exc)
        self.stop()

    def stop(self, why: BaseException | None = None) -> None:
        with self._cond:
            if why is not None and self.stopped_by is None:
                self.stopped_by = why
            self._stopped = True
            self._cond.notify_all()

    def hold(self) -> None:
        with self._cond:
            self._running += 1

    def deliver(self, fn: Callable[[], None], name: str) -> None:
        # A thread of its own: the reaper must go on reaping while this completion is
        # parked (the model lets every armed completion move, in any order).
        self.spawn(fn, name, "io")
        with self._cond:
            self._running -= 1  # after the spawn counted: never 0 in between
            self._cond.notify_all()

    def ready(self) -> list[tuple[int, str]]:
        """Wait until every thread is parked or finished; the parked actors, in order
        (none once the run is over or stopped). With ``grant``, a harness can drive the
        run one decision at a time instead of calling ``run``."""
        with self._cond:
            while self._running > 0 and not self._stopped:
                if not self._cond.wait(self.timeout):
                    self._stopped = True
                    self.failures.append(TimeoutError(
                        f"an actor neither reached a point nor finished in "
                        f"{self.timeout}s (parked: {sorted(self._parked)})"))
            if self._stopped:
                return []
            return sorted(self._parked, key=lambda k: (k[0], _ORDER[k[1]]))

    def grant(self, key: tuple[int, str]) -> None:
        """Let the parked actor ``key`` take its step (up to its next point)."""
        with self._cond:
            self._granted = self._parked[key]
            self._running += 1
            self._cond.notify_all()

    def run(self) -> None:
        while True:
            ready = self.ready()
            if not ready:
                break
            # Every thread is parked: nothing changes under the decision.
            try:
                if self.on_pick is not None:
                    self.on_pick(ready)
                i = self.chooser.pick("schedule", [_label(k) for k in ready], -1)
            except BaseException as e:
                with self._cond:
                    if isinstance(e, Stop):
                        self.stopped_by = e
                    else:
                        self.failures.append(e)
                break
            self.grant(ready[i])
        self.finish()

    def finish(self) -> None:
        """End the run: every actor still parked unwinds; wait for the threads."""
        self.stop()
        for t in list(self._threads):
            t.join(self.timeout)


class Free(Scheduler):
    """Threads run freely; a lock held from point to point keeps each step atomic.

    ``on_events(batch)`` receives finished events in order (under the lock), every
    ``batch`` steps and at the end, so a long run can be checked without keeping its trace.
    """

    def __init__(
        self,
        io_workers: int = 8,
        wq_workers: int = 2,
        on_events: Callable[[list[Event]], None] | None = None,
        batch: int = 4096,
        keep_events: bool = True,
        stall: float = 120.0,
    ) -> None:
        super().__init__()
        self._big = threading.Lock()
        # no step for this long while threads are outstanding: a deadlock, reported as a
        # failure instead of a hang
        self.stall = stall
        self._pools = {
            "io": ThreadPoolExecutor(io_workers, thread_name_prefix="lower-io"),
            "wq": ThreadPoolExecutor(wq_workers, thread_name_prefix="dio-wq"),
        }
        self._tasks: list[threading.Thread] = []
        self._outstanding = 0
        self._done = threading.Condition()
        self._pending: list[Event] = []
        self.on_events = on_events
        self.batch = batch
        self.keep_events = keep_events
        self.steps = 0

    def spawn(self, fn: Callable[[], None], name: str, pool: str = "task") -> None:
        with self._done:
            self._outstanding += 1
        if pool == "task":
            t = threading.Thread(target=self._main, args=(fn,), name=name, daemon=True)
            self._tasks.append(t)
            t.start()
        else:
            self._pools[pool].submit(self._main, fn)

    def _thread_done(self) -> None:
        self.idle()
        with self._done:
            self._outstanding -= 1
            self._done.notify_all()

    def point(self, a: Actor, op: str, choice: str) -> None:
        if getattr(_tls, "holding", False):
            # Let the others in between two steps: without this a thread would run all
            # its steps back to back (CPython hands the lock to whoever asks first).
            self._big.release()
        self._big.acquire()
        _tls.holding = True
        if self.on_events is not None and len(self._pending) >= self.batch:
            self.on_events(self._pending)  # all finished: their threads gave up the lock
            self._pending = []
        ev = Event(a.req, a.name, op, choice)
        self._pending.append(ev)
        if self.keep_events:
            self.events.append(ev)
        self.steps += 1
        a.event = ev

    def idle(self) -> None:
        if getattr(_tls, "holding", False):
            _tls.holding = False
            self._big.release()

    def hold(self) -> None:
        with self._done:
            self._outstanding += 1

    def deliver(self, fn: Callable[[], None], name: str) -> None:
        # On the calling thread, as softirq runs completions on the CPU that took the
        # interrupt; ``_main`` records a finding and drops the hold (``_thread_done``).
        self._main(fn)

    def run(self) -> None:
        seen, since = self.steps, time.monotonic()
        with self._done:
            while self._outstanding > 0:
                self._done.wait(1.0)
                if self.steps != seen:
                    seen, since = self.steps, time.monotonic()
                elif time.monotonic() - since > self.stall:
                    self.failures.append(TimeoutError(
                        f"free run: no step for {self.stall:.0f}s with "
                        f"{self._outstanding} thread(s) outstanding"))
                    # the stuck threads are daemons: leave them, do not join them
                    for pool in self._pools.values():
                        pool.shutdown(wait=False, cancel_futures=True)
                    return
        for pool in self._pools.values():
            pool.shutdown(wait=True)
        for t in self._tasks:
            t.join()
        if self.on_events is not None and self._pending:
            self.on_events(self._pending)
            self._pending = []
