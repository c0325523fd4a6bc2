"""The ways of deciding a variant must agree: the explorer (N = 1..3), bounded model
checking with z3, the unbounded z3 proof (one request, then any N), and hypothesis's random
deep runs of the model (many requests).

For each request type the z3 side derives the rules on the explorer's candidate invariant
(``backing_aio.verify.symbolic.build(..., within=...)``), checks the candidate is inductive under
them (``backing_aio.verify.prove``), and searches them for counterexamples
(``backing_aio.verify.bmc``), each replayed in the model. Agreement means:

- the same set of broken properties from the explorer with one request, from BMC and from
  the proof (over every request type);
- for each property BMC breaks, its shortest counterexample has the length of the
  explorer's shortest one for that request type (both are shortest: they must match);
- when the proof establishes "holds for all N", the explorer finds nothing with 2 and 3
  requests either; when a variant fails for one request, the explorer's findings with more
  requests include those.

Hypothesis searches at random, so it agrees in the one way a random search can: the
property its run breaks (replayed in the model) is one the explorer breaks too, and on a
variant proved for all N it breaks nothing. A variant it finds nothing in while the explorer
does is counted as a miss, not a disagreement. Its runs are derandomized: the same every time.

With 2 and 3 requests the explorer may meet more than ``MORE_REQUESTS_MAX_STATES`` states
(a mutant that drops a shared reference it does not hold loses the independent-requests
reduction, and three such requests interleave in tens of millions of ways). That N is then
not compared, and the line says so; on a variant z3 proves for all N it is a disagreement,
since nothing else would confirm the proof there. The limit is a count of states, not a time.

Anything z3 leaves undecided (unknown, a resource or time limit reached, a counterexample
the model does not replay, a candidate that is not inductive) is a disagreement: never a
pass. Every z3 query is bounded by a count of z3's own steps (``backing_aio.verify.symbolic.RLIMIT``
unless told otherwise), so the verdicts do not depend on the machine's load.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from backing_aio.model.catalogue import catalogue
from backing_aio.model.lang import Variant
from backing_aio.model.mutants import mutants
from backing_aio.model.properties import PROPERTY_IDS
from backing_aio.verify.bmc import bmc
from backing_aio.verify.explorer import StateLimit, explore
from backing_aio.verify.hypothesis_model import search
from backing_aio.verify.prove import candidate, prove
from backing_aio.verify.symbolic import RLIMIT, build
from backing_aio.verify.trace import ReplayError, check_replay
from backing_aio.verify.verdict import Verdict, combine, of_proof

# The explorer's bound for N >= 2 in ``decide``: about a gigabyte and half a minute.
MORE_REQUESTS_MAX_STATES = 1_000_000


def _names(props: Iterable[str]) -> str:
    got = sorted(props, key=PROPERTY_IDS.index)
    return ",".join(got) if got else "holds"


@dataclass
class Verdicts:
    """Plain data (it crosses process boundaries): what each way decided."""

    variant: str
    explorer: dict[int, frozenset[str]] = field(default_factory=dict)  # by N
    explorer_limited: list[int] = field(default_factory=list)  # N beyond the state bound
    explorer_lengths: dict[tuple[str, str], int] = field(default_factory=dict)  # (type, prop)
    bmc: dict[str, frozenset[str]] = field(default_factory=dict)  # by request type
    bmc_lengths: dict[tuple[str, str], int] = field(default_factory=dict)
    proofs: dict[str, frozenset[str]] = field(default_factory=dict)  # by request type
    proved_all_n: dict[str, bool] = field(default_factory=dict)
    z3: dict[str, Verdict] = field(default_factory=dict)  # by request type: proof and bmc
    hypothesis: frozenset[str] = frozenset()  # the property its run broke, if any
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def bmc_failed(self) -> frozenset[str]:
        return frozenset(p for failed in self.bmc.values() for p in failed)

    @property
    def proof_failed(self) -> frozenset[str]:
        return frozenset(p for failed in self.proofs.values() for p in failed)

    @property
    def all_n(self) -> bool:
        return bool(self.proved_all_n) and all(self.proved_all_n.values())

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def explorer_failed(self) -> frozenset[str]:
        return frozenset(p for failed in self.explorer.values() for p in failed)

    @property
    def hypothesis_missed(self) -> bool:
        return bool(self.explorer_failed) and not self.hypothesis

    def verdict(self) -> Verdict:
        """z3's verdict over every request type, undecided by any problem found."""
        return combine(self.z3.values(), self.problems)

    def line(self) -> str:
        one = self.explorer.get(1, frozenset())
        z3_text = self.verdict().text()
        mark = "ok  " if self.ok else "DIFF"
        return (f"{mark} {self.variant:<58} explorer {_names(one):<24} bmc "
                f"{_names(self.bmc_failed):<24} proof {z3_text:<24} hypothesis "
                f"{_names(self.hypothesis):<20} ({self.seconds:.1f} s)"
                + "".join(f" [N={n}: more than {MORE_REQUESTS_MAX_STATES:,} states, not "
                          "compared]" for n in self.explorer_limited))


def decide(variant: Variant, max_requests: int = 3,
           types: Sequence[str] | None = None, lemmas: bool = False,
           rlimit: int = RLIMIT, timeout_ms: int | None = None,
           hypothesis: bool = True) -> Verdicts:
    """``rlimit``: z3's resource limit per query (deriving the rules, the proof and the
    bounded search alike); ``timeout_ms``: a wall-clock limit per query on top of it, none
    unless given. An answer of unknown becomes a problem, never a verdict.
    ``hypothesis``: run the random search too."""
    started = time.perf_counter()
    out = Verdicts(variant.name)
    for n in range(1, max_requests + 1):
        try:
            out.explorer[n] = explore(
                variant, n, max_states=MORE_REQUESTS_MAX_STATES if n > 1 else None).failed
        except StateLimit:
            out.explorer_limited.append(n)
    for rtype in variant.kinds if types is None else types:
        _decide_type(variant, rtype, out, lemmas, rlimit, timeout_ms)
    _compare_request_counts(out, max_requests)
    if hypothesis:
        hypothesis_check(variant, out)
    out.seconds = time.perf_counter() - started
    return out


def _decide_type(variant: Variant, rtype: str, out: Verdicts, lemmas: bool, rlimit: int,
                 timeout_ms: int | None) -> None:
    """One request of ``rtype``: the explorer, BMC and the proof, and where they differ."""
    single = explore(variant, 1, kinds=[rtype])
    for prop in single.failed:
        out.explorer_lengths[(rtype, prop)] = len(single.counterexample(prop).actions)
    inv = candidate(variant, rtype)
    system = build(variant, rtype, within=inv, rlimit=rlimit, timeout_ms=timeout_ms)
    proof = prove(variant, rtype, system=system, rlimit=rlimit, timeout_ms=timeout_ms)
    # a candidate proved inductive may strengthen the search (same answers, faster)
    found = bmc(variant, rtype, system=system,
                lemmas=inv if lemmas and not proof.not_inductive else None,
                rlimit=rlimit, timeout_ms=timeout_ms)
    out.proofs[rtype] = proof.failed
    out.proved_all_n[rtype] = proof.proved_all_n
    out.z3[rtype] = of_proof(proof, found)
    out.bmc[rtype] = found.failed
    out.bmc_lengths.update({(rtype, p): f.length for p, f in found.findings.items()})
    for why in (*proof.unknown, *proof.not_inductive, *found.unknown, *found.replay_errors):
        out.problems.append(f"{rtype}: {why}")
    if found.failed != single.failed or proof.failed != single.failed:
        out.problems.append(f"{rtype}: explorer {_names(single.failed)}, bmc "
                            f"{_names(found.failed)}, proof {_names(proof.failed)}")
    for prop, f in found.findings.items():
        want = out.explorer_lengths.get((rtype, prop))
        if want is not None and f.length != want:
            out.problems.append(f"{rtype}: {prop} in {f.length} steps by bmc, "
                                f"{want} by the explorer")
    if not single.failed and not proof.proved_all_n and not proof.unknown:
        out.problems.append(f"{rtype}: holds for one request but the any-N argument "
                            f"failed: {'; '.join(proof.all_n[:2])}")


def _compare_request_counts(out: Verdicts, max_requests: int) -> None:
    """One request against the proof, and more requests against one."""
    one = out.explorer[1]
    if out.bmc_failed != one or out.proof_failed != one:
        out.problems.append(f"explorer {_names(one)}, bmc {_names(out.bmc_failed)}, proof "
                            f"{_names(out.proof_failed)}")
    if out.all_n and out.explorer_limited:
        out.problems.append(f"proved for all N, but the explorer could not confirm it with "
                            f"N = {out.explorer_limited[0]} (more than "
                            f"{MORE_REQUESTS_MAX_STATES:,} states)")
    for n in range(2, max_requests + 1):
        if n not in out.explorer:
            continue
        more = out.explorer[n]
        if out.all_n and more:
            out.problems.append(f"proved for all N, but the explorer breaks {_names(more)} "
                                f"with {n} requests")
        if not one <= more:
            out.problems.append(f"the explorer loses {_names(one - more)} with {n} requests")


def hypothesis_check(variant: Variant, out: Verdicts) -> None:
    trace = search(variant)
    if trace is None:
        return
    out.hypothesis = frozenset({trace.prop})
    try:
        check_replay(variant, trace)
    except ReplayError as e:
        out.problems.append(f"hypothesis: its {trace.prop} run does not replay: {e}")
    if trace.prop not in out.explorer_failed:
        out.problems.append(
            f"hypothesis breaks {trace.prop} ({trace.subject or '-'}) in a run of "
            f"{len(trace.kinds)} request(s), which the explorer with N <= "
            f"{max(out.explorer)} does not" + (" (and z3 proved it for all N)"
                                               if out.all_n else ""))


def _decide(args: tuple[Variant, int, bool, int, int | None, bool]) -> Verdicts:
    variant, max_requests, lemmas, rlimit, timeout_ms, hypothesis = args
    return decide(variant, max_requests, lemmas=lemmas, rlimit=rlimit, timeout_ms=timeout_ms,
                  hypothesis=hypothesis)


def decide_all(variants: Sequence[Variant], max_requests: int = 3, jobs: int | None = None,
               progress: Callable[[int, int], None] | None = None,
               lemmas: bool = False, rlimit: int = RLIMIT, timeout_ms: int | None = None,
               hypothesis: bool = True) -> list[Verdicts]:
    names = set(catalogue())
    # catalogue entries are always searched without lemmas: the plain bounded search
    work = [(v, max_requests, lemmas and v.name not in names, rlimit, timeout_ms, hypothesis)
            for v in variants]
    jobs = jobs or os.cpu_count() or 1
    out: list[Verdicts] = []
    if jobs > 1 and len(work) > 2 and "fork" in multiprocessing.get_all_start_methods():
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            for i, v in enumerate(pool.imap(_decide, work), 1):
                out.append(v)
                if progress is not None:
                    progress(i, len(work))
    else:
        for i, w in enumerate(work, 1):
            out.append(_decide(w))
            if progress is not None:
                progress(i, len(work))
    return out


def selection(which: str) -> list[Variant]:
    """``catalogue``, ``mutants`` (of every good variant), or ``all``."""
    cat = catalogue()
    chosen: list[Variant] = []
    if which in ("catalogue", "all"):
        chosen.extend(cat.values())
    if which in ("mutants", "all"):
        chosen.extend(m.variant for v in cat.values() if not v.expect for m in mutants(v))
    return chosen
