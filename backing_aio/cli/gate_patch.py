"""``backing-aio gate-patch --tree DIR PATCH``: the refactor gate for a patch to the
helpers' C. The functions are lifted before and after the patch; the patched code is
checked (the explorer at N = 1..3, bounded and unbounded z3, C mutants of the functions the
patch changes) and its contract with the callers compared with the code before it.

Exit 0: every property holds and the contract is unchanged; 1: a property breaks, or the
contract changes (unless ``--accept-contract-change``); 2: bad input."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from backing_aio.cfront.cmutants import REASONS, Score, score
from backing_aio.cfront.inputs import Options, Tree, TreeVariant, lift_tree, patched_tree
from backing_aio.cfront.parse import CError, CFile, flat
from backing_aio.cli.exits import EXIT_FOUND, EXIT_OK
from backing_aio.cli.options import MAX_REQUESTS, fmt, requests
from backing_aio.cli.progress import Progress
from backing_aio.model.lang import Variant
from backing_aio.model.properties import verdict_text
from backing_aio.outputs import output_path, write_text
from backing_aio.present import junit
from backing_aio.present.sarif import Finding, distinct, finding, sarif
from backing_aio.verify.contract import Difference, contract, diff, summary
from backing_aio.verify.explorer import smallest_failure


def register(sub: Any) -> None:
    gp = sub.add_parser("gate-patch", help="the refactor gate: a patch to the helpers' C "
                        "checked, and its contract compared with the code before it",
                        description=__doc__.split("\n\n")[0] if __doc__ else None)
    gp.add_argument("patch", metavar="PATCH", type=Path,
                    help="a unified diff or git format-patch output")
    gp.add_argument("--tree", type=Path, required=True, metavar="DIR",
                    help="the kernel tree the patch applies to")
    gp.add_argument("--max-requests", type=int, default=3, metavar="N",
                    help=f"explore N = 1..N requests, 1..{MAX_REQUESTS} (default 3)")
    gp.add_argument("--no-proofs", action="store_true", help="skip z3 (BMC and the proof)")
    gp.add_argument("--no-mutants", action="store_true",
                    help="skip the C mutants of the changed functions")
    gp.add_argument("--accept-contract-change", action="store_true",
                    help="a changed contract is reported, not a failure")
    gp.add_argument("--sarif", type=Path, metavar="FILE",
                    help="write the patched code's findings as SARIF 2.1.0")
    gp.add_argument("--junit", type=Path, metavar="FILE", help="write the checks as JUnit XML")
    gp.add_argument("--json", action="store_true")
    gp.set_defaults(handler=cmd_gate_patch)


@dataclass(frozen=True)
class _Pair:
    """One variant of the tree the patch changes: lifted before it (None: not lifted
    then) and after it; ``mutate`` the changed file it was lifted from, before and after,
    whose changed functions get C mutants and whose variant z3 proves (None: the variant
    only reads a changed file, as a caller reads the helpers)."""

    before: TreeVariant | None
    after: TreeVariant
    mutate: tuple[CFile, CFile] | None


def _pairs(patch: Path, tree: Path) -> tuple[list[_Pair], list[str]]:
    """Each variant of ``tree`` that reads a file the patch changes, before and after it,
    all named by their paths in the tree (so every location is relative to it); and the
    variants lifted before the patch that are not after it."""
    opts = Options(tree=tree)
    after_tree, after = patched_tree(patch, opts)
    before_tree = Tree(tree, relative=True)
    try:
        before = {t.variant.name: t for t in lift_tree(before_tree, opts)}
    except CError:
        before = {}  # the patch makes the tree liftable: each variant is new
    touched = set(after_tree.patched)
    pairs = []
    for t in after:
        old = before.get(t.variant.name)
        mutate = None
        if t.path in touched and before_tree.has(t.path):
            mutate = (before_tree.read(t.path), after_tree.read(t.path))
        pairs.append(_Pair(old, t, mutate))
    names = {t.variant.name for t in after}
    gone = [n for n, t in before.items() if t.files & touched and n not in names]
    return pairs, gone


def _changed(before: CFile, after: CFile) -> list[str]:
    """The functions whose text the patch changes (or adds)."""
    return [n for n, fn in after.functions.items()
            if n not in before.functions or flat(fn.node) != flat(before.functions[n].node)]


class _Report:
    """What the gate found for one variant, for the text, JSON, SARIF and JUnit outputs."""

    def __init__(self, name: str, path: str) -> None:
        self.name = name  # the variant's
        self.path = path  # the file it was lifted from
        self.new = False  # not lifted before the patch: its whole contract is new
        self.before: frozenset[str] = frozenset()
        self.after: frozenset[str] = frozenset()
        self.findings: list[Finding] = []
        self.z3: str | None = None
        self.z3_ok = True
        self.changed: list[str] = []
        self.mutants: Score | None = None
        self.differences: list[Difference] = []
        self.summaries: dict[str, list[str]] = {}
        self.seconds: dict[str, float] = {}


def _gate_one(pair: _Pair, args: argparse.Namespace, n: int,
              progress: Progress) -> _Report:
    v_after = pair.after.variant
    rep = _Report(v_after.name, pair.after.path)
    t = time.perf_counter()
    progress.update(f"{rep.name}: exploring N = 1..{n}")
    if pair.before is not None:
        rep.before = smallest_failure(pair.before.variant, n)[0]
    rep.after, result = smallest_failure(v_after, n)
    if result is not None:
        rep.findings = [finding(v_after, key, result, rep.path) for key in result.violations]
    rep.seconds["explorer"] = time.perf_counter() - t
    t = time.perf_counter()
    progress.update(f"{rep.name}: comparing the contracts")
    a = contract(pair.before.variant) if pair.before is not None else {}
    b = contract(v_after)
    rep.new = pair.before is None
    rep.differences = diff(a, b)
    rep.summaries = {d.group.text(): summary(a.get(d.group, frozenset()),
                                             b.get(d.group, frozenset()))
                     for d in rep.differences}
    rep.seconds["contract"] = time.perf_counter() - t
    # z3 proves the variant lifted from the changed file: a caller's variant that only
    # reads the changed helpers gets the explorer and the contract (its proof takes
    # minutes, the helpers' seconds)
    if not args.no_proofs and pair.mutate is not None:
        from backing_aio.verify.gate import check_z3

        t = time.perf_counter()
        progress.update(f"{rep.name}: z3 (bounded model checking and the proof)")
        [z] = check_z3([v_after])
        rep.z3, rep.z3_ok = z.verdict.text(), z.ok
        rep.seconds["z3"] = time.perf_counter() - t
    if pair.mutate is not None:
        before, after = pair.mutate
        rep.changed = _changed(before, after)
    if not args.no_mutants and pair.mutate is not None and rep.changed:
        t = time.perf_counter()
        progress.update(f"{rep.name}: C mutants of {', '.join(rep.changed)}")

        def failed(v: Variant, known: frozenset[str]) -> frozenset[str]:
            return smallest_failure(v, n)[0] - known

        rep.mutants = score(pair.mutate[1], pair.after.lift, failed, functions=rep.changed)
        rep.seconds["c_mutants"] = time.perf_counter() - t
    return rep


def _ok(rep: _Report, accept: bool) -> bool:
    return not rep.after and rep.z3_ok and (accept or not (rep.differences or rep.new))


def _print(rep: _Report, accept: bool) -> None:
    state = verdict_text(rep.after) + (
        " (as before the patch)" if rep.after and rep.after <= rep.before else "")
    print(f"{rep.name} ({rep.path}): after the patch: {state}"
          + (f"; before: {verdict_text(rep.before)}" if rep.before else ""))
    for f in rep.findings:
        loc = f.steps[-1]
        print(f"  {f.trace.prop}: {loc.violation.message if loc.violation else ''}")
    if rep.z3 is not None:
        print(f"  z3: {rep.z3}")
    if rep.mutants is not None:
        m = rep.mutants
        print(f"  C mutants of the changed functions ({', '.join(rep.changed)}): {m.total}, "
              f"{len(m.killed)} killed, {len(m.equivalent)} equivalent as reviewed, "
              f"{len(m.not_lifted)} not lifted, {len(m.unexplained)} survive unreviewed "
              f"(score {m.score:.0%})")
    if rep.new:
        print("  not lifted before the patch: its contract is new"
              + (" (accepted)" if accept else ""))
    elif not rep.differences:
        print("  contract unchanged")
    else:
        print(f"  contract changed in {len(rep.differences)} way(s) a request ends"
              + (" (accepted)" if accept else ""))
        for group, lines in rep.summaries.items():
            print(f"    {group}:")
            for line in lines:
                print(f"      {line}")


def _json(rep: _Report) -> dict[str, Any]:
    m = rep.mutants
    return {
        "variant": rep.name, "file": rep.path, "new": rep.new,
        "before": sorted(rep.before), "after": sorted(rep.after),
        "z3": rep.z3, "z3_ok": rep.z3_ok, "changed_functions": rep.changed,
        "c_mutants": None if m is None else {
            "total": m.total, "killed": len(m.killed), "not_lifted": len(m.not_lifted),
            "survivors": m.unexplained, "score": round(m.score, 4)},
        "contract_same": not rep.differences,
        "contract_changes": rep.summaries,
        "seconds": {k: round(v, 3) for k, v in rep.seconds.items()},
    }


def _cases(rep: _Report) -> list[junit.Case]:
    suite = rep.name
    out = [junit.Case(suite, "properties", rep.seconds.get("explorer", 0.0),
                      failure=f"fails {verdict_text(rep.after)}" if rep.after else None),
           junit.Case(suite, "contract", rep.seconds.get("contract", 0.0),
                      failure="\n".join(f"{g}: {'; '.join(lines)}"
                                        for g, lines in rep.summaries.items()) or None)]
    if rep.z3 is not None:
        out.append(junit.Case(suite, "z3", rep.seconds.get("z3", 0.0),
                              failure=None if rep.z3_ok else rep.z3))
    if rep.mutants is not None:
        m = rep.mutants
        out += [junit.Case(suite, name, detail=f"killed by {', '.join(sorted(p))}")
                for name, p in m.killed.items()]
        out += [junit.Case(suite, name, skipped=f"not lifted: {why}")
                for name, why in m.not_lifted.items()]
        out += [junit.Case(suite, name, skipped=f"equivalent: {REASONS.get(why, why)}")
                for name, why in m.equivalent.items()]
        out += [junit.Case(suite, name, skipped="survives: the properties do not pin "
                           "this statement down") for name in m.unexplained]
    return out


def cmd_gate_patch(args: argparse.Namespace) -> int:
    n = requests(args.max_requests, "--max-requests")
    for out, what in ((args.sarif, "--sarif"), (args.junit, "--junit")):
        if out is not None:
            output_path(out, what)  # before the work, not after it
    progress = Progress()  # on a terminal only: quiet in CI and in pipes
    try:
        pairs, gone = _pairs(args.patch, args.tree)
        reports = [_gate_one(pair, args, n, progress) for pair in pairs]
    finally:
        progress.clear()
    # a variant the patch makes unliftable is a changed contract too
    ok = all(_ok(r, args.accept_contract_change) for r in reports) and (
        args.accept_contract_change or not gone)
    if args.sarif is not None:
        # the helpers' bug shows in each variant around them: one result per place
        findings = distinct(f for r in reports for f in r.findings)
        write_text(args.sarif, json.dumps(sarif(findings, version("backing-aio")), indent=2))
    if args.junit is not None:
        write_text(args.junit, junit.render([c for r in reports for c in _cases(r)],
                                            name="backing-aio gate-patch"))
    if args.json:
        print(json.dumps({"format": fmt("gate-patch", 2), "ok": ok,
                          "variants": [_json(r) for r in reports],
                          "no_longer_lifted": gone}, indent=2))
    else:
        for r in reports:
            _print(r, args.accept_contract_change)
        for name in gone:
            print(f"{name}: lifted before the patch, not after it: its contract is gone")
        print(f"gate-patch: {'ok' if ok else 'FAILED'}")
    return EXIT_OK if ok else EXIT_FOUND
