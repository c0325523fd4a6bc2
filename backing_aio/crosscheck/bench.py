"""The reference implementation's throughput under real-IO stress: checked runs (KASAN on,
every step replayed on the model) next to the same runs with checking off
(``backing-aio conform bench``, ``make bench``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from backing_aio.crosscheck.conformance import (
    Conformance,
)
from backing_aio.model.variants import named
from backing_aio.refimpl.env import ALL_OPTIONS, CALLER_COMP_NO
from backing_aio.refimpl.kernel import Kernel
from backing_aio.refimpl.run import BLOCK, Workspace, stress
from backing_aio.refimpl.sched import (
    Free,
)
from backing_aio.vocab import EnvCondition

# Every fault and refinement, from an upper layer that sets no IOCB_DIO_CALLER_COMP
# (Linux AIO, not io_uring): the seed passes the flag down, so its first queued write with
# it is a finding that ends the run, and a benchmark measures versions that survive their
# workload. The conformance tests run the flag (tests/test_conformance.py).
BENCH_OPTIONS: Final[dict[str, tuple[str, ...]]] = {
    **ALL_OPTIONS, EnvCondition.CALLER_COMP: (CALLER_COMP_NO,)}


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
              "unchecked IOs/s / checked IOs/s. The upper layer sets no "
              "IOCB_DIO_CALLER_COMP (the seed does not survive it).")


def bench(variant: str, n: int, *, checked: bool, backend: str = "thread", seed: int = 1,
          tasks: int = 8, size_blocks: int = 1024) -> BenchRow:
    """Stress runs (reads and writes, sync and async, some O_DIRECT, faults injected) from
    ``tasks`` tasks on real threads, until ``n`` real asynchronous completions are done.
    ``checked``: the checking allocator on and every step replayed on the model as it
    runs; otherwise both off (the same workload: the same seed)."""
    holder: dict[str, Conformance] = {}

    def attach(k: Kernel, sched: Free) -> None:
        c = Conformance(named(variant), lambda i: k.requests[i].rtype)
        holder["c"] = c
        sched.on_events = c.feed

    with Workspace(size=size_blocks * BLOCK) as ws:
        r = stress(variant, None, device_ios=n, workspace=ws, seed=seed, tasks=tasks,
                   options=BENCH_OPTIONS, on_kernel=attach if checked else None,
                   backend=backend, checking=checked)
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
