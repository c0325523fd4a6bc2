"""``backing-aio prove``: unbounded z3 proofs of a variant, for one request and for any N,
and (``--bmc``) bounded model checking."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from backing_aio.cli.exits import EXIT_FOUND, EXIT_OK
from backing_aio.cli.options import fmt, request_types, served, z3_limits, z3_options
from backing_aio.cli.progress import Progress
from backing_aio.errors import UsageError
from backing_aio.model.semantics import REQUEST_TYPES
from backing_aio.model.variants import resolve_one
from backing_aio.outputs import file_stem, inside, output_dir
from backing_aio.verify.trace import save
from backing_aio.verify.verdict import Verdict, combine, of_proof


def register(sub: Any) -> None:
    pv = sub.add_parser("prove", help="unbounded z3 proofs for one request and for any N")
    pv.add_argument("variant", metavar="VARIANT")
    pv.add_argument("--types", metavar="T,T", default=None,
                    help=f"request types to prove ({', '.join(REQUEST_TYPES)}; default: "
                    "every type the variant serves)")
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
    types = list(v.kinds) if args.types is None else request_types(args.types)
    served(v, types)
    if args.save is not None:
        output_dir(args.save, "--save")  # before the proofs: a bad directory is bad input
    results: list[dict[str, Any]] = []
    verdicts: list[Verdict] = []
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
        verdicts.append(of_proof(proof, found))
        results.append({
            "type": t, "verdict": verdicts[-1].as_json(),
            "proved": proof.proved, "holds_for_all_n": proof.proved_all_n,
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
    # the verdict of the proofs against the variant's expected one: each request type
    # decided, the failing properties those expected, the others proved for all N
    whole = combine(verdicts)
    ok = whole.decided and frozenset(whole.failed) == v.expect and all(
        p.holds_for_all_n or p.failed for p in verdicts)
    if args.json:
        print(json.dumps({"format": fmt("prove"), "variant": v.name, "ok": ok,
                          "results": results}, indent=2))
        return EXIT_OK if ok else EXIT_FOUND
    for r, verdict in zip(results, verdicts, strict=True):
        print(f"{v.name} {r['type']}: {verdict.text()}  ({r['queries']} z3 queries over "
              f"{r['rules']} rules at {r['locations']} locations, {r['extract_seconds']} s "
              f"+ {r['seconds']} s)")
        if r["bmc"]:
            b = r["bmc"]
            found_text = "; ".join(
                f"{p} in {c['steps']} steps" + (f" ({c['subject']})" if c["subject"] else "")
                + ", replayed in the model"
                for p, c in b["counterexamples"].items()) or (
                "UNDECIDED" if b["unknown"] or b["replay_errors"] else "no counterexample")
            print(f"    bmc (every run: bound {b['bound']}): {found_text}  ({b['seconds']} s)")
        for line in r["invariant"]:
            print(f"    {line}")
        for why in verdict.reasons[:5]:  # why undecided, or why not for all N
            print(f"    !! {why}")
    print(f"prove: {'ok' if ok else 'FAILED'} (expected "
          f"{'holds' if not v.expect else 'fails ' + ','.join(sorted(v.expect))})")
    return EXIT_OK if ok else EXIT_FOUND
