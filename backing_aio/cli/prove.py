"""``backing-aio prove``: unbounded z3 proofs of a variant, for one request and for any N,
and (``--bmc``) bounded model checking."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from backing_aio.cli.exits import EXIT_FOUND, EXIT_OK
from backing_aio.cli.options import fmt, request_types, z3_limits, z3_options
from backing_aio.cli.outputs import file_stem, inside, output_dir
from backing_aio.cli.progress import Progress
from backing_aio.cli.usage import UsageError
from backing_aio.cli.variants import resolve_one
from backing_aio.model.semantics import REQUEST_TYPES
from backing_aio.verify.trace import save


def register(sub: Any) -> None:
    pv = sub.add_parser("prove", help="unbounded z3 proofs for one request and for any N")
    pv.add_argument("variant", metavar="VARIANT")
    pv.add_argument("--types", metavar="T,T", default=",".join(REQUEST_TYPES),
                    help=f"request types to prove ({', '.join(REQUEST_TYPES)})")
    pv.add_argument("--bmc", action="store_true",
                    help="also search with bounded model checking (each counterexample is "
                    "replayed in the model)")
    pv.add_argument("--generic", action="store_true",
                    help="derive the rules for every data value, not only on the candidate "
                    "invariant (slower; the same verdicts)")
    pv.add_argument("--save", metavar="DIR", type=Path, default=None,
                    help="with --bmc: save each counterexample as DIR/VARIANT-TYPE-PROP.json "
                    "(for backing-aio replay)")
    z3_options(pv, "is never a proof")
    pv.add_argument("--json", action="store_true")
    pv.set_defaults(handler=cmd_prove)


def cmd_prove(args: argparse.Namespace) -> int:
    # z3 is slow to import: only here
    from backing_aio.verify.bmc import bmc
    from backing_aio.verify.prove import candidate, invariant_text, prove
    from backing_aio.verify.symbolic import RLIMIT, build

    v, source = resolve_one(args.variant)
    if args.save is not None and not args.bmc:
        raise UsageError("--save needs --bmc (it saves bounded model checking's "
                         "counterexamples)")
    z3_limits(args)
    rlimit: int = RLIMIT if args.rlimit is None else args.rlimit
    timeout: int | None = args.timeout
    types = request_types(args.types)
    if args.save is not None:
        output_dir(args.save, "--save")  # before the proofs: a bad directory is bad input
    results: list[dict[str, Any]] = []
    line = Progress()
    for i, t in enumerate(types):
        started = time.perf_counter()
        line.update(f"z3: {v.name} {t} ({i + 1}/{len(types)}): deriving the rules")
        within = None if args.generic else candidate(v, t)
        system = build(v, t, within, rlimit=rlimit, timeout_ms=timeout)
        extract = time.perf_counter() - started
        line.update(f"z3: {v.name} {t} ({i + 1}/{len(types)}): proving over "
                    f"{len(system.rules)} rules")
        proof = prove(v, t, system, rlimit=rlimit, timeout_ms=timeout)
        if args.bmc:
            line.update(f"z3: {v.name} {t} ({i + 1}/{len(types)}): bounded model checking")
        found = bmc(v, t, system, rlimit=rlimit, timeout_ms=timeout) if args.bmc else None
        saved: dict[str, str] = {}
        if found is not None and args.save is not None:
            for prop, finding in found.findings.items():
                path = inside(args.save, file_stem(f"{v.name}-{t}-{prop}") + ".json")
                save(finding.trace(v, t, source), path)
                saved[prop] = str(path)
        results.append({
            "type": t, "proved": proof.proved, "holds_for_all_n": proof.proved_all_n,
            "failed": sorted(proof.failed), "unknown": proof.unknown,
            "not_inductive": proof.not_inductive, "all_n_gaps": proof.all_n,
            "queries": proof.queries, "locations": proof.locations, "rules": proof.rules,
            "stuck": len(proof.stuck), "extract_seconds": round(extract, 2),
            "seconds": round(proof.seconds, 2),
            "invariant": invariant_text(proof, system, rlimit),
            "bmc": None if found is None else {
                "bound": found.bound, "failed": sorted(found.failed),
                "unknown": found.unknown, "replay_errors": found.replay_errors,
                "seconds": round(found.seconds, 2),
                "counterexamples": {p: {"subject": f.subject, "steps": f.length,
                                        "message": f.message, "replayed": True,
                                        "saved": saved.get(p)}
                                    for p, f in found.findings.items()}},
        })
    line.clear()
    # the verdict of the proofs against the variant's expected one
    failed = frozenset(p for r in results for p in r["failed"])
    undecided = any(r["unknown"] or r["not_inductive"] or (r["bmc"] and (
        r["bmc"]["unknown"] or r["bmc"]["replay_errors"])) for r in results)
    bmc_failed = frozenset(p for r in results if r["bmc"] for p in r["bmc"]["failed"])
    if args.bmc and bmc_failed != failed:
        undecided = True  # the two z3 answers disagree: nothing is proved
    ok = not undecided and failed == v.expect and all(
        r["holds_for_all_n"] or r["failed"] for r in results)
    if args.json:
        print(json.dumps({"format": fmt("prove"), "variant": v.name, "ok": ok,
                          "results": results}, indent=2))
        return EXIT_OK if ok else EXIT_FOUND
    for r in results:
        if r["unknown"] or r["not_inductive"]:
            verdict = "NOT DECIDED (z3 unknown or invariant not inductive): not proved"
        elif r["failed"]:
            verdict = "fails " + ",".join(r["failed"])
        else:
            verdict = "proved for one request" + (
                "; holds for all N" if r["holds_for_all_n"] else
                "; NOT proved for all N: " + "; ".join(r["all_n_gaps"][:2]))
        print(f"{v.name} {r['type']}: {verdict}  ({r['queries']} z3 queries over "
              f"{r['rules']} rules at {r['locations']} locations, {r['extract_seconds']} s "
              f"+ {r['seconds']} s)")
        if r["bmc"]:
            b = r["bmc"]
            found_text = "; ".join(
                f"{p} in {c['steps']} steps ({c['subject']}), replayed in the model"
                for p, c in b["counterexamples"].items()) or (
                "UNDECIDED" if b["unknown"] or b["replay_errors"] else "no counterexample")
            print(f"    bmc (every run: bound {b['bound']}): {found_text}  ({b['seconds']} s)")
            for line in (b["unknown"] + b["replay_errors"])[:5]:
                print(f"    !! bmc: {line}")
        for line in r["invariant"]:
            print(f"    {line}")
        for line in (r["unknown"] + r["not_inductive"])[:5]:
            print(f"    !! {line}")
    print(f"prove: {'ok' if ok else 'FAILED'} (expected "
          f"{'holds' if not v.expect else 'fails ' + ','.join(sorted(v.expect))})")
    return EXIT_OK if ok else EXIT_FOUND
