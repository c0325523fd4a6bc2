"""The gate behind ``make check``: the catalogue against its expected verdicts, and mutation
adequacy of the properties over every good variant.

A catalogue row passes when the set of properties the explorer finds broken is exactly the
variant's expected set (so a known bug that is no longer found fails the gate, as does a new
one). A mutant is killed when some property breaks; it may survive only if it is listed in
``backing_aio.model.equivalents`` with a reason, and every listed mutant must in fact survive.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from backing_aio.model.catalogue import catalogue
from backing_aio.model.equivalents import EQUIVALENT, REASONS
from backing_aio.model.lang import Variant
from backing_aio.model.mutants import Mutant, mutants
from backing_aio.model.properties import PROPERTY_IDS, verdict_text
from backing_aio.verify.compose import Composition, compose
from backing_aio.verify.explorer import Result, explore
from backing_aio.verify.verdict import Verdict


@dataclass(frozen=True)
class Row:
    variant: str
    requests: int
    expected: frozenset[str]
    result: Result

    @property
    def ok(self) -> bool:
        return self.result.failed == self.expected

    def expected_text(self) -> str:
        return verdict_text(self.expected)


@dataclass(frozen=True)
class MutantOutcome:
    name: str
    description: str
    killed_by: frozenset[str]  # empty: survived
    requests: int  # the smallest N that killed it (or the largest tried)


@dataclass
class MutationReport:
    outcomes: list[MutantOutcome] = field(default_factory=list)

    @property
    def killed(self) -> list[MutantOutcome]:
        return [o for o in self.outcomes if o.killed_by]

    @property
    def survivors(self) -> list[MutantOutcome]:
        return [o for o in self.outcomes if not o.killed_by]

    @property
    def equivalent(self) -> list[MutantOutcome]:
        return [o for o in self.survivors if o.name in EQUIVALENT]

    @property
    def unexplained(self) -> list[MutantOutcome]:
        return [o for o in self.survivors if o.name not in EQUIVALENT]

    def stale(self) -> list[str]:
        """Entries of the equivalence table whose mutant was killed or is no longer made."""
        survived = {o.name for o in self.survivors}
        return sorted(n for n in EQUIVALENT if n not in survived)

    @property
    def score(self) -> float:
        denominator = len(self.outcomes) - len(self.equivalent)
        return len(self.killed) / denominator if denominator else 1.0

    def by_property(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for o in self.killed:
            counts.update(o.killed_by)
        return {p: counts[p] for p in PROPERTY_IDS if counts[p]}


def check_catalogue(
    variants: Iterable[Variant], max_requests: int = 3, on_row: Callable[[Row], None] | None = None
) -> list[Row]:
    rows = []
    for v in variants:
        for n in range(1, max_requests + 1):
            row = Row(v.name, n, v.expect, explore(v, n))
            rows.append(row)
            if on_row is not None:
                on_row(row)
    return rows


def _judge(args: tuple[Mutant, int]) -> MutantOutcome:
    m, max_requests = args
    for n in range(1, max_requests + 1):
        r = explore(m.variant, n)
        if r.failed:
            return MutantOutcome(m.name, m.description, r.failed, n)
    return MutantOutcome(m.name, m.description, frozenset(), max_requests)


def check_mutants(
    variants: Iterable[Variant],
    max_requests: int = 3,
    jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> MutationReport:
    """Judge every mutant of every good variant (killed at the smallest N that kills it)."""
    ms = [m for v in variants if not v.expect for m in mutants(v)]
    report = MutationReport()
    work = [(m, max_requests) for m in ms]
    jobs = jobs or os.cpu_count() or 1
    if jobs > 1 and len(work) > 20 and "fork" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(jobs) as pool:
            for i, o in enumerate(pool.imap(_judge, work, chunksize=8), 1):
                report.outcomes.append(o)
                if progress is not None:
                    progress(i, len(work))
    else:
        for i, w in enumerate(work, 1):
            report.outcomes.append(_judge(w))
            if progress is not None:
                progress(i, len(work))
    return report


def run_gate(
    max_requests: int = 3,
    with_mutants: bool = True,
    on_row: Callable[[Row], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[Row], MutationReport | None, list[str], float]:
    started = time.perf_counter()
    cat = catalogue()
    rows = check_catalogue(cat.values(), max_requests, on_row)
    report = None
    stale: list[str] = []
    if with_mutants:
        report = check_mutants(cat.values(), max_requests, progress=progress)
        stale = report.stale()
    return rows, report, stale, time.perf_counter() - started


def check_z3(variants: Iterable[Variant], timeout_ms: int | None = None,
             rlimit: int | None = None,
             progress: Callable[[int, int], None] | None = None) -> list[Z3Row]:
    """Bounded model checking and the unbounded proof of each catalogue entry (every
    request type), which must agree with the explorer and meet the expected verdict; for a
    good variant the proof must hold for all N. Undecided (unknown) is a failure.

    Each z3 query is bounded by ``rlimit`` units of z3's work (default
    ``backing_aio.verify.symbolic.RLIMIT``), a count rather than a time, so the gate gives the same
    verdict on a busy machine; ``timeout_ms`` adds a wall-clock limit, only when given."""
    from backing_aio.verify.agree import decide_all  # z3 is slow to import: only when asked
    from backing_aio.verify.symbolic import RLIMIT

    chosen = list(variants)
    verdicts = decide_all(chosen, rlimit=RLIMIT if rlimit is None else rlimit,
                          timeout_ms=timeout_ms, hypothesis=False, progress=progress)
    return [Z3Row(v.name, v.expect, d.bmc_failed, d.proof_failed, d.all_n,
                  tuple(d.problems), d.seconds, d.verdict())
            for v, d in zip(chosen, verdicts, strict=True)]


@dataclass(frozen=True)
class Z3Row:
    variant: str
    expected: frozenset[str]
    bmc_failed: frozenset[str]
    proof_failed: frozenset[str]
    all_n: bool
    problems: tuple[str, ...]  # disagreements with the explorer, unknowns, replay errors
    seconds: float
    verdict: Verdict  # what it all decides, undecided by any problem

    @property
    def ok(self) -> bool:
        return (not self.problems and self.bmc_failed == self.expected
                and self.proof_failed == self.expected
                and (bool(self.expected) or self.all_n))


@dataclass(frozen=True)
class ComposedRow:
    """A catalogue entry's verdict at any N, beside the explorer's at N = 1..K."""

    variant: str
    expected: frozenset[str]
    by_search: frozenset[str]  # the properties broken at some N = 1..K
    max_requests: int
    composition: Composition

    @property
    def ok(self) -> bool:
        """Composed, it must be the expected verdict; not composed, the search decides."""
        c = self.composition
        return not c.composed or c.failed == self.expected


def check_composition(variants: Iterable[Variant], rows: list[Row]) -> list[ComposedRow]:
    """Each variant's composed any-N verdict (``verify.compose``), with its search rows."""
    out = []
    for v in variants:
        mine = [r for r in rows if r.variant == v.name]
        by_search = frozenset().union(*(r.result.failed for r in mine))
        out.append(ComposedRow(v.name, v.expect, by_search,
                               max((r.requests for r in mine), default=0), compose(v)))
    return out


def reason(name: str) -> str:
    return REASONS[EQUIVALENT[name]]
