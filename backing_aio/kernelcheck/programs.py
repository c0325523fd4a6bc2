"""IO programs: the same list of IOs through the real kernel and the reference
implementation, and a comparison of what a user can observe.

A program is a file's initial bytes and a list of steps, run one after the other. The
kernel runs it on a stacked file (overlayfs or FUSE passthrough) through a driver, with
O_DIRECT steps on a second descriptor opened with O_DIRECT; the reference implementation
(refimpl, the ``mainline`` helpers) runs each step as its own run on a plain file that
carries the previous step's contents, under the controlled scheduler with its default
choices, so the steps are strictly sequential there too.

Observable results compared: each step's result (bytes or -errno), the bytes each read
returned, the file position after each step that used it (io_uring with offset -1; the
reference's upper layer checks that the original kiocb's ki_pos is offset + result, so
that is its position), and the final file contents. The data a write writes is the
reference's own write buffer, so both sides write the same bytes.

Two things the reference implementation has no notion of are mapped onto what it has:
the lower filesystem's alignment rule for O_DIRECT (a misaligned O_DIRECT step runs there
against a backing file without FMODE_CAN_ODIRECT, so the caller sees -EINVAL on both
sides) and RWF_DSYNC (no effect on results).
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Final

from backing_aio.kernelcheck.driver import CURRENT_POS, RWF_DSYNC, Driver, Op, aligned
from backing_aio.kernelcheck.xcheck import (
    Check,
    Counts,
    check,
    counting,
    filesystem,
    make_driver,
    retried,
    step_checks,
)
from backing_aio.refimpl.env import NO_FAULTS, Env
from backing_aio.refimpl.run import IoSpec, Workspace, run
from backing_aio.refimpl.sched import Controlled, First
from backing_aio.refimpl.vfs import EIOCBQUEUED

PAGE: Final = 4096


@dataclass(frozen=True)
class Step:
    kind: str  # "read" or "write"
    offset: int  # CURRENT_POS: the descriptor's file position (io_uring only)
    length: int
    direct: bool = False
    misaligned: bool = False  # O_DIRECT with a buffer one byte off a page boundary
    dsync: bool = False  # RWF_DSYNC
    sync: bool = False  # pread/pwrite: a sync kiocb, no wrapper
    segments: int = 1  # iovecs the buffer is split into (page multiples for O_DIRECT)
    note: str = ""

    def __str__(self) -> str:
        how = "sync " if self.sync else ""
        how += "O_DIRECT " if self.direct else "buffered "
        at = "pos" if self.offset == CURRENT_POS else str(self.offset)
        extra = "".join(f" {x}" for x, on in (("misaligned", self.misaligned),
                                              ("RWF_DSYNC", self.dsync)) if on)
        seg = f" {self.segments} iovecs" if self.segments > 1 else ""
        return f"{how}{self.kind} {self.length}@{at}{seg}{extra}" + (
            f" ({self.note})" if self.note else "")

    @property
    def wrapper(self) -> bool:
        """The model's only no-wrapper outcomes are a sync kiocb and refusals before the
        allocation (zero length, O_DIRECT on a file that cannot do it)."""
        return not self.sync and self.length > 0


@dataclass(frozen=True)
class Program:
    name: str
    initial: bytes
    steps: tuple[Step, ...]

    def for_driver(self, drv: Driver) -> Program:
        """Native AIO has no file position: drop the steps that use it."""
        if drv.supports_current_pos:
            return self
        return Program(self.name, self.initial,
                       tuple(s for s in self.steps if s.offset != CURRENT_POS))


def edge_cases(seed: int = 0) -> Program:
    """The edge cases of the issue on a 10,000-byte file (EOF inside a page)."""
    import random

    initial = random.Random(seed).randbytes(10_000)
    S = Step
    return Program("edge cases", initial, (
        S("read", 0, 4096, note="buffered read"),
        S("read", 4096, 4096, direct=True, note="O_DIRECT read, queued"),
        S("read", 0, 0, note="zero length: no wrapper"),
        S("write", 0, 0, direct=True, note="zero length write"),
        S("read", 0, 4096, direct=True, misaligned=True, note="EINVAL from the lower fs"),
        S("write", 0, 4096, direct=True, misaligned=True, note="EINVAL from the lower fs"),
        S("read", 10_000, 100, note="at EOF"),
        S("read", 8000, 4096, note="across EOF: short"),
        S("read", 8192, 4096, direct=True, note="O_DIRECT across EOF: short"),
        S("read", 12_288, 4096, direct=True, note="O_DIRECT past EOF"),
        S("write", 9000, 4096, note="extends the file"),
        S("write", 16_384, 4096, direct=True, note="O_DIRECT extends the file"),
        S("write", 65_536, 4096, note="leaves a hole"),
        S("write", 32_768, 4096, direct=True, note="O_DIRECT into the hole"),
        S("read", 40_960, 8192, direct=True, note="O_DIRECT read of the hole"),
        S("read", 28_000, 6000, note="across the hole's edge"),
        S("write", 100, 300, dsync=True),
        S("write", 4096, 4096, direct=True, dsync=True),
        S("read", 50, 6000, segments=3),
        S("write", 0, 8192, direct=True, segments=2),
        S("read", CURRENT_POS, 1000, note="file position"),
        S("read", CURRENT_POS, 1000, note="file position"),
        S("write", CURRENT_POS, 500, note="file position"),
        S("read", CURRENT_POS, 4096, direct=True, note="file position"),
        S("read", 123, 500, sync=True),
        S("write", 5000, 700, sync=True),
        S("read", 0, 69_632, direct=True, note="the whole file"),
    ))


# ---- one side each -----------------------------------------------------------------------

@dataclass
class StepResult:
    result: int
    data: bytes = b""  # what a read returned
    pos: int | None = None  # the file position after the step, when the step used it


@dataclass
class SideResult:
    steps: list[StepResult]
    final: bytes


def run_reference(prog: Program) -> tuple[SideResult, list[bytes]]:
    """The program through refimpl's ``mainline``; also each write's data."""
    out: list[StepResult] = []
    writes: list[bytes] = []
    pos = {False: 0, True: 0}  # per descriptor: buffered, O_DIRECT
    with Workspace(size=max(len(prog.initial), 1)) as ws:
        ws.initial = prog.initial
        for st in prog.steps:
            offset = pos[st.direct] if st.offset == CURRENT_POS else st.offset
            rtype = ("sync-" if st.sync else "") + st.kind
            submit = ("queues",) if st.direct else ("returns RES",)
            # every other decision fault-free (a new decision of refimpl's included)
            options = {**NO_FAULTS, "submit": submit}
            r = run("mainline", [IoSpec(rtype, offset, st.length, st.direct, st.segments)],
                    sched=Controlled(First()), env=Env(First(), options), workspace=ws,
                    can_odirect=not st.misaligned)
            if r.findings or r.errors:
                raise RuntimeError(f"the reference implementation failed on {st}: "
                                   f"{[str(f) for f in r.findings] + [repr(e) for e in r.errors]}")
            req = r.requests[0]
            res = req.completed if req.returned == -EIOCBQUEUED else req.returned
            assert res is not None
            sr = StepResult(res)
            if st.kind == "read" and res > 0:
                sr.data = bytes(req.buf[:res])
            writes.append(bytes(req.buf) if st.kind == "write" else b"")
            if st.offset == CURRENT_POS:
                pos[st.direct] = offset + max(res, 0)
                sr.pos = pos[st.direct]
            out.append(sr)
            ws.initial = ws.read()
        return SideResult(out, ws.initial), writes


def _buffers(st: Step, data: bytes) -> tuple[list[memoryview], object]:
    """The step's iovecs (and the object that owns their memory, to keep alive)."""
    n = st.length
    owner: mmap.mmap | bytearray
    if st.direct or st.misaligned:
        owner = aligned(n + PAGE)
        start = 1 if st.misaligned else 0
        view = memoryview(owner)[start:start + n]
    else:
        owner = bytearray(n)
        view = memoryview(owner)
    if st.kind == "write":
        view[:] = data
    k = max(1, st.segments)
    if n == 0 or k == 1:
        return [view], owner
    cut = [n * i // k for i in range(k + 1)]
    if st.direct:  # keep every O_DIRECT iovec page-aligned
        cut = [min(n, (c // PAGE) * PAGE) for c in cut[:-1]] + [n]
    return [view[cut[i]:cut[i + 1]] for i in range(k)], owner


def run_kernel(prog: Program, fs: str, driver: str,
               writes: list[bytes]) -> tuple[SideResult, Counts, list[Check]]:
    """The program through the kernel, counted; the identities checked on the counts
    (not on a "plain" file: nothing is stacked there, so nothing is counted)."""
    results: list[StepResult] = []
    per_step: list[str] = []  # what is wrong with each step's own counts
    count = fs != "plain"
    with filesystem(fs)(prog.initial) as (path, backing):
        fds: dict[bool, int] = {}
        try:
            fds[False] = os.open(path, os.O_RDWR)
            fds[True] = os.open(path, os.O_RDWR | os.O_DIRECT)
            inodes = [(os.stat(p).st_dev, os.stat(p).st_ino) for p in backing()]
            ctx = counting(("read", "write"), inodes) if count else _no_counts()
            with make_driver(driver, 8) as drv, ctx as c:
                # one IO at a time, settled after each: the counts after one step are
                # the counts before the next, so each step's own are a difference
                last = c.sample() if c.sample is not None else None
                for i, (st, data) in enumerate(zip(prog.steps, writes, strict=True), 1):
                    fd = fds[st.direct]
                    bufs, owner = _buffers(st, data)
                    if st.sync:
                        if st.kind == "read":
                            res = os.preadv(fd, bufs, st.offset)
                        else:
                            res = os.pwritev(fd, bufs, st.offset)
                    else:
                        flags = RWF_DSYNC if st.dsync else 0
                        res = drv.run([Op(fd, st.kind == "write", st.offset, bufs, flags)])[0]
                    sr = StepResult(res)
                    if st.kind == "read" and res > 0:
                        sr.data = b"".join(bytes(b) for b in bufs)[:res]
                    if st.offset == CURRENT_POS:
                        sr.pos = os.lseek(fd, 0, os.SEEK_CUR)
                    results.append(sr)
                    del owner
                    if last is not None and c.sample is not None:
                        now = c.sample()
                        delta, last = now.since(last), now
                        per_step += [f"step {i} ({st}): {w}"
                                     for w in step_checks(st.kind, delta)]
                c.ios = sum(1 for s in prog.steps if not s.sync)
        finally:
            for fd in fds.values():
                os.close(fd)
        final = b"".join(p.read_bytes() for p in backing()[:1])
    if not count:
        return SideResult(results, final), c, []
    expected = sum(1 for s in prog.steps if s.wrapper)
    checks, _seen = check(c, ("read", "write"), expected_wrappers=expected,
                          retries=retried(fs, driver))
    checks.append(Check("each step: an outcome of its kind, punted iff a queued write",
                        not per_step, "; ".join(per_step) if per_step else
                        f"{len(prog.steps)} steps, each counted alone"))
    return SideResult(results, final), c, checks


@contextmanager
def _no_counts() -> Iterator[Counts]:
    yield Counts()


# ---- comparison --------------------------------------------------------------------------

@dataclass(frozen=True)
class UpperLayer:
    """A known way the upper layer (not the helpers) differs from the reference
    implementation's upper layer. A step may differ from the reference only in such a
    way, and only when the same program on a file that is not stacked differs the same."""

    reason: str
    applies: Callable[[str, Step, StepResult, StepResult], bool]


UPPER_LAYER: Final = (
    UpperLayer("io_uring does not advance the file position of an IO that completed "
               "asynchronously (it updates f_pos only when the IO completes inline); the "
               "reference's upper layer always sets it to offset + result",
               lambda driver, st, k, r: driver == "io_uring" and st.offset == CURRENT_POS
               and (k.result, k.data) == (r.result, r.data) and k.pos is not None
               and r.pos is not None and k.pos == r.pos - max(r.result, 0) != r.pos),
)

@dataclass
class Comparison:
    program: str
    fs: str
    driver: str
    steps: list[tuple[Step, StepResult, StepResult]]
    kernel_final: bytes
    reference_final: bytes
    counts: Counts
    checks: list[Check]
    plain: list[StepResult] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # UPPER_LAYER differences, also on plain

    @property
    def ok(self) -> bool:
        return not self.differences and all(c.ok for c in self.checks)

    def report(self) -> str:
        lines = [f"{self.program} on {self.fs} via {self.driver}: {len(self.steps)} steps, "
                 f"{'same results' if not self.differences else 'DIFFERENT'}; "
                 f"{self.counts.line()}"]
        for st, k, r in self.steps:
            pos = f" pos {k.pos}/{r.pos}" if k.pos is not None else ""
            lines.append(f"  {st}: kernel {k.result}, reference {r.result}{pos}")
        lines += [f"  DIFFERENCE: {d}" for d in self.differences]
        lines += [f"  note: {d}" for d in self.notes]
        lines += [f"  {c}" for c in self.checks]
        return "\n".join(lines)


def compare(prog: Program, fs: str = "overlay", driver: str = "io_uring") -> Comparison:
    with make_driver(driver, 1) as probe:
        prog = prog.for_driver(probe)
    ref, writes = run_reference(prog)
    ker, counts, checks = run_kernel(prog, fs, driver, writes)
    plain, _, _ = run_kernel(prog, "plain", driver, writes)
    cmp = Comparison(prog.name, fs, driver, list(zip(prog.steps, ker.steps, ref.steps,
                                                     strict=True)),
                     ker.final, ref.final, counts, checks, plain.steps)
    for i, (st, k, r) in enumerate(cmp.steps, 1):
        p = plain.steps[i - 1]
        known = [u for u in UPPER_LAYER if u.applies(driver, st, k, r)]
        # The plain file must give the same result and bytes. Its position may differ
        # from the stacked file's: whether io_uring completed the IO inline (f_pos
        # advanced) or from io-wq (not) is the device's timing, and FUSE passthrough
        # punts more IOs to io-wq; the rule itself admits only that one difference.
        if (k.result, k.data, k.pos) != (r.result, r.data, r.pos) and known and (
                (k.result, k.data) == (p.result, p.data)):
            same = "does the same" if k == p else "gives the same result and bytes"
            cmp.notes.append(f"step {i} ({st}): kernel {k.result} pos {k.pos}, reference "
                             f"{r.result} pos {r.pos}; a plain file {same}: "
                             f"{known[0].reason}")
            continue
        if k.result != r.result:
            cmp.differences.append(f"step {i} ({st}): result {k.result} in the kernel, "
                                   f"{r.result} in the reference")
        elif k.data != r.data:
            cmp.differences.append(f"step {i} ({st}): the bytes read differ")
        if k.pos != r.pos:
            cmp.differences.append(f"step {i} ({st}): file position {k.pos} in the kernel, "
                                   f"{r.pos} in the reference")
    if ker.final != ref.final:
        cmp.differences.append(f"final contents differ ({len(ker.final)} bytes in the kernel, "
                               f"{len(ref.final)} in the reference)")
    return cmp
