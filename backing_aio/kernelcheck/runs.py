"""The cross-check against the running kernel, run and rendered (``backing-aio kernel``):

    backing-aio kernel table -n 100000 --out bench/kernel.txt [--load] [--no-fuse]
    backing-aio kernel programs [--fs overlay,fuse] [--driver io_uring,aio]
    backing-aio kernel predict

``table`` runs every mode (overlayfs and FUSE passthrough; io_uring and native AIO;
buffered and O_DIRECT; read and write) with ``-n`` IOs each, then the edge-case program on
every filesystem and driver against the reference implementation, and prints one row per
mode. Exit status: 0 every identity holds and every result equals the reference's; 1 one
does not; 2 bad usage or the machine cannot run it (one line saying why); see
backing_aio.cli.exits for the rest. ``--json`` prints one object (``backing-aio-kernelcheck/1``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from backing_aio.kernelcheck.errors import Unavailable
from backing_aio.outputs import output_path, write_text

HEADER = ("mode", "IOs", "alloc", "cleanup", "completion", "first put", "other",
          "queued", "punted", "in-use Δ", "identities", "seconds")


@contextmanager
def busy_load(cpus: int | None = None) -> Iterator[None]:
    """One busy-looping process per CPU while the body runs: preempts the submitter
    between its submit and its put, which is what lets a completion's put come first."""
    n = cpus or os.cpu_count() or 1
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def _row(cells: Sequence[object]) -> str:
    widths = (32, 8, 8, 9, 12, 11, 7, 8, 8, 10, 12, 9)
    first, *rest = (str(c) for c in cells)
    return first.ljust(widths[0]) + "".join(c.rjust(w) for c, w in zip(rest, widths[1:],
                                                                       strict=True))


JSON_FORMAT = "backing-aio-kernelcheck/1"


def _compare_json(fs: str, drv: str, cmp: Any) -> dict[str, Any]:
    c = cmp.counts
    return {"fs": fs, "driver": drv, "steps": len(cmp.steps), "ok": cmp.ok,
            "differences": [str(d) for d in cmp.differences],
            "identities": [{"text": str(x), "ok": x.ok} for x in cmp.checks],
            "notes": [str(x) for x in cmp.notes],
            "counts": {"alloc": c.alloc, "cleanup": c.cleanup, "completion": c.completion,
                       "first_put": c.first_put, "queued": c.queued}}


def table(n: int, depth: int, fuse: bool, load: bool, out: Path | None,
          as_json: bool = False) -> int:
    from backing_aio.kernelcheck.programs import compare, edge_cases
    from backing_aio.kernelcheck.sites import calibrate
    from backing_aio.kernelcheck.xcheck import all_modes, preflight, run_mode

    preflight()
    if fuse:
        from backing_aio.kernelcheck.fuse import fuse_file

        try:
            with fuse_file(b"probe"):
                pass
        except Unavailable as e:
            print(f"backing-aio kernel: FUSE passthrough left out: {e}", file=sys.stderr)
            fuse = False
    lines = [f"kernel {os.uname().release}; {n} IOs per mode, queue depth {depth}, 4 KiB "
             f"at random aligned offsets of a 1 MiB file; counts are exact "
             f"(perf_event_open, counting mode)" + ("; O_DIRECT modes run under a busy "
                                                    "load on every CPU" if load else ""),
             *("  " + ks.describe() for ks in calibrate().values()), "",
             _row(HEADER)]
    if out is not None:
        output_path(out)  # before the IO: a bad --out is bad input, not a lost run
    ok = True
    failures: list[str] = []
    modes: list[dict[str, Any]] = []
    programs_out: list[dict[str, Any]] = []
    seen_sites = {"cleanup": 0, "completion": 0, "first put": 0}
    for mode in all_modes(fuse):
        started = time.perf_counter()
        r = run_mode(mode, n, depth=depth, load=busy_load if load and mode.direct else None)
        c = r.counts
        seen_sites["cleanup"] += c.cleanup
        seen_sites["completion"] += c.completion
        seen_sites["first put"] += c.first_put
        lines.append(_row((r.mode, c.ios, c.alloc, c.cleanup, c.completion, c.first_put,
                           c.other, c.queued, c.work_run, c.in_use_delta,
                           "ok" if r.ok else "FAIL", f"{time.perf_counter() - started:.1f}")))
        modes.append({"mode": r.mode, "ok": r.ok, "ios": c.ios, "alloc": c.alloc,
                      "cleanup": c.cleanup, "completion": c.completion,
                      "first_put": c.first_put, "other": c.other, "queued": c.queued,
                      "punted": c.work_run, "in_use_delta": c.in_use_delta})
        if not as_json:
            print(lines[-1], file=sys.stderr, flush=True)
        if not r.ok:
            ok = False
            failures += [f"{r.mode}: {f}" for f in r.failures()]
    lines.append("")
    lines.append("free sites seen: " + ", ".join(f"{k} {v}" for k, v in seen_sites.items()))
    unseen = [k for k, v in seen_sites.items() if v == 0]
    if unseen:
        lines.append(f"  not seen this time: {', '.join(unseen)} (the first put frees only "
                     "when the completion's put wins the race with the submitter's, about "
                     "once in 30,000 to 200,000 queued IOs under load: more IOs or --load)")
    lines.append("")
    lines.append("edge-case program (zero length, misaligned O_DIRECT, at/across EOF, "
                 "extending writes, holes, RWF_DSYNC, iovecs, file position, sync IO) "
                 "against the reference implementation:")
    for fs in (("overlay", "fuse") if fuse else ("overlay",)):
        for drv in ("io_uring", "aio"):
            cmp = compare(edge_cases(), fs, drv)
            programs_out.append(_compare_json(fs, drv, cmp))
            c = cmp.counts
            verdict = "same results" if not cmp.differences else "DIFFERENT"
            ident = "identities ok" if all(x.ok for x in cmp.checks) else "identities FAIL"
            lines.append(f"  {fs} {drv}: {len(cmp.steps)} steps, {verdict}, {ident} "
                         f"(alloc {c.alloc}, cleanup {c.cleanup}, completion {c.completion},"
                         f" first put {c.first_put}, queued {c.queued})")
            lines += [f"    note: {x}" for x in cmp.notes]
            if not cmp.ok:
                ok = False
                failures += [f"{fs} {drv}: {d}" for d in cmp.differences]
                failures += [f"{fs} {drv}: {x}" for x in cmp.checks if not x.ok]
    if failures:
        lines.append("")
        lines += [f"FAIL {f}" for f in failures]
    text = "\n".join(lines) + "\n"
    if out is not None:
        write_text(out, text)
    if as_json:
        print(json.dumps({"format": JSON_FORMAT, "command": "table", "ok": ok,
                          "kernel": os.uname().release, "ios_per_mode": n, "modes": modes,
                          "programs": programs_out, "failures": failures}, indent=2))
    else:
        print(text, end="")
    return 0 if ok else 1


def programs(fss: list[str], drivers: list[str], as_json: bool = False) -> int:
    from backing_aio.kernelcheck.programs import compare, edge_cases
    from backing_aio.kernelcheck.xcheck import preflight

    preflight()
    ok = True
    found: list[dict[str, Any]] = []
    for fs in fss:
        for drv in drivers:
            cmp = compare(edge_cases(), fs, drv)
            found.append(_compare_json(fs, drv, cmp))
            if not as_json:
                print(cmp.report())
            ok = ok and cmp.ok
    if as_json:
        print(json.dumps({"format": JSON_FORMAT, "command": "programs", "ok": ok,
                          "programs": found}, indent=2))
    return 0 if ok else 1


def predict_cmd(as_json: bool = False) -> int:
    from backing_aio.kernelcheck.predict import mainline

    kinds: list[dict[str, Any]] = []
    for kind in ("read", "write"):
        p = mainline(kind)
        kinds.append({"kind": kind, "paths": p.paths,
                      "outcomes": sorted(str(o) for o in p.outcomes),
                      "free_sites": [{"role": s.role, "actor": s.actor,
                                      "chain": list(s.chain)}
                                     for s in sorted(p.sites, key=lambda s: s.role)]})
        if as_json:
            continue
        print(f"mainline, one async {kind} ({p.paths} (state, facts) pairs walked):")
        for o in sorted(p.outcomes):
            print(f"  {o}")
        for s in sorted(p.sites, key=lambda s: s.role):
            print(f"  free site {s.role}: {s.actor}, {' -> '.join(s.chain)}")
    if as_json:
        print(json.dumps({"format": JSON_FORMAT, "command": "predict", "ok": True,
                          "kinds": kinds}, indent=2))
    return 0
