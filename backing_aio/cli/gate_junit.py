"""The gate's results as JUnit test cases (``backing-aio gate --junit FILE``): one per
catalogue row and N, per entry's composed any-N verdict, per z3 row, per mutant of the
model, per C mutant of the lifted functions."""

from __future__ import annotations

from backing_aio.cfront.cmutants import REASONS as C_REASONS
from backing_aio.cfront.cmutants import Score
from backing_aio.model.equivalents import EQUIVALENT
from backing_aio.model.properties import verdict_text
from backing_aio.present.junit import Case
from backing_aio.verify import gate as gatemod


def cases(rows: list[gatemod.Row], z3rows: list[gatemod.Z3Row],
          report: gatemod.MutationReport | None, stale: list[str],
          c_gate: tuple[Score, str] | tuple[str, str] | None,
          composed: list[gatemod.ComposedRow] | None = None) -> list[Case]:
    out = [Case("catalogue", f"{r.variant} N={r.requests}", r.result.seconds,
                failure=None if r.ok else f"expected {r.expected_text()}, found "
                f"{r.result.verdict()}", detail=f"{r.result.states} states")
           for r in rows]
    out += [_composed(c) for c in composed or []]
    out += [Case("z3", z.variant, z.seconds,
                 failure=None if z.ok else f"expected {verdict_text(z.expected)}, z3: "
                 f"{z.verdict.text()}" + "".join(f"\n{p}" for p in z.problems))
            for z in z3rows]
    if report is not None:
        out += [_mutant(o) for o in report.outcomes]
        out += [Case("mutants", name, failure="listed as equivalent, but killed or no "
                     "longer made") for name in stale]
    if c_gate is not None:
        out += _c_cases(c_gate)
    return out


def _composed(c: gatemod.ComposedRow) -> Case:
    comp = c.composition
    if not comp.composed:
        return Case("catalogue", f"{c.variant} any N", comp.seconds,
                    skipped=f"not composed: {comp.reason}")
    return Case("catalogue", f"{c.variant} any N", comp.seconds,
                failure=None if c.ok else f"expected {verdict_text(c.expected)}, composed "
                f"{comp.verdict()}", detail=f"by composition, {comp.states} states")


def _mutant(o: gatemod.MutantOutcome) -> Case:
    if o.killed_by:
        return Case("mutants", o.name, detail=f"killed by {', '.join(sorted(o.killed_by))} "
                    f"at N={o.requests}: {o.description}")
    if o.name in EQUIVALENT:
        return Case("mutants", o.name, skipped=f"equivalent: {gatemod.reason(o.name)}")
    return Case("mutants", o.name, failure=f"survives, not listed as equivalent: "
                f"{o.description}")


def _c_cases(c_gate: tuple[Score, str] | tuple[str, str]) -> list[Case]:
    sc, version = c_gate
    if not isinstance(sc, Score):
        return [Case("c_mutants", "C mutants", skipped=f"not run: {sc}")]
    suite = f"c_mutants {sc.source} ({version})"
    out = [Case(suite, name, detail=f"killed by {', '.join(sorted(props))}")
           for name, props in sc.killed.items()]
    out += [Case(suite, name, skipped=f"equivalent: {C_REASONS.get(why, why)}")
            for name, why in sc.equivalent.items()]
    out += [Case(suite, name, skipped=f"not lifted: {why}")
            for name, why in sc.not_lifted.items()]
    out += [Case(suite, name, failure="survives, not listed as equivalent")
            for name in sc.unexplained]
    out += [Case(suite, name, failure="listed as equivalent, but killed or no longer made")
            for name in sc.stale]
    return out
