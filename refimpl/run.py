"""Running programs of IOs through a version of the helpers, on a real file.

``run`` executes a fixed list of requests under a given scheduler and environment and
returns what happened: the event trace, the requests, and the findings (the first one a
step raised, or those of the end-of-run checks). ``stress`` issues many requests from
several tasks at once, freely scheduled, with faults injected, and keeps the shadow copy of
the file exact by never letting two requests in flight touch the same block.
"""

from __future__ import annotations

import os
import random
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from refimpl.env import ALL_OPTIONS, STRESS_WEIGHTS, Env
from refimpl.helpers import IMPLEMENTATIONS, Helpers
from refimpl.kasan import Finding
from refimpl.kernel import Kernel, Request
from refimpl.sched import Event, Free, Scheduler, Seeded
from refimpl.upper import Upper

BLOCK = 4096


@dataclass(frozen=True)
class IoSpec:
    """One request of a program: the model's request type, where, how much, O_DIRECT, and
    how many iovecs the buffer is split into."""

    rtype: str  # "read", "write", "sync-read", "sync-write"
    offset: int = 0
    length: int = BLOCK
    direct: bool = False
    segments: int = 1


class Workspace:
    """A temporary directory with the backing file, reset to known bytes before each run."""

    def __init__(self, root: Path | None = None, size: int = 64 * BLOCK, seed: int = 0) -> None:
        if root is None:
            self._tmp: tempfile.TemporaryDirectory[str] | None = tempfile.TemporaryDirectory(
                prefix="refimpl-")
            root = Path(self._tmp.name)
        else:
            self._tmp = None
        self.root = root
        self.size = size
        self.initial = random.Random(seed).randbytes(size)

    def reset(self) -> bytearray:
        with open(self.root / "backing", "wb") as f:
            f.write(self.initial)
        return bytearray(self.initial)

    def read(self) -> bytes:
        return (self.root / "backing").read_bytes()

    def cleanup(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


@dataclass
class RunResult:
    variant: str
    requests: list[Request]
    events: list[Event]
    findings: list[Finding]  # what broke: the step that raised, or the end-of-run checks
    errors: list[BaseException]  # not findings: bugs of the harness, timeouts
    stopped: bool  # ended early on purpose (a pruned search path)
    raised: bool = False  # a step raised the finding (the run stopped there)
    file_ok: bool | None = None  # the file on disk equals the shadow copy (None: not checked)
    seconds: float = 0.0
    ios: int = 0  # real preadv/pwritev calls made

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(r.rtype for r in self.requests)

    @property
    def props(self) -> list[str]:
        return [f.prop for f in self.findings]


def implementation(name: str) -> type[Helpers]:
    try:
        return IMPLEMENTATIONS[name]
    except KeyError:
        raise ValueError(f"no reference implementation of {name!r} (known: "
                         f"{', '.join(IMPLEMENTATIONS)})") from None


def run(
    impl: type[Helpers] | str,
    specs: Sequence[IoSpec],
    *,
    sched: Scheduler,
    env: Env,
    workspace: Workspace,
    can_odirect: bool = True,
    on_kernel: Callable[[Kernel], None] | None = None,
) -> RunResult:
    """Run ``specs`` concurrently (one task each) and check everything at the end."""
    cls = implementation(impl) if isinstance(impl, str) else impl
    started = time.perf_counter()
    shadow = workspace.reset()
    k = Kernel(sched, env, workspace.root, size=workspace.size,
               callee_freeze=cls.freeze == "callee", can_odirect=can_odirect)
    helpers = cls(k)
    upper = Upper(k, helpers, shadow)
    k.upper = upper
    reqs = [upper.prepare(s.rtype, s.offset, s.length, s.direct, s.segments) for s in specs]
    if on_kernel is not None:
        on_kernel(k)
    for r in reqs:
        sched.spawn(lambda r=r: upper.submit(r), f"task#{r.index}")  # type: ignore[misc]
    try:
        sched.run()
        stopped = bool(getattr(sched, "stopped_by", None))
        findings = [e for e in sched.failures if isinstance(e, Finding)]
        errors = [e for e in sched.failures if not isinstance(e, Finding)]
        file_ok: bool | None = None
        raised = bool(findings)
        if not findings and not errors and not stopped:
            findings = upper.end_checks()
            file_ok = workspace.read() == bytes(shadow)
    finally:
        k.release_files()
    return RunResult(cls.name, reqs, sched.events, findings, errors, stopped, raised, file_ok,
                     time.perf_counter() - started, k.lower.ios)


@dataclass
class StressResult:
    variant: str
    requests: int
    steps: int
    ios: int
    seconds: float
    findings: list[Finding]
    errors: list[BaseException]
    file_ok: bool
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


class _Regions:
    """Blocks of the file in use by requests in flight: two requests never overlap, so the
    shadow copy says exactly what every read must return."""

    def __init__(self, blocks: int) -> None:
        self.busy: set[int] = set()
        self.blocks = blocks
        self.cond = threading.Condition()

    def take(self, lo: int, hi: int, failing: Callable[[], bool]) -> bool:
        """Wait until the blocks are free; False if the run is failing meanwhile (a
        request that broke may never give its blocks back)."""
        want = set(range(lo // BLOCK, max(lo // BLOCK + 1, (hi + BLOCK - 1) // BLOCK)))
        with self.cond:
            while want & self.busy:
                if failing():
                    return False
                self.cond.wait(0.1)
            self.busy |= want
            return True

    def give(self, lo: int, hi: int) -> None:
        gone = set(range(lo // BLOCK, max(lo // BLOCK + 1, (hi + BLOCK - 1) // BLOCK)))
        with self.cond:
            self.busy -= gone
            self.cond.notify_all()


def stress(
    impl: type[Helpers] | str,
    n: int,
    *,
    workspace: Workspace,
    seed: int = 0,
    tasks: int = 4,
    io_workers: int = 8,
    options: Mapping[str, Sequence[str]] = ALL_OPTIONS,
    weights: Mapping[str, float] = STRESS_WEIGHTS,
    on_kernel: Callable[[Kernel, Free], None] | None = None,
) -> StressResult:
    """``n`` requests from ``tasks`` tasks, freely scheduled, faults injected as ``options``
    and ``weights`` say. ``on_kernel`` may attach a conformance check to the scheduler
    (``Free.on_events``); without one, no trace is kept (the runtime checks and the shadow
    copy still are)."""
    cls = implementation(impl) if isinstance(impl, str) else impl
    sched = Free(io_workers=io_workers, keep_events=False)
    env = Env(Seeded(seed, dict(weights)), options)
    shadow = workspace.reset()
    k = Kernel(sched, env, workspace.root, size=workspace.size,
               callee_freeze=cls.freeze == "callee")
    helpers = cls(k)
    regions = _Regions(workspace.size // BLOCK)

    def finished(r: Request) -> None:
        regions.give(r.offset, r.offset + r.length)

    upper = Upper(k, helpers, shadow, on_finish=finished, keep_buffers=False)
    k.upper = upper
    if on_kernel is not None:
        on_kernel(k, sched)
    rng = random.Random(seed ^ 0x5EED)
    lock = threading.Lock()
    issued = [0]
    types = ("read", "write", "sync-read", "sync-write")

    def next_spec() -> IoSpec | None:
        with lock:
            if issued[0] >= n or sched.failures:
                return None
            issued[0] += 1
            rtype = rng.choices(types, weights=(4, 4, 1, 1))[0]
            length = 0 if rng.random() < 0.01 else rng.randint(1, 4 * BLOCK)
            offset = rng.randrange(0, workspace.size - max(length, 1))
            return IoSpec(rtype, offset, length, segments=rng.randint(1, 3))

    def task() -> None:
        while (spec := next_spec()) is not None:
            if not regions.take(spec.offset, spec.offset + spec.length,
                                lambda: bool(sched.failures)):
                return
            r = upper.prepare(spec.rtype, spec.offset, spec.length, spec.direct,
                              spec.segments)
            try:
                upper.submit(r)
            finally:
                sched.idle()  # the task waits for blocks outside any step

    started = time.perf_counter()
    for t in range(tasks):
        sched.spawn(task, f"task{t}")
    findings: list[Finding] = []
    try:
        sched.run()
        findings = [e for e in sched.failures if isinstance(e, Finding)]
        errors = [e for e in sched.failures if not isinstance(e, Finding)]
        if not findings and not errors:
            findings = upper.end_checks()
        file_ok = workspace.read() == bytes(shadow)
    finally:
        k.release_files()
    seconds = time.perf_counter() - started
    outcomes: dict[str, int] = {}
    for r in k.requests.values():
        key = r.rtype + (" queued" if r.queued else "") + (
            "" if r.returned is None or r.returned >= 0 or r.queued else f" {r.returned}")
        outcomes[key] = outcomes.get(key, 0) + 1
    return StressResult(cls.name, len(k.requests), sched.steps, k.lower.ios, seconds,
                        findings, errors, file_ok, outcomes)


def fd_count() -> int:
    """Open descriptors of this process (a leak check for the harness itself)."""
    return len(os.listdir("/proc/self/fd"))
