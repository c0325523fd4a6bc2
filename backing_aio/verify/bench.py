"""``backing-aio bench`` (``make bench``): the explorer's figures for ``seed`` at N = 1..4.

Each measurement runs in a fresh interpreter (so peak memory belongs to that run alone) and
is repeated; the table gives the median time. The full product (no reduction) is measured
too at small N, in the same run, so the reduction's effect is a ratio of two numbers
measured side by side on the same noisy machine.
"""

from __future__ import annotations

import json
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from backing_aio.outputs import write_text

_CHILD = """
import json, resource, sys, time
from backing_aio.verify.explorer import explore
from backing_aio.model.variants import resolve_one
v, _ = resolve_one(sys.argv[1])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
r = explore(v, int(sys.argv[2]), reduction=sys.argv[3])
secs = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"states": r.states, "transitions": r.transitions, "seconds": secs,
                  "peak_kib": peak, "base_kib": base, "reduction": r.reduction,
                  "verdict": r.verdict()}))
"""


@dataclass(frozen=True)
class Measure:
    states: int
    transitions: int
    seconds: float  # median
    peak_mib: float  # largest peak RSS of the runs
    base_mib: float  # RSS before exploring (the interpreter and the package)
    reduction: str
    verdict: str

    @property
    def rate(self) -> float:
        return self.states / self.seconds if self.seconds else 0.0


def measure(variant: str, n: int, reduction: str, repeat: int) -> Measure:
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", _CHILD, variant, str(n), reduction],
                             capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout))
    first = runs[0]
    return Measure(
        states=int(first["states"]),
        transitions=int(first["transitions"]),
        seconds=statistics.median(float(r["seconds"]) for r in runs),
        peak_mib=max(int(r["peak_kib"]) for r in runs) / 1024,
        base_mib=int(first["base_kib"]) / 1024,
        reduction=str(first["reduction"]),
        verdict=str(first["verdict"]),
    )


def run(variant: str, repeat: int, out: Path, proofs: Path | None) -> None:
    """Measure ``variant`` at N = 1..4 (and without the reduction at N = 1, 2), write the
    table to ``out`` and print it; with ``proofs``, the z3 proofs' times too."""
    rows = []
    for n in (1, 2, 3, 4):
        rows.append((n, "auto", measure(variant, n, "auto", repeat)))
    for n in (1, 2):
        rows.append((n, "none", measure(variant, n, "none", repeat)))
    lines = [
        f"explorer benchmark: variant {variant}, every mix of request types",
        f"{time.strftime('%Y-%m-%d %H:%M:%S')}  python {platform.python_version()}  "
        f"{platform.machine()}  median of {repeat} runs, each in a fresh interpreter",
        "",
        f"{'N':>2} {'reduction':<12} {'states':>10} {'transitions':>12} {'seconds':>9} "
        f"{'states/s':>10} {'peak RSS MiB':>13} {'(baseline)':>10}  verdict",
    ]
    for n, _asked, m in rows:
        lines.append(
            f"{n:>2} {m.reduction:<12} {m.states:>10} {m.transitions:>12} {m.seconds:>9.3f} "
            f"{m.rate:>10.0f} {m.peak_mib:>13.1f} {m.base_mib:>10.1f}  {m.verdict}"
        )
    full = {n: m for n, a, m in rows if a == "none"}
    red = {n: m for n, a, m in rows if a == "auto"}
    lines.append("")
    for n in sorted(full):
        lines.append(
            f"N={n}: the reduction keeps {red[n].states} of {full[n].states} states "
            f"({red[n].states / full[n].states:.1%}); time ratio "
            f"{red[n].seconds / full[n].seconds:.3f}"
        )
    text = "\n".join(lines) + "\n"
    write_text(out, text)
    print(text, end="")
    # after the explorer's runs: z3 in this process would raise the peak RSS the
    # explorer's children inherit across fork (their baseline)
    if proofs is not None:
        _proof_times(proofs)


def _proof_times(out: Path) -> None:
    """Per catalogue entry and request type: deriving the rules on the candidate
    invariant, the unbounded proof (one request and any N), and bounded model checking;
    and, for reference, deriving the rules for every data value."""
    from backing_aio.model.catalogue import catalogue
    from backing_aio.verify.bmc import bmc
    from backing_aio.verify.prove import candidate, prove
    from backing_aio.verify.symbolic import build
    from backing_aio.verify.verdict import of_proof

    lines = ["z3: rules on the candidate, unbounded proof, bounded model checking (seconds)",
             "", f"{'variant':<10} {'type':<10} {'rules':>6} {'extract':>8} {'prove':>7} "
             f"{'total':>7} {'bmc':>7} {'generic':>8}  verdict"]
    for v in catalogue().values():
        for rtype in v.kinds:
            t = time.perf_counter()
            system = build(v, rtype, within=candidate(v, rtype))
            extract = time.perf_counter() - t
            p = prove(v, rtype, system)
            found = bmc(v, rtype, system)
            generic = "-"
            if not rtype.startswith("sync-"):  # sync shares the async rules' control
                t = time.perf_counter()
                build(v, rtype)
                generic = f"{time.perf_counter() - t:.1f}"
            verdict = of_proof(p, found).text()
            lines.append(f"{v.name:<10} {rtype:<10} {len(system.rules):>6} {extract:>8.2f} "
                         f"{p.seconds:>7.2f} {extract + p.seconds:>7.2f} "
                         f"{found.seconds:>7.2f} {generic:>8}  {verdict}")
    lines += ["", "total = extract + prove: the unbounded proof of one request type from "
              "scratch; generic: deriving the rules for every data value instead (the "
              "slow tests prove and search those too)."]
    write_text(out, "\n".join(lines) + "\n")
    print("\n".join(lines))
