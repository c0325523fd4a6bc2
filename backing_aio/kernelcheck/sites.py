"""Where in the kernel each lifecycle event happens, and the counters that count them.

The wrapper is freed by ``kmem_cache_free`` at the end of the put (a tail call), so the
kmem:kmem_cache_free tracepoint's ``call_site`` is the return address of the call to the
put that dropped the *last* reference. The model (backing_aio.kernelcheck.predict) names three free
sites per request kind, each with its call chain. The kernel function a site lies in is the
innermost caller of the put that is a real function in /proc/kallsyms (the cleanup is
inlined into its callers, the completion and the entry points are not): derived, not
hard-coded.

Two of the sites are in the same function (the submitter's own put right after submit, and
the put inside the inlined cleanup). Function tracing, kprobes and disassembly are not
available here, so the cleanup site's exact address is *learnt*: buffered IO on ext4 is
never queued, so every free during buffered IO is the cleanup's. A short calibration run
samples kmem_cache_free's raw call_site (perf sampling, PERF_SAMPLE_RAW) during buffered
reads and writes on a private overlay and must find exactly one address per function.
(Sampling is used only here, in process context: on this kernel the samples of frees made
in softirq, as O_DIRECT read completions are, never reached the ring buffer, while the
counting events see them all.)
Then, in counting mode:

- cleanup frees: ``call_site == <that address>``;
- first-put frees: same function, ``call_site < <that address>`` (the put after submit
  comes first in the code; the model says so too: its statement precedes the cleanup's);
- anything else in that function (``call_site >`` the address): counted as "other", which
  the model does not predict, so a non-zero count fails the cross-check.
"""

from __future__ import annotations

import os
from collections import Counter as Tally
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

from backing_aio.kernelcheck.driver import Op, aligned
from backing_aio.kernelcheck.errors import Unavailable
from backing_aio.kernelcheck.overlay import Overlay
from backing_aio.kernelcheck.perf import sample_call_sites
from backing_aio.kernelcheck.predict import CLEANUP, COMPLETION_FREE, FIRST_PUT, mainline

WORK_FN: Final = "backing_aio_complete_work"
KINDS: Final = ("read", "write")


@dataclass(frozen=True)
class Symbol:
    name: str
    start: int
    end: int

    def describe(self, addr: int) -> str:
        return f"{self.name}+{addr - self.start:#x}"


@cache
def symbols() -> dict[str, Symbol]:
    """Text symbols of /proc/kallsyms (root sees real addresses)."""
    rows: list[tuple[int, str]] = []
    try:
        text = Path("/proc/kallsyms").read_text()
    except OSError as e:
        raise Unavailable(f"cannot read /proc/kallsyms: {e.strerror}") from None
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] in "tT":
            rows.append((int(parts[0], 16), parts[2]))
    rows.sort()
    if not rows or rows[-1][0] == 0:
        raise Unavailable("/proc/kallsyms hides addresses (kptr_restrict)")
    out: dict[str, Symbol] = {}
    for (addr, name), nxt in zip(rows, [*rows[1:], (rows[-1][0] + 1, "")], strict=True):
        if name not in out:
            out[name] = Symbol(name, addr, nxt[0])
    return out


def symbol(name: str) -> Symbol:
    try:
        return symbols()[name]
    except KeyError:
        raise Unavailable(f"the kernel has no function {name} (no backing-file "
                          "helpers?)") from None


def kernel_function(chain: tuple[str, ...]) -> str:
    """The function a free's call site lies in: the innermost caller of the freeing
    procedure that exists as a symbol (the others were inlined into it)."""
    syms = symbols()
    for name in reversed(chain[:-1]):
        if name in syms:
            return name
    raise Unavailable(f"no function of the chain {' -> '.join(chain)} is in kallsyms")


@dataclass(frozen=True)
class KindSites:
    """The kernel functions and the learnt cleanup address of one request kind."""

    kind: str
    entry: str  # the function that allocates (kmem_cache_alloc's call site)
    submitter: str  # the function the cleanup and first-put frees lie in
    completion: str  # the function the completion's free lies in
    cleanup_addr: int

    def describe(self) -> str:
        s = symbol(self.submitter)
        return (f"{self.kind}: alloc in {self.entry}; cleanup free at "
                f"{s.describe(self.cleanup_addr)}, first put below it; completion free in "
                f"{self.completion}")


def _functions(kind: str) -> tuple[str, str, str]:
    """(entry, submitter free function, completion free function) from the model."""
    p = mainline(kind)
    fn = {role: {kernel_function(c) for c in p.chains(role)} for role in
          (CLEANUP, FIRST_PUT, COMPLETION_FREE)}
    for role, names in fn.items():
        if len(names) != 1:
            raise Unavailable(f"the model's {role} frees of a {kind} map to kernel functions "
                              f"{sorted(names)}, expected one")
    sub = fn[CLEANUP].pop()
    if fn[FIRST_PUT] != {sub}:
        raise Unavailable(f"{kind}: first put and cleanup lie in different functions")
    entry = next(iter(p.chains(CLEANUP)))[0]
    symbol(entry)
    return entry, sub, fn[COMPLETION_FREE].pop()


def _buffered_io(ov: Overlay, n: int = 64) -> None:
    from backing_aio.kernelcheck.uring import Uring

    path = ov.merged / "calibrate"
    fd = os.open(path, os.O_RDWR)
    try:
        bufs = [aligned(4096) for _ in range(8)]
        with Uring(16) as d:
            for write in (False, True):
                ops = [Op(fd, write, (i % 16) * 4096, [memoryview(bufs[i % 8])])
                       for i in range(n)]
                res = d.run(ops)
                if any(r != 4096 for r in res):
                    raise Unavailable(f"calibration IO failed: {sorted(set(res))}")
    finally:
        os.close(fd)


@cache
def calibrate() -> dict[str, KindSites]:
    """Learn the cleanup free's address in each submitter function (see the module's
    docstring). Cached for the process: the kernel's text does not move."""
    fns = {k: _functions(k) for k in KINDS}
    subs = sorted({f[1] for f in fns.values()})
    flt = " || ".join(f"call_site.function == {s}" for s in subs)
    seen: Tally[int] = Tally()

    def action() -> None:
        with Overlay(lower_files={"calibrate": os.urandom(16 * 4096)}) as ov:
            _buffered_io(ov)

    seen = sample_call_sites("kmem:kmem_cache_free", flt, action)
    out: dict[str, KindSites] = {}
    for kind, (entry, sub, comp) in fns.items():
        s = symbol(sub)
        addrs = sorted(a for a in seen if s.start <= a < s.end)
        if len(addrs) != 1:
            got = ", ".join(s.describe(a) for a in addrs) or "none"
            raise Unavailable(f"calibration: buffered {kind}s freed at {got}; expected "
                              f"exactly one cleanup site in {sub}")
        out[kind] = KindSites(kind, entry, sub, comp, addrs[0])
    return out


def counter_spec(kinds: tuple[str, ...], inodes: list[tuple[int, int]]
                 ) -> dict[str, tuple[str, str]]:
    """The counters of a workload of ``kinds``: name -> (tracepoint, filter). Per kind:
    "alloc", the three free sites and "other" (suffixed " read"/" write"); shared:
    "completion" (reads and writes complete in the same function), "queued", and the
    completion work items queued and run.

    ``inodes`` are the (st_dev, st_ino) of the backing files, to count only their queued
    direct IOs (iomap:iomap_dio_rw_queued is system-wide and names the lower inode)."""
    cal = calibrate()
    spec: dict[str, tuple[str, str]] = {}
    completions = set()
    for kind in kinds:
        ks = cal[kind]
        sub = ks.submitter
        at = f"{ks.cleanup_addr:#x}"
        spec[f"alloc {kind}"] = ("kmem:kmem_cache_alloc", f"call_site.function == {ks.entry}")
        spec[f"{CLEANUP} {kind}"] = ("kmem:kmem_cache_free", f"call_site == {at}")
        spec[f"{FIRST_PUT} {kind}"] = (
            "kmem:kmem_cache_free", f"call_site.function == {sub} && call_site < {at}")
        spec[f"other {kind}"] = (
            "kmem:kmem_cache_free", f"call_site.function == {sub} && call_site > {at}")
        completions.add(ks.completion)
    spec[COMPLETION_FREE] = ("kmem:kmem_cache_free", " || ".join(
        f"call_site.function == {c}" for c in sorted(completions)))
    files = " || ".join(
        f"(dev == {(os.major(d) << 20) | os.minor(d)} && ino == {i})" for d, i in inodes)
    spec["queued"] = ("iomap:iomap_dio_rw_queued", files or "ino == 0")
    work = symbol(WORK_FN).start
    spec["work queued"] = ("workqueue:workqueue_queue_work", f"function == {work:#x}")
    spec["work run"] = ("workqueue:workqueue_execute_start", f"function == {work:#x}")
    return spec
