"""Cross-check: run a workload through the real kernel, count what its backing-file helpers
did, and check the counts against the model's prediction and the identities.

A *mode* is a stacked filesystem (overlayfs or FUSE passthrough), a driver (io_uring or
native AIO), buffered or O_DIRECT, and a kind (read or write). A workload is ``n`` 4 KiB
IOs at random aligned offsets of one file, ``depth`` in flight.

Counted (backing_aio.kernelcheck.sites): wrapper allocations; frees at each of the three sites the
model names (cleanup, completion, first put) and any other site in the submitter's
function; queued direct IOs of the backing file; completion work items queued and run. The
in-use count of the backing_aio slab is read before and after (backing_aio.kernelcheck.slab).

The checks:

- *predicted outcomes*: each kind of event the counts show must be an outcome the model
  allows for one request of that kind (backing_aio.kernelcheck.predict);
- *identities*: allocations = frees over all sites; completion frees + first-put frees =
  queued; for writes work items queued = run = queued, for reads none (the model punts
  only writes); the in-use count is unchanged; and every IO allocated exactly one wrapper
  (overlayfs), or at least one (FUSE: io_uring retries an -EAGAIN attempt and each
  attempt allocates).
"""

from __future__ import annotations

import fcntl
import os
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from backing_aio.kernelcheck.driver import Driver, Op, aligned
from backing_aio.kernelcheck.errors import Unavailable
from backing_aio.kernelcheck.overlay import Overlay
from backing_aio.kernelcheck.perf import Counters
from backing_aio.kernelcheck.predict import (
    CLEANUP,
    COMPLETION_FREE,
    FIRST_PUT,
    Outcome,
    Prediction,
    mainline,
)
from backing_aio.kernelcheck.sites import counter_spec
from backing_aio.kernelcheck.slab import in_use

BLOCK: Final = 4096
FILE_BLOCKS: Final = 256  # a 1 MiB file: small enough to stay in the page cache
FILESYSTEMS: Final = ("overlay", "fuse")
DRIVERS: Final = ("io_uring", "aio")


@dataclass(frozen=True)
class Mode:
    fs: str  # "overlay" or "fuse"
    driver: str  # "io_uring" or "aio"
    direct: bool
    kind: str  # "read" or "write"

    def __str__(self) -> str:
        return (f"{self.fs} {self.driver} {'O_DIRECT' if self.direct else 'buffered'} "
                f"{self.kind}")


def all_modes(fuse: bool = True) -> list[Mode]:
    out = [Mode("overlay", d, direct, kind) for d in DRIVERS for direct in (False, True)
           for kind in ("read", "write")]
    if fuse:
        out += [Mode("fuse", d, direct, kind) for d in DRIVERS for direct in (False, True)
                for kind in ("read", "write")]
    return out


def make_driver(name: str, depth: int) -> Driver:
    if name == "io_uring":
        from backing_aio.kernelcheck.uring import Uring

        return Uring(depth)
    if name == "aio":
        from backing_aio.kernelcheck.aio import Aio

        return Aio(depth)
    raise ValueError(f"unknown driver {name!r} (known: {', '.join(DRIVERS)})")


@dataclass
class Counts:
    """Exact counts of one run (system-wide counters filtered to the helpers' call sites
    and the run's backing files)."""

    ios: int = 0
    alloc: int = 0
    cleanup: int = 0
    completion: int = 0
    first_put: int = 0
    other: int = 0
    queued: int = 0
    work_queued: int = 0
    work_run: int = 0
    in_use_before: int = 0
    in_use_after: int = 0
    failed_ios: int = 0  # IOs whose result was not what the workload asked for
    seconds: float = 0.0
    # while counting: the counts so far, once the frees under way have landed
    sample: Callable[[], Counts] | None = field(default=None, repr=False, compare=False)

    def since(self, earlier: Counts) -> Counts:
        """What happened between two samples (the event counts only)."""
        names = ("alloc", "cleanup", "completion", "first_put", "other", "queued",
                 "work_queued", "work_run")
        return Counts(**{n: getattr(self, n) - getattr(earlier, n) for n in names})

    @property
    def frees(self) -> int:
        return self.cleanup + self.completion + self.first_put + self.other

    @property
    def in_use_delta(self) -> int:
        return self.in_use_after - self.in_use_before

    def line(self) -> str:
        return (f"ios={self.ios} alloc={self.alloc} frees: cleanup={self.cleanup} "
                f"completion={self.completion} first_put={self.first_put} "
                f"other={self.other} queued={self.queued} work_queued={self.work_queued} "
                f"work_run={self.work_run} in_use_delta={self.in_use_delta} "
                f"failed_ios={self.failed_ios}")


@dataclass
class Check:
    name: str
    ok: bool
    detail: str

    def __str__(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"


@dataclass
class XResult:
    mode: str
    kinds: tuple[str, ...]
    counts: Counts
    checks: list[Check] = field(default_factory=list)
    observed: list[str] = field(default_factory=list)  # outcomes seen, with counts

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def report(self) -> str:
        lines = [f"{self.mode}: {self.counts.line()}"]
        lines += [f"  observed: {o}" for o in self.observed]
        lines += [f"  {c}" for c in self.checks]
        return "\n".join(lines)


# ---- counting ----------------------------------------------------------------------------

def _fold(raw: dict[str, int], kinds: tuple[str, ...], c: Counts) -> None:
    c.alloc = sum(raw[f"alloc {k}"] for k in kinds)
    c.cleanup = sum(raw[f"{CLEANUP} {k}"] for k in kinds)
    c.first_put = sum(raw[f"{FIRST_PUT} {k}"] for k in kinds)
    c.other = sum(raw[f"other {k}"] for k in kinds)
    c.completion = raw[COMPLETION_FREE]
    c.queued = raw["queued"]
    c.work_queued = raw["work queued"]
    c.work_run = raw["work run"]


LOCK: Final = Path(tempfile.gettempdir()) / "kernelcheck-counting.lock"


@contextmanager
def _alone() -> Iterator[None]:
    """The counters are system-wide: another counted run at the same time (a second test
    session, ``make kernel``) would add its IOs to ours. One at a time on this machine."""
    with open(LOCK, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@contextmanager
def counting(kinds: tuple[str, ...], inodes: list[tuple[int, int]],
             settle: float = 120.0) -> Iterator[Counts]:
    """Count while the body runs. On the way out, wait for the frees still under way: an
    io_uring completion can reach user space before the io-wq worker that submitted the
    IO has made its own put. The wait ends when the counts balance; ``settle`` seconds is
    only a hang guard for a real leak (far beyond any wait seen: a loaded machine must
    never turn a late free into a finding)."""
    c = Counts()
    with _alone(), Counters(counter_spec(kinds, inodes)) as ctr:

        def settled(into: Counts) -> Counts:
            deadline = time.monotonic() + settle
            _fold(ctr.read(), kinds, into)
            while (into.alloc != into.frees or into.work_run != into.work_queued) and (
                    time.monotonic() < deadline):
                time.sleep(0.01)
                _fold(ctr.read(), kinds, into)
            return into

        c.sample = lambda: settled(Counts())
        c.in_use_before = in_use()
        started = time.perf_counter()
        ctr.start()
        try:
            yield c
        finally:
            settled(c)
            c.sample = None
            ctr.stop()
            c.seconds = time.perf_counter() - started
            c.in_use_after = in_use()


# ---- checks ----------------------------------------------------------------------------

def observed_outcomes(c: Counts, kind: str, no_wrapper: int) -> dict[Outcome | str, int]:
    """The outcomes the counts show, each with how many requests had it. Whether a queued
    completion was punted is not paired per request by the counters: if every queued IO's
    completion ran as a work item, all were; if none did, none were; otherwise both."""
    out: dict[Outcome | str, int] = {}
    if no_wrapper > 0:
        out[Outcome(False, False, False, "")] = no_wrapper
    if c.cleanup:
        out[Outcome(True, False, False, CLEANUP)] = c.cleanup
    punted: list[bool] = []
    if c.queued:
        if c.work_run >= c.queued:
            punted = [True]
        elif c.work_run == 0:
            punted = [False]
        else:
            punted = [True, False]
    for role, n in ((COMPLETION_FREE, c.completion), (FIRST_PUT, c.first_put)):
        if n:
            for p in punted or [False]:
                out[Outcome(True, True, p, role)] = n
    if c.other:
        out[f"freed at another site in the submitter's function ({kind})"] = c.other
    return out


def check(c: Counts, kinds: tuple[str, ...], *, expected_wrappers: int | None,
          retries: bool = False) -> tuple[list[Check], list[str]]:
    """Judge one run's counts against the prediction of each kind and the identities.

    ``expected_wrappers``: how many wrappers the IOs should allocate (each async IO of
    non-zero length: the model's only no-wrapper outcomes are refusals before the
    allocation); with ``retries`` (FUSE under io_uring) at least that many."""
    checks: list[Check] = []
    seen: list[str] = []
    preds: list[Prediction] = [mainline(k) for k in kinds]
    no_wrapper = 0
    if expected_wrappers is not None:
        no_wrapper = max(0, c.ios - expected_wrappers) if not retries else 0
    kind = kinds[0] if len(kinds) == 1 else "mixed"
    for o, n in observed_outcomes(c, kind, no_wrapper).items():
        allowed = isinstance(o, Outcome) and any(p.allows(o) for p in preds)
        seen.append(f"{o}: {n}")
        checks.append(Check(f"predicted: {o}", allowed,
                            f"{n} request(s); the model of mainline "
                            f"{'allows' if allowed else 'does not allow'} it for a "
                            f"{'/'.join(kinds)}"))
    checks.append(Check("allocations = frees", c.alloc == c.frees,
                        f"{c.alloc} = {c.cleanup} cleanup + {c.completion} completion + "
                        f"{c.first_put} first put + {c.other} other ({c.frees})"))
    checks.append(Check("completion + first-put frees = queued",
                        c.completion + c.first_put == c.queued,
                        f"{c.completion} + {c.first_put} = {c.completion + c.first_put}, "
                        f"queued {c.queued}"))
    punts = any(o.punted for p in preds for o in p.outcomes)
    if kinds == ("write",):
        checks.append(Check("punted completions = work items run = queued",
                            c.work_queued == c.work_run == c.queued,
                            f"work queued {c.work_queued}, run {c.work_run}, queued "
                            f"{c.queued}"))
    elif not punts:
        checks.append(Check("no completion punted (the model punts none)",
                            c.work_queued == c.work_run == 0,
                            f"work queued {c.work_queued}, run {c.work_run}"))
    else:
        checks.append(Check("work items queued = run", c.work_queued == c.work_run,
                            f"queued {c.work_queued}, run {c.work_run}"))
    checks.append(Check("in-use count unchanged", c.in_use_delta == 0,
                        f"backing_aio objects {c.in_use_before} -> {c.in_use_after}"))
    if expected_wrappers is not None:
        if retries:
            checks.append(Check("each IO allocated at least one wrapper (retries allowed)",
                                c.alloc >= expected_wrappers,
                                f"{c.alloc} allocations for {expected_wrappers} IOs "
                                f"({c.alloc - expected_wrappers} retried attempts)"))
        else:
            checks.append(Check("one wrapper per async IO", c.alloc == expected_wrappers,
                                f"{c.alloc} allocations, {expected_wrappers} expected"))
    checks.append(Check("IO results", c.failed_ios == 0,
                        f"{c.failed_ios} IO(s) did not return what was asked"))
    return checks, seen


# ---- workloads ---------------------------------------------------------------------------

FileSystem = Callable[[bytes], AbstractContextManager[tuple[Path, Callable[[], list[Path]]]]]


@contextmanager
def overlay_file(data: bytes) -> Iterator[tuple[Path, Callable[[], list[Path]]]]:
    """A file of ``data`` in the lower layer of a fresh overlay: (merged path, a function
    giving the backing files' paths, which change when a write open copies it up)."""
    with Overlay(lower_files={"data": data}) as ov:
        yield ov.merged / "data", lambda: ov.real_paths("data")


@contextmanager
def plain_file(data: bytes) -> Iterator[tuple[Path, Callable[[], list[Path]]]]:
    """A file on the filesystem of the temporary directory, not stacked: what the kernel
    does without the helpers (the baseline for upper-layer semantics)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="kernelcheck-plain-") as tmp:
        path = Path(tmp) / "data"
        path.write_bytes(data)
        yield path, lambda: [path]


def filesystem(name: str) -> FileSystem:
    if name == "plain":
        return plain_file
    if name == "overlay":
        return overlay_file
    if name == "fuse":
        from backing_aio.kernelcheck.fuse import fuse_file

        return fuse_file
    raise ValueError(f"unknown filesystem {name!r} (known: {', '.join(FILESYSTEMS)})")


def _inodes(paths: list[Path]) -> list[tuple[int, int]]:
    out = []
    for p in paths:
        st = os.stat(p)
        out.append((st.st_dev, st.st_ino))
    return out


def retried(fs: str, driver: str) -> bool:
    """Whether one IO may allocate several wrappers: FUSE files under io_uring are first
    tried with IOCB_NOWAIT, and an attempt that gets -EAGAIN is retried (each attempt
    allocates). Native AIO never retries, and overlayfs files are not tried that way."""
    return fs == "fuse" and driver == "io_uring"


def step_checks(kind: str, delta: Counts) -> list[str]:
    """What is wrong with one IO's counts (one IO alone in flight): it must be one of the
    outcomes the model allows for its kind, with every wrapper freed, and its completion
    punted exactly when it is a queued write."""
    wrong: list[str] = []
    pred = mainline(kind)
    for o in observed_outcomes(delta, kind, 0):
        if not (isinstance(o, Outcome) and pred.allows(o)):
            wrong.append(f"{o} is not an outcome of a {kind}")
    if delta.alloc != delta.frees:
        wrong.append(f"{delta.alloc} allocation(s), {delta.frees} free(s)")
    if delta.completion + delta.first_put != delta.queued:
        wrong.append(f"queued {delta.queued}, freed after completion "
                     f"{delta.completion + delta.first_put}")
    punted = delta.queued if kind == "write" else 0
    if delta.work_queued != punted or delta.work_run != punted:
        wrong.append(f"work items queued {delta.work_queued}, run {delta.work_run}; a "
                     f"{kind} queued {delta.queued} time(s) punts {punted}")
    return wrong


def run_mode(mode: Mode, n: int, *, depth: int = 32, seed: int = 0,
             load: Callable[[], AbstractContextManager[object]] | None = None) -> XResult:
    """``n`` IOs of ``mode``; ``load`` (optional) runs alongside the counted part, to
    widen the race windows (e.g. busy loops on every CPU)."""
    rng = random.Random(seed)
    data = rng.randbytes(FILE_BLOCKS * BLOCK)
    write = mode.kind == "write"
    with filesystem(mode.fs)(data) as (path, backing):
        flags = (os.O_RDWR if write else os.O_RDONLY) | (os.O_DIRECT if mode.direct else 0)
        fd = os.open(path, flags)
        try:
            bufs = [aligned(BLOCK) for _ in range(depth)]
            if write:
                for b in bufs:
                    b.write(rng.randbytes(BLOCK))
            views = [memoryview(b) for b in bufs]
            inodes = _inodes(backing())
            with make_driver(mode.driver, depth) as drv:
                batch = 4 * depth
                ctx = load() if load is not None else _nothing()
                with ctx, counting((mode.kind,), inodes) as c:
                    done = 0
                    while done < n:
                        k = min(batch, n - done)
                        ops = [Op(fd, write, rng.randrange(FILE_BLOCKS) * BLOCK,
                                  [views[(done + i) % depth]]) for i in range(k)]
                        res = drv.run(ops)
                        c.failed_ios += sum(1 for r in res if r != BLOCK)
                        done += k
                    c.ios = done
        finally:
            os.close(fd)
    retries = retried(mode.fs, mode.driver)
    checks, seen = check(c, (mode.kind,), expected_wrappers=c.ios, retries=retries)
    return XResult(str(mode), (mode.kind,), c, checks, seen)


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


def preflight() -> None:
    """Raise Unavailable with the reason if this machine cannot run the cross-check."""
    from backing_aio.kernelcheck.overlay import require_root
    from backing_aio.kernelcheck.sites import calibrate

    require_root()
    if not Path("/sys/kernel/slab/backing_aio").exists():
        raise Unavailable("no /sys/kernel/slab/backing_aio (kernel without backing-file "
                          "async IO, or no SLUB sysfs)")
    calibrate()
