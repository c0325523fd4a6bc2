"""``backing-aio gate``: the catalogue against its expected verdicts (N = 1..3 by
default), the mutants, and the z3 verdicts: what ``make check`` runs."""

from __future__ import annotations

import argparse
import json
import os
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from backing_aio.cfront.cmutants import Score
from backing_aio.cli import gate_junit
from backing_aio.cli.exits import EXIT_FOUND, EXIT_OK
from backing_aio.cli.options import MAX_REQUESTS, fmt, indent, requests, z3_limits, z3_options
from backing_aio.cli.progress import counter
from backing_aio.model.catalogue import catalogue
from backing_aio.model.properties import verdict_text
from backing_aio.outputs import output_path, write_text
from backing_aio.present import junit
from backing_aio.present.sarif import Finding, finding, sarif
from backing_aio.verify import gate as gatemod
from backing_aio.verify.trace import concretise, explain_text


def register(sub: Any) -> None:
    gt = sub.add_parser("gate", help="the catalogue against its verdicts (N = 1..3) and mutants")
    gt.add_argument("--max-requests", type=int, default=3, metavar="N",
                    help=f"the largest N, 1..{MAX_REQUESTS} (default 3)")
    gt.add_argument("--no-mutants", action="store_true")
    gt.add_argument("--no-proofs", action="store_true",
                    help="skip bounded model checking and the unbounded z3 proofs")
    z3_options(gt, "fails the gate")
    gt.add_argument("--json", action="store_true")
    gt.add_argument("--sarif", type=Path, metavar="FILE",
                    help="also write the catalogue's findings as SARIF 2.1.0 (a known bug "
                    "as a note, any other as an error), each at its smallest N")
    gt.add_argument("--junit", type=Path, metavar="FILE",
                    help="also write the results as JUnit XML: a test case per catalogue "
                    "row and N, z3 row, mutant and C mutant")
    gt.set_defaults(handler=cmd_gate)


def cmd_gate(args: argparse.Namespace) -> int:
    n = requests(args.max_requests, "--max-requests")
    z3_limits(args)
    for out, what in ((args.junit, "--junit"), (args.sarif, "--sarif")):
        if out is not None:
            output_path(out, what)  # before the minutes of work, not after
    if not args.json:
        print(f"{'variant':<10} {'N':>2}  {'expected':<12} {'verdict':<22} {'states':>8} "
              f"{'seconds':>8}")

    def row_line(row: gatemod.Row) -> None:
        if args.json:
            return
        mark = "" if row.ok else "   <-- MISMATCH"
        print(f"{row.variant:<10} {row.requests:>2}  {row.expected_text():<12} "
              f"{row.result.verdict():<22} {row.result.states:>8} {row.result.seconds:>8.3f}"
              f"{mark}")

    rows, report, stale, seconds = gatemod.run_gate(
        n, with_mutants=not args.no_mutants, on_row=row_line,
        progress=None if args.json else counter(),
    )
    composed = gatemod.check_composition(catalogue().values(), rows)
    ok = all(r.ok for r in rows) and all(c.ok for c in composed)
    if report is not None:
        ok = ok and not report.unexplained and not stale
    z3rows = [] if args.no_proofs else gatemod.check_z3(
        catalogue().values(), timeout_ms=args.timeout, rlimit=args.rlimit,
        progress=None if args.json else counter("z3, variants decided"))
    ok = ok and all(z.ok for z in z3rows)
    seconds += sum(z.seconds for z in z3rows) / max(1, os.cpu_count() or 1)
    c_started = time.perf_counter()
    c_gate = None if args.no_mutants else _c_mutants(n)
    seconds += time.perf_counter() - c_started
    if c_gate is not None and isinstance(c_gate[0], Score):
        ok = ok and c_gate[0].ok
    if args.sarif is not None:
        write_text(args.sarif, json.dumps(sarif(_findings(rows), version("backing-aio")),
                                          indent=2))
    if args.junit is not None:
        write_text(args.junit, junit.render(gate_junit.cases(rows, z3rows, report, stale,
                                                              c_gate, composed)))
    if args.json:
        doc: dict[str, Any] = {
            "format": fmt("gate"),
            "ok": ok,
            "seconds": round(seconds, 2),
            "catalogue": [{"variant": r.variant, "requests": r.requests,
                           "expected": sorted(r.expected), "failed": sorted(r.result.failed),
                           "ok": r.ok, "states": r.result.states,
                           "seconds": round(r.result.seconds, 4)} for r in rows],
        }
        doc["any_n"] = [{"variant": c.variant, "expected": sorted(c.expected),
                         "by_search": sorted(c.by_search),
                         "composed": c.composition.composed,
                         "failed": sorted(c.composition.failed),
                         "reason": c.composition.reason, "states": c.composition.states,
                         "seconds": round(c.composition.seconds, 4), "ok": c.ok}
                        for c in composed]
        doc["z3"] = [{"variant": z.variant, "expected": sorted(z.expected),
                      "bmc_failed": sorted(z.bmc_failed),
                      "proof_failed": sorted(z.proof_failed),
                      "holds_for_all_n": z.all_n, "problems": list(z.problems),
                      "verdict": z.verdict.as_json(),
                      "ok": z.ok, "seconds": round(z.seconds, 2)} for z in z3rows]
        if report is not None:
            doc["mutants"] = {
                "total": len(report.outcomes), "killed": len(report.killed),
                "equivalent": len(report.equivalent), "score": round(report.score, 4),
                "by_property": report.by_property(),
                "unexplained_survivors": [o.name for o in report.unexplained],
                "stale_equivalences": stale,
                "killed_mutants": {o.name: sorted(o.killed_by) for o in report.killed},
            }
        if c_gate is not None:
            doc["c_mutants"] = _c_json(c_gate)
        print(json.dumps(doc, indent=2))
        return EXIT_OK if ok else EXIT_FOUND
    for r in rows:
        if not r.ok:
            missing = r.expected - r.result.failed
            extra = r.result.failed - r.expected
            if missing:
                print(f"{r.variant} N={r.requests}: known bug no longer found: "
                      f"{', '.join(sorted(missing))}")
            for (prop, _subject), cx in r.result.violations.items():
                if prop in extra:
                    v = catalogue()[r.variant]
                    print(f"{r.variant} N={r.requests}: {prop} fails:")
                    print(indent(explain_text(v, concretise(v, cx))))
    _print_composed(composed)
    if z3rows:
        print()
        print(f"{'variant':<10} {'expected':<12} {'z3 (bmc and proof, every request type)':<40}"
              f" {'seconds':>8}")
        for z in z3rows:
            mark = "" if z.ok else "   <-- MISMATCH"
            expected = verdict_text(z.expected)
            print(f"{z.variant:<10} {expected:<12} {z.verdict.text():<40} {z.seconds:>8.1f}{mark}")
            for why in z.problems[:5]:
                print(f"    !! {why}")
    if report is not None:
        print()
        kills = ", ".join(f"{p} {c}" for p, c in report.by_property().items())
        print(f"mutants: {len(report.outcomes)} generated, {len(report.killed)} killed, "
              f"{len(report.equivalent)} equivalent (listed with reasons), "
              f"{len(report.unexplained)} unexplained")
        print(f"mutation score: {report.score:.1%} (killed / non-equivalent)")
        print(f"kills by property: {kills}")
        for o in report.unexplained:
            print(f"  SURVIVOR (not listed as equivalent): {o.name}: {o.description}")
        for name in stale:
            print(f"  STALE equivalence (mutant killed or gone): {name}")
    if c_gate is not None:
        _print_c(c_gate)
    print(f"gate: {'ok' if ok else 'FAILED'} in {seconds:.1f}s")
    return EXIT_OK if ok else EXIT_FOUND


def _print_composed(composed: list[gatemod.ComposedRow]) -> None:
    """Each entry's verdict for N = 1..K by search, and for any N by composition."""
    print()
    k = max((c.max_requests for c in composed), default=0)
    print(f"{'variant':<10} {f'by search, N = 1..{k}':<32} {'any N, by composition':<32} "
          f"{'states':>8} {'seconds':>8}")
    for c in composed:
        mark = "" if c.ok else "   <-- MISMATCH"
        comp = c.composition
        anyn = comp.verdict() if comp.composed else "not composed"
        print(f"{c.variant:<10} {verdict_text(c.by_search):<32} {anyn:<32} "
              f"{comp.states:>8} {comp.seconds:>8.3f}{mark}")
        if not comp.composed:
            print(f"    {comp.reason}: the search decides")


def _findings(rows: list[gatemod.Row]) -> list[Finding]:
    """Each catalogue entry's counterexamples at the smallest N that has any."""
    cat = catalogue()
    out: list[Finding] = []
    done: set[str] = set()
    for r in sorted(rows, key=lambda r: r.requests):
        if r.variant in done or not r.result.violations:
            continue
        done.add(r.variant)
        v = cat[r.variant]
        out += [finding(v, key, r.result, known=key[0] in v.expect)
                for key in r.result.violations]
    return out


def _c_mutants(n: int) -> tuple[Score, str] | tuple[str, str]:
    """The C mutants of Debian's 6.12 helpers, or why they did not run."""
    from backing_aio.cfront.cmutants import TREE_612, gate_612
    from backing_aio.cfront.probe import unavailable

    why = unavailable()
    if why is not None:
        return why, ""
    got = gate_612(min(n, 3))
    if got is None:
        return f"no Debian linux-source-6.12 in {TREE_612} (make kernel-sources)", ""
    return got


def _c_json(c_gate: tuple[Score, str] | tuple[str, str]) -> dict[str, Any]:
    sc, version = c_gate
    if not isinstance(sc, Score):
        return {"ran": False, "why": sc}
    return {"ran": True, "source": sc.source, "version": version, "total": sc.total,
            "killed": len(sc.killed), "equivalent": len(sc.equivalent),
            "not_lifted": sc.not_lifted, "unexplained_survivors": sc.unexplained,
            "stale_equivalences": sc.stale, "score": round(sc.score, 4),
            "killed_mutants": {k: sorted(v) for k, v in sc.killed.items()}}


def _print_c(c_gate: tuple[Score, str] | tuple[str, str]) -> None:
    sc, version = c_gate
    print()
    if not isinstance(sc, Score):
        print(f"C mutants: not run: {sc}")
        return
    print(f"C mutants of {sc.source} (Debian {version}): {sc.total} generated, "
          f"{len(sc.killed)} killed, {len(sc.equivalent)} equivalent (listed with reasons), "
          f"{len(sc.not_lifted)} not lifted, {len(sc.unexplained)} unexplained")
    print(f"C mutation score: {sc.score:.1%} (killed / lifted and not equivalent)")
    for name, why in sc.not_lifted.items():
        print(f"  not lifted: {name}: {why}")
    for name in sc.unexplained:
        print(f"  SURVIVOR (not listed as equivalent): {name}")
    for name in sc.stale:
        print(f"  STALE equivalence (mutant killed or gone): {name}")
