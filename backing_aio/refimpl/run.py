"""Running programs of IOs through a version of the helpers, on a real file.

``run`` executes a fixed list of requests under a given scheduler and environment and
returns what happened: the event trace, the requests, and the findings (the first one a
step raised, or those of the end-of-run checks). ``stress`` issues many requests from
several tasks at once, freely scheduled, with faults injected, and keeps the shadow copy of
the file exact by never letting two requests in flight touch the same block.

Both take the backend queued IO goes to (``thread`` or ``uring``, backing_aio.refimpl.kernel). Where
the workspace's filesystem does real O_DIRECT (ext4 does, tmpfs does not: ``Workspace`` finds
out, and says why not), requests with ``direct`` go through an O_DIRECT descriptor with
page-aligned buffers, and the stress workload mixes some in, a few of them misaligned on
purpose: those get -EINVAL from the real kernel, possibly after part of the write reached
the disk (iomap checks the alignment extent by extent), so the shadow copy takes what a
failed real write left (refimpl.upper: each byte must be the old one or the written one).
"""

from __future__ import annotations

import contextlib
import mmap
import os
import random
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from backing_aio.refimpl import kasan
from backing_aio.refimpl.env import ALL_OPTIONS, STRESS_WEIGHTS, Env
from backing_aio.refimpl.helpers import IMPLEMENTATIONS, Helpers
from backing_aio.refimpl.kasan import Finding
from backing_aio.refimpl.kernel import Kernel, Request
from backing_aio.refimpl.sched import Event, Free, Scheduler, Seeded
from backing_aio.refimpl.upper import Upper
from backing_aio.vocab import RequestType

BLOCK = 4096


@dataclass(frozen=True)
class IoSpec:
    """One request of a program: the model's request type, where, how much, O_DIRECT, how
    many iovecs the buffer is split into, and IOCB_NOWAIT (io_uring's first attempt,
    preadv2/pwritev2's RWF_NOWAIT)."""

    rtype: str  # a backing_aio.vocab.RequestType
    offset: int = 0
    length: int = BLOCK
    direct: bool = False
    segments: int = 1
    nowait: bool = False


# Where temporary workspaces go when the system's temporary directory cannot do O_DIRECT
# (tmpfs): the project's own scratch directory, on whatever the checkout lives on.
_FALLBACK = Path(__file__).resolve().parent.parent / "out"


def probe_direct(root: Path) -> tuple[int, str]:
    """(the O_DIRECT alignment the filesystem under ``root`` takes, 0 if it cannot do real
    O_DIRECT, and why not)."""
    probe = root / ".odirect-probe"
    probe.write_bytes(bytes(2 * BLOCK))
    mem = mmap.mmap(-1, BLOCK)
    try:
        try:
            fd = os.open(probe, os.O_RDWR | os.O_DIRECT)
        except OSError as e:
            return 0, f"the filesystem refuses O_DIRECT ({e.strerror or e})"
        why = "short read"
        try:
            for align in (512, BLOCK):
                try:
                    if os.preadv(fd, [memoryview(mem)[:align]], align) == align:
                        return align, ""
                except OSError as e:
                    why = e.strerror or str(e)
            return 0, f"an aligned O_DIRECT read fails ({why})"
        finally:
            os.close(fd)
    finally:
        mem.close()
        probe.unlink()


class Workspace:
    """A temporary directory with the backing file, reset to known bytes before each run.

    ``direct_io``: real O_DIRECT works there (then ``dio_align`` is its alignment);
    otherwise ``direct_reason`` says why not, and O_DIRECT requests are served buffered.
    Without a ``root`` it looks for a temporary directory that can do O_DIRECT: the
    system's, else one under the project's ``out/``."""

    def __init__(self, root: Path | None = None, size: int = 64 * BLOCK, seed: int = 0) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if root is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="refimpl-")
            root = Path(self._tmp.name)
            align, why = probe_direct(root)
            if not align:
                with contextlib.suppress(OSError):
                    _FALLBACK.mkdir(exist_ok=True)
                    other = tempfile.TemporaryDirectory(prefix="refimpl-", dir=_FALLBACK)
                    a2, why2 = probe_direct(Path(other.name))
                    if a2:
                        self._tmp.cleanup()
                        self._tmp, root, align, why = other, Path(other.name), a2, ""
                    else:
                        other.cleanup()
                        why = f"{why}; under {_FALLBACK}: {why2}"
        else:
            align, why = probe_direct(root)
        self.root = root
        self.dio_align = align or BLOCK
        self.direct_io = bool(align)
        self.direct_reason = why
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
    ios: int = 0  # real reads and writes that reached the kernel
    async_ios: int = 0  # those of them for asynchronous kiocbs
    device_ios: int = 0  # queued ones completed by the backend on another thread

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


def kernel_for(cls: type[Helpers], sched: Scheduler, env: Env, workspace: Workspace,
               backend: str, can_odirect: bool = True) -> Kernel:
    """A kernel for one run of ``cls`` on the workspace's (reset) backing file."""
    return Kernel(sched, env, workspace.root, size=workspace.size,
                  version=cls.release(), can_odirect=can_odirect,
                  backend=backend, direct_io=workspace.direct_io,
                  dio_align=workspace.dio_align)


def run(
    impl: type[Helpers] | str,
    specs: Sequence[IoSpec],
    *,
    sched: Scheduler,
    env: Env,
    workspace: Workspace,
    can_odirect: bool = True,
    on_kernel: Callable[[Kernel], None] | None = None,
    backend: str = "thread",
) -> RunResult:
    """Run ``specs`` concurrently (one task each) and check everything at the end."""
    cls = implementation(impl) if isinstance(impl, str) else impl
    started = time.perf_counter()
    shadow = workspace.reset()
    k = kernel_for(cls, sched, env, workspace, backend, can_odirect)
    helpers = cls(k)
    upper = Upper(k, helpers, shadow)
    k.upper = upper
    reqs = [upper.prepare(s.rtype, s.offset, s.length, s.direct, s.segments, s.nowait)
            for s in specs]
    if on_kernel is not None:
        on_kernel(k)
    for r in reqs:
        sched.spawn(lambda r=r: upper.submit(r), f"task#{r.index}")  # type: ignore[misc]
    try:
        sched.run()
        k.quiesce()  # a run stopped early may leave IO in flight in the device
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
                     time.perf_counter() - started, k.lower.ios, k.lower.async_ios,
                     k.lower.device_ios)


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
    async_ios: int = 0  # real IOs for asynchronous kiocbs (queued or served at once)
    backend: str = "thread"
    checking: bool = True
    direct: int = 0  # requests with O_DIRECT (real O_DIRECT if the workspace does it)
    device_ios: int = 0  # queued IOs the backend completed on another thread

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


class _Regions:
    """Blocks of the file in use by requests in flight: two requests never overlap, so the
    shadow copy says exactly what every read must return. ``depth`` bounds the requests in
    flight (the upper layer's queue depth), so that queued IO cannot pile up without end."""

    def __init__(self, blocks: int, depth: int = 64) -> None:
        self.busy: set[int] = set()
        self.blocks = blocks
        self.depth = depth
        self.in_flight = 0
        self.cond = threading.Condition()

    def take(self, lo: int, hi: int, failing: Callable[[], bool]) -> bool:
        """Wait until the blocks are free; False if the run is failing meanwhile (a
        request that broke may never give its blocks back)."""
        want = set(range(lo // BLOCK, max(lo // BLOCK + 1, (hi + BLOCK - 1) // BLOCK)))
        with self.cond:
            while want & self.busy or self.in_flight >= self.depth:
                if failing():
                    return False
                self.cond.wait(0.1)
            self.busy |= want
            self.in_flight += 1
            return True

    def give(self, lo: int, hi: int) -> None:
        gone = set(range(lo // BLOCK, max(lo // BLOCK + 1, (hi + BLOCK - 1) // BLOCK)))
        with self.cond:
            self.busy -= gone
            self.in_flight -= 1
            self.cond.notify_all()


def stress(
    impl: type[Helpers] | str,
    n: int | None,
    *,
    workspace: Workspace,
    seed: int = 0,
    tasks: int = 4,
    io_workers: int = 8,
    options: Mapping[str, Sequence[str]] = ALL_OPTIONS,
    weights: Mapping[str, float] = STRESS_WEIGHTS,
    on_kernel: Callable[[Kernel, Free], None] | None = None,
    backend: str = "thread",
    device_ios: int | None = None,
    direct: float | None = None,
    misaligned: float = 0.05,
    checking: bool = True,
) -> StressResult:
    """``n`` requests (or, with ``device_ios``, as many as it takes for that many real
    asynchronous completions: queued IOs the backend transferred and completed on another
    thread) from ``tasks`` tasks, freely scheduled, faults injected as
    ``options`` and ``weights`` say. ``direct``: the share of O_DIRECT requests (default:
    a fifth where the workspace does real O_DIRECT, none elsewhere), ``misaligned`` of
    which are misaligned. ``checking`` off runs without the checking allocator's checks
    (backing_aio.refimpl.kasan). ``on_kernel`` may attach a conformance check to the scheduler
    (``Free.on_events``); without one, no trace is kept (the runtime checks and the shadow
    copy still are)."""
    if n is None and device_ios is None:
        raise ValueError("stress needs a number of requests or of device IOs")
    if direct is None:
        direct = 0.2 if workspace.direct_io else 0.0
    with kasan.checking(checking):
        return _stress(implementation(impl) if isinstance(impl, str) else impl, n,
                       workspace, seed, tasks, io_workers, options, weights, on_kernel,
                       backend, device_ios, direct, misaligned, checking)


def _stress(cls: type[Helpers], n: int | None, workspace: Workspace, seed: int, tasks: int,
            io_workers: int, options: Mapping[str, Sequence[str]],
            weights: Mapping[str, float], on_kernel: Callable[[Kernel, Free], None] | None,
            backend: str, device_ios: int | None, direct: float, misaligned: float,
            checking: bool) -> StressResult:
    sched = Free(io_workers=io_workers, keep_events=False)
    env = Env(Seeded(seed, dict(weights)), options)
    shadow = workspace.reset()
    k = kernel_for(cls, sched, env, workspace, backend)
    helpers = cls(k)
    blocks = workspace.size // BLOCK
    regions = _Regions(blocks)

    def finished(r: Request) -> None:
        regions.give(r.offset, r.offset + r.length)

    upper = Upper(k, helpers, shadow, on_finish=finished, keep_buffers=False)
    k.upper = upper
    if on_kernel is not None:
        on_kernel(k, sched)
    rng = random.Random(seed ^ 0x5EED)
    lock = threading.Lock()
    issued = [0]
    n_direct = [0]
    # in this order, for the weights below (and a seed's workload to stay the same)
    types = (RequestType.READ, RequestType.WRITE, RequestType.SYNC_READ,
             RequestType.SYNC_WRITE)
    align = workspace.dio_align

    def enough() -> bool:
        if n is not None and issued[0] >= n:
            return True
        return device_ios is not None and k.lower.device_ios >= device_ios

    def next_spec() -> IoSpec | None:
        with lock:
            if enough() or sched.failures:
                return None
            issued[0] += 1
            # every fourth request carries IOCB_NOWAIT (io_uring's first attempt), so that
            # a planned -EAGAIN can meet it (counted, not drawn: the random stream stays)
            nowait = issued[0] % 4 == 0
            rtype = rng.choices(types, weights=(4, 4, 1, 1))[0]
            if rng.random() < direct:
                # O_DIRECT: block-aligned place, a multiple of the alignment long; a few
                # misaligned by a byte (offset or length), for the kernel to refuse.
                n_direct[0] += 1
                length = rng.randint(1, 4 * BLOCK // align) * align
                offset = rng.randrange(0, blocks - 4) * BLOCK
                if rng.random() < misaligned:
                    if rng.random() < 0.5:
                        offset += 1
                    else:
                        length += 1
                return IoSpec(rtype, offset, length, direct=True,
                              segments=rng.randint(1, 3), nowait=nowait)
            length = 0 if rng.random() < 0.01 else rng.randint(1, 4 * BLOCK)
            offset = rng.randrange(0, workspace.size - max(length, 1))
            return IoSpec(rtype, offset, length, segments=rng.randint(1, 3), nowait=nowait)

    def task() -> None:
        while (spec := next_spec()) is not None:
            if not regions.take(spec.offset, spec.offset + spec.length,
                                lambda: bool(sched.failures)):
                return
            r = upper.prepare(spec.rtype, spec.offset, spec.length, spec.direct,
                              spec.segments, spec.nowait)
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
        k.quiesce()
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
        # the error the caller saw: returned, or given to ki_complete when queued
        err = r.completed if r.queued else r.returned
        key = r.rtype + (" direct" if r.direct else "") + (
            " caller_comp" if r.caller_comp else "") + (" queued" if r.queued else "") + (
            f" {err}" if err is not None and err < 0 else "")
        outcomes[key] = outcomes.get(key, 0) + 1
    return StressResult(cls.name, len(k.requests), sched.steps, k.lower.ios, seconds,
                        findings, errors, file_ok, outcomes, k.lower.async_ios, backend,
                        checking, n_direct[0], k.lower.device_ios)


def fd_count() -> int:
    """Open descriptors of this process (a leak check for the harness itself)."""
    return len(os.listdir("/proc/self/fd"))
