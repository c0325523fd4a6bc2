"""``backing-aio bench`` (``make bench``): the explorer's figures for seed and mainline at
N = 1..8, and the composed any-N verdict.

Each measurement runs in a fresh interpreter (so peak memory belongs to that run alone) and
is repeated; the table gives the median time. Two comparisons are made side by side in one
run, so each is a ratio of numbers measured on the same noisy machine: the full product (no
reduction) at small N against the reduction, and, with a baseline revision, the same runs
on the code of that revision (extracted with ``git archive`` and put first on the child's
import path) against this tree's.
"""

from __future__ import annotations

import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from backing_aio.outputs import write_text

_CHILD = """
import json, resource, sys, time
import backing_aio
from backing_aio.model.variants import resolve_one
v, _ = resolve_one(sys.argv[1])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
if sys.argv[3] == "compose":
    from backing_aio.verify.compose import compose
    c = compose(v)
    states, transitions, reduction = c.states, 0, "composed"
    verdict = c.verdict() if c.composed else "not composed: " + c.reason
else:
    from backing_aio.verify.explorer import explore
    r = explore(v, int(sys.argv[2]), reduction=sys.argv[3])
    states, transitions, reduction, verdict = r.states, r.transitions, r.reduction, r.verdict()
secs = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"states": states, "transitions": transitions, "seconds": secs,
                  "peak_kib": peak, "base_kib": base, "reduction": reduction,
                  "verdict": verdict, "package": backing_aio.__file__}))
"""

COMPOSE = "compose"
ROOT = Path(__file__).resolve().parents[2]


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


def measure(variant: str, n: int, reduction: str, repeat: int,
            code: Path | None = None) -> Measure:
    """``variant`` at ``n`` requests (``reduction``, or ``COMPOSE``), each run in a fresh
    interpreter; ``code``: a directory whose ``backing_aio`` package the child runs."""
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(code),
                                                          env.get("PYTHONPATH")]))
    runs = []
    for _ in range(repeat):
        # run in ``code``: ``-c`` puts the working directory first on the path
        out = subprocess.run([sys.executable, "-c", _CHILD, variant, str(n), reduction],
                             capture_output=True, text=True, check=True, env=env, cwd=code)
        runs.append(json.loads(out.stdout))
    first = runs[0]
    if code is not None and not Path(first["package"]).is_relative_to(code):
        raise RuntimeError(f"the baseline's child ran {first['package']}, not {code}")
    return Measure(
        states=int(first["states"]),
        transitions=int(first["transitions"]),
        seconds=statistics.median(float(r["seconds"]) for r in runs),
        peak_mib=max(int(r["peak_kib"]) for r in runs) / 1024,
        base_mib=int(first["base_kib"]) / 1024,
        reduction=str(first["reduction"]),
        verdict=str(first["verdict"]),
    )


def baseline_tree(rev: str, into: Path) -> Path:
    """The package as revision ``rev`` of this repository has it, extracted under ``into``.
    Raises ValueError naming the problem (no git, no such revision)."""
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", rev,
                              "backing_aio"], capture_output=True, check=False)
    except OSError as e:
        raise ValueError(f"--baseline needs git: {e}") from None
    if out.returncode != 0:
        why = out.stderr.decode(errors="replace").strip().splitlines()
        raise ValueError(f"--baseline {rev}: {why[-1] if why else 'git archive failed'}")
    with tarfile.open(fileobj=io.BytesIO(out.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into


def _row(variant: str, n: int, m: Measure, old: Measure | None) -> str:
    line = (f"{variant:<9} {n:>2} {m.reduction:<11} {m.states:>9} {m.seconds:>8.3f} "
            f"{m.rate:>9.0f} {m.peak_mib:>8.1f}")
    if old is None:
        return line + f"{'':>37}  {m.verdict}"
    same = "" if (old.states, old.verdict) == (m.states, m.verdict) else \
        f"  (baseline: {old.states} states, {old.verdict})"
    return line + (f" {old.seconds:>8.3f} {old.rate:>9.0f} {old.peak_mib:>8.1f} "
                   f"{old.seconds / m.seconds:>7.2f}x  {m.verdict}{same}")


def run(variants: list[str], max_requests: int, repeat: int, out: Path,
        proofs: Path | None, baseline: str | None = None) -> None:
    """Measure each of ``variants`` at N = 1..``max_requests`` (and without the reduction
    at N = 1, 2), its composed any-N verdict, and with ``baseline`` the same searches on
    that revision's code; write the table to ``out`` and print it; with ``proofs``, the z3
    proofs' times too."""
    with tempfile.TemporaryDirectory(prefix="backing-aio-baseline-") as tmp:
        old_code = baseline_tree(baseline, Path(tmp)) if baseline else None
        lines = [
            "explorer benchmark: every mix of request types; "
            + (f"this tree beside revision {baseline}" if baseline else "this tree"),
            f"{time.strftime('%Y-%m-%d %H:%M:%S')}  python {platform.python_version()}  "
            f"{platform.machine()}  median of {repeat} runs, each in a fresh interpreter",
            "",
            f"{'variant':<9} {'N':>2} {'reduction':<11} {'states':>9} {'seconds':>8} "
            f"{'states/s':>9} {'peak MiB':>8}"
            + (f" {'baseline':>8} {'states/s':>9} {'peak MiB':>8} {'speedup':>8}"
               if old_code else f"{'':>37}") + "  verdict",
        ]
        ratios: list[str] = []
        for variant in variants:
            red: dict[int, Measure] = {}
            for n in range(1, max_requests + 1):
                red[n] = m = measure(variant, n, "auto", repeat)
                old = measure(variant, n, "auto", repeat, old_code) if old_code else None
                lines.append(_row(variant, n, m, old))
            for n in range(1, min(2, max_requests) + 1):
                m = measure(variant, n, "none", repeat)
                old = measure(variant, n, "none", repeat, old_code) if old_code else None
                lines.append(_row(variant, n, m, old))
                ratios.append(f"{variant} N={n}: the reduction keeps {red[n].states} of "
                              f"{m.states} states ({red[n].states / m.states:.1%}); time "
                              f"ratio {red[n].seconds / m.seconds:.3f}")
            c = measure(variant, 0, COMPOSE, repeat)
            lines.append(f"{variant:<9} {'any':>3} {'composed':<10} {c.states:>9} "
                         f"{c.seconds:>8.3f} {c.rate:>9.0f} {c.peak_mib:>8.1f}"
                         f"{'':>37}  {c.verdict}")
            lines.append("")
        lines += ratios
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
