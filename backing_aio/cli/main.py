"""The command line: ``backing-aio`` (also ``python -m checks``).

Exit codes: 0 every verdict is as expected; 1 a check found a problem (a property fails
that should hold, a known bug is no longer found, a counterexample still replays); 2 bad
input or usage, with a one-line message naming the problem.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from backing_aio.cli.exits import run as run_command
from backing_aio.cli.outputs import file_stem, inside, output_dir
from backing_aio.cli.progress import Progress
from backing_aio.cli.usage import OneLineParser, UsageError
from backing_aio.cli.userfile import UserFileError, load_variants
from backing_aio.model.catalogue import catalogue
from backing_aio.model.lang import Variant, VariantError
from backing_aio.model.properties import BY_ID, PROPERTIES, PROPERTY_IDS, SUBJECTS
from backing_aio.model.semantics import REQUEST_TYPES
from backing_aio.verify import gate as gatemod
from backing_aio.verify.explorer import REDUCTIONS, Counterexample, Result, StateLimit, explore
from backing_aio.verify.trace import (
    BreaksAnother,
    ReplayError,
    TraceMismatch,
    check_replay,
    concretise,
    explain_rows,
    explain_text,
    fits,
    load,
    save,
)

EXIT_OK, EXIT_FOUND, EXIT_USAGE = 0, 1, 2
# The explorer keeps about 1 KiB per state (the state, its index entry, its parent and
# successor lists): two million states fit in about 2 GiB.
MAX_STATES = 2_000_000


def fmt(command: str) -> str:
    """The ``format`` of a command's JSON output: its name and the shape's version (the
    shapes are documented in docs/json.md and checked against docs/schemas/)."""
    return f"backing-aio-{command}/1"




def _z3_options(p: argparse.ArgumentParser, unknown: str) -> None:
    p.add_argument("--rlimit", type=int, default=None, metavar="N",
                   help="z3's resource limit per query, a count of its steps that does not "
                   f"depend on load (default: a fixed count with a wide margin; an answer "
                   f"of unknown {unknown})")
    p.add_argument("--timeout", type=int, default=None, metavar="MS",
                   help="also a wall-clock limit per query, in milliseconds (default: none)")


def _parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="backing-aio", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)

    ls = sub.add_parser("list", help="list the built-in catalogue and the properties")
    ls.add_argument("--json", action="store_true")

    ck = sub.add_parser("check", help="check variants: built-in names, FILE.py, FILE.py:NAME")
    ck.add_argument("variants", nargs="+", metavar="VARIANT")
    ck.add_argument("--requests", "-n", type=int, default=2, metavar="N",
                    help="concurrent requests (every mix of types; default 2)")
    ck.add_argument("--types", metavar="T,T",
                    help=f"exact request types ({', '.join(REQUEST_TYPES)})")
    ck.add_argument("--reduction", choices=REDUCTIONS, default="auto")
    ck.add_argument("--max-states", type=int, default=MAX_STATES,
                    help=f"stop with exit 2 beyond this many states (default {MAX_STATES:,}: "
                    "about 2 GiB)")
    ck.add_argument("--save", type=Path, metavar="DIR",
                    help="write each counterexample to DIR as JSON (replay with 'replay')")
    ck.add_argument("--json", action="store_true")

    ex = sub.add_parser("explain", help="explain a variant's shortest counterexample step by step")
    ex.add_argument("variant", metavar="VARIANT")
    ex.add_argument("--property", "-p", required=True, metavar="ID")
    ex.add_argument("--subject", help="which object (when several break the property)")
    ex.add_argument("--requests", "-n", type=int, default=1, metavar="N")
    ex.add_argument("--json", action="store_true")

    rp = sub.add_parser("replay", help="replay a saved counterexample")
    rp.add_argument("file", type=Path)
    rp.add_argument("--variant-file", type=Path, metavar="FILE.py",
                    help="where the variant is defined (default: as saved, else the catalogue)")
    rp.add_argument("--json", action="store_true")

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
    _z3_options(pv, "is never a proof")
    pv.add_argument("--json", action="store_true")

    gt = sub.add_parser("gate", help="the catalogue against its verdicts (N = 1..3) and mutants")
    gt.add_argument("--max-requests", type=int, default=3, metavar="N")
    gt.add_argument("--no-mutants", action="store_true")
    gt.add_argument("--no-proofs", action="store_true",
                    help="skip bounded model checking and the unbounded z3 proofs")
    _z3_options(gt, "fails the gate")
    gt.add_argument("--json", action="store_true")
    return p


# ---- resolving variants ----------------------------------------------------------------

def resolve(spec: str) -> list[tuple[Variant, str]]:
    """A built-in name, FILE.py (all its variants) or FILE.py:NAME -> (variant, source)."""
    path_part, _, name = spec.partition(".py:")
    if spec.endswith(".py") or name:
        path = Path(spec if spec.endswith(".py") else path_part + ".py")
        found = load_variants(path)
        if name:
            if name not in found:
                raise UsageError(f"{path} defines no variant {name!r} "
                                 f"(it defines: {', '.join(found)})")
            return [(found[name], str(path))]
        return [(v, str(path)) for v in found.values()]
    cat = catalogue()
    if spec not in cat:
        raise UsageError(f"unknown variant {spec!r} (built-in: {', '.join(cat)}; "
                         "or give FILE.py)")
    return [(cat[spec], "")]


def _requests(n: int) -> int:
    if not 1 <= n <= 8:
        raise UsageError(f"--requests must be between 1 and 8, got {n}")
    return n


def _z3_limits(args: argparse.Namespace) -> None:
    """``--rlimit`` and ``--timeout``, when given, are positive and fit z3's parameters."""
    for option, value, unit in (("--rlimit", args.rlimit, "count"),
                                ("--timeout", args.timeout, "number of milliseconds")):
        if value is None:
            continue
        from backing_aio.verify.symbolic import LIMIT_TOP  # imports z3: only when a limit is given

        if not 1 <= value <= LIMIT_TOP:
            raise UsageError(f"{option} must be a positive {unit} up to {LIMIT_TOP}, "
                             f"got {value}")


def _types(text: str | None, n: int) -> list[str] | None:
    if text is None:
        return None
    types = [t.strip() for t in text.split(",") if t.strip()]
    if not types:
        raise UsageError(f"--types names no request type (known: {', '.join(REQUEST_TYPES)})")
    for t in types:
        if t not in REQUEST_TYPES:
            raise UsageError(f"unknown request type {t!r} (known: {', '.join(REQUEST_TYPES)})")
    if len(types) != n:
        raise UsageError(f"--types names {len(types)} request(s) but --requests is {n}")
    return types


# ---- commands ----------------------------------------------------------------------------

def cmd_list(args: argparse.Namespace) -> int:
    cat = catalogue()
    if args.json:
        print(json.dumps({
            "format": fmt("list"),
            "variants": [{"name": v.name, "summary": v.summary, "origin": v.origin,
                          "expect": sorted(v.expect, key=PROPERTY_IDS.index)}
                         for v in cat.values()],
            "properties": [{"id": p.id, "text": p.text} for p in PROPERTIES],
            "request_types": list(REQUEST_TYPES),
        }, indent=2))
        return EXIT_OK
    width = max(len(n) for n in cat)
    for v in cat.values():
        expect = "holds" if not v.expect else "fails " + ",".join(sorted(v.expect))
        print(f"{v.name:<{width}}  expected: {expect:<12}  {v.summary}")
    print()
    for p in PROPERTIES:
        print(f"{p.id:<20} {p.text}")
    return EXIT_OK


def _cx_json(variant: Variant, cx: Counterexample, source: str) -> dict[str, Any]:
    trace = concretise(variant, cx, source)
    return {**trace.as_json(), "explanation": explain_rows(variant, trace)}


def _result_json(r: Result, v: Variant, source: str,
                 saved: dict[tuple[str, str], str] | None = None) -> dict[str, Any]:
    return {
        "variant": v.name,
        "source": source,
        "requests": r.requests,
        "expected": sorted(v.expect, key=PROPERTY_IDS.index),
        "failed": sorted(r.failed, key=PROPERTY_IDS.index),
        "as_expected": r.failed == v.expect,
        "states": r.states,
        "transitions": r.transitions,
        "seconds": round(r.seconds, 4),
        "reduction": r.reduction,
        "counterexamples": [{**_cx_json(v, cx, source), "saved": (saved or {}).get(key)}
                            for key, cx in r.violations.items()],
    }


def cmd_check(args: argparse.Namespace) -> int:
    n = _requests(args.requests)
    types = _types(args.types, n)
    if args.max_states < 1:
        raise UsageError(f"--max-states must be at least 1, got {args.max_states}")
    targets = [t for spec in args.variants for t in resolve(spec)]
    if args.save is not None:
        output_dir(args.save, "--save")  # before the search: a bad directory is bad input
    status = EXIT_OK
    out: list[dict[str, Any]] = []
    progress = Progress()
    for v, source in targets:
        try:
            r = explore(v, n, kinds=types, reduction=args.reduction, max_states=args.max_states,
                        progress=progress.states if progress.enabled else None)
        except StateLimit as e:
            raise UsageError(f"{v.name}: {e}; use fewer --requests or a larger --max-states")\
                from None
        finally:
            progress.clear()
        as_expected = r.failed == v.expect
        if not as_expected:
            status = EXIT_FOUND
        saved: dict[tuple[str, str], str] = {}
        if args.save is not None:
            for (prop, subject), cx in r.violations.items():
                stem = file_stem(f"{v.name}-{prop}" + (f"-{subject}" if subject else ""))
                path = inside(args.save, f"{stem}.json")
                save(concretise(v, cx, source), path)
                saved[(prop, subject)] = str(path)
        if args.json:
            out.append(_result_json(r, v, source, saved))
            continue
        expect = "holds" if not v.expect else "fails " + ",".join(sorted(v.expect))
        mark = "ok" if as_expected else "UNEXPECTED"
        print(f"{v.name}: {r.verdict()} (expected {expect}) [{mark}]  N={n}, "
              f"{r.states} states, {r.seconds:.3f}s, reduction {r.reduction}")
        for (prop, subject), cx in r.violations.items():
            what = f"{prop}" + (f" ({subject})" if subject else "")
            print(f"  {what}: {cx.message}  [{len(cx.actions)} steps]")
            if prop not in v.expect:
                print(_indent(explain_text(v, concretise(v, cx, source))))
    if args.json:
        print(json.dumps({"format": fmt("check"), "ok": status == EXIT_OK, "results": out},
                         indent=2))
    return status


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def cmd_explain(args: argparse.Namespace) -> int:
    if args.property not in BY_ID:
        raise UsageError(f"unknown property {args.property!r} (known: {', '.join(PROPERTY_IDS)})")
    if args.subject is not None and args.subject not in SUBJECTS:
        raise UsageError(f"unknown subject {args.subject!r} (known: {', '.join(SUBJECTS)})")
    n = _requests(args.requests)
    targets = resolve(args.variant)
    if len(targets) != 1:
        raise UsageError(f"{args.variant} defines several variants: name one with FILE.py:NAME")
    v, source = targets[0]
    progress = Progress()
    try:
        r = explore(v, n, progress=progress.states if progress.enabled else None)
    finally:
        progress.clear()
    found = {k: c for k, c in r.violations.items() if k[0] == args.property
             and (args.subject is None or k[1] == args.subject)}
    if not found:
        about = f" for subject {args.subject!r}" if args.subject else ""
        if args.json:
            print(json.dumps({"format": fmt("explain"), "variant": v.name,
                              "property": args.property, "subject": args.subject,
                              "requests": n, "holds": True, "counterexample": None}, indent=2))
        else:
            print(f"{v.name} meets {args.property}{about} with {n} request(s)")
        return EXIT_OK
    cx = min(found.values(), key=lambda c: len(c.actions))
    trace = concretise(v, cx, source)
    if args.json:
        print(json.dumps({"format": fmt("explain"), "variant": v.name,
                          "property": args.property, "subject": cx.subject, "requests": n,
                          "holds": False, "counterexample": _cx_json(v, cx, source)},
                         indent=2))
    else:
        print(explain_text(v, trace))
    return EXIT_FOUND


def cmd_replay(args: argparse.Namespace) -> int:
    trace = load(args.file)  # a malformed file is bad input (TraceMismatch)
    source = args.variant_file or (Path(trace.source) if trace.source else None)
    if source is not None:
        v, _ = resolve(f"{source}:{trace.variant}")[0]
    else:
        v, _ = resolve(trace.variant)[0]
    fits(v, trace)  # a trace that does not fit its variant is bad input, never a fix
    doc: dict[str, Any] = {"format": fmt("replay"), "file": str(args.file),
                           "variant": v.name, "property": trace.prop}
    try:
        violation = check_replay(v, trace)
    except TraceMismatch:
        raise
    except BreaksAnother as e:
        # not the recorded property, but the steps still break one: a finding
        violation = e.violation
        doc.update(reproduces=False, breaks=violation.prop, subject=violation.subject,
                   message=violation.message, why=str(e),
                   explanation=explain_rows(v, trace))
        print(json.dumps(doc, indent=2) if args.json
              else f"{args.file}: {e}: {violation.message}")
        return EXIT_FOUND
    except ReplayError as e:
        doc.update(reproduces=False, breaks=None, subject=None, message=None, why=str(e),
                   explanation=None)
        print(json.dumps(doc, indent=2) if args.json
              else f"{args.file}: no longer reproduces: {e}")
        return EXIT_OK
    doc.update(reproduces=True, breaks=violation.prop, subject=violation.subject,
               message=violation.message, why=None, explanation=explain_rows(v, trace))
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(f"{args.file}: reproduces {violation.prop}: {violation.message}")
        print(explain_text(v, trace))
    return EXIT_FOUND


def cmd_prove(args: argparse.Namespace) -> int:
    # z3 is slow to import: only here
    from backing_aio.verify.bmc import bmc
    from backing_aio.verify.prove import candidate, invariant_text, prove
    from backing_aio.verify.symbolic import RLIMIT, build

    targets = resolve(args.variant)
    if len(targets) != 1:
        raise UsageError(f"{args.variant} defines several variants: name one with FILE.py:NAME")
    v, source = targets[0]
    if args.save is not None and not args.bmc:
        raise UsageError("--save needs --bmc (it saves bounded model checking's "
                         "counterexamples)")
    _z3_limits(args)
    rlimit: int = RLIMIT if args.rlimit is None else args.rlimit
    timeout: int | None = args.timeout
    types = [t.strip() for t in args.types.split(",") if t.strip()]
    if not types:
        raise UsageError(f"--types names no request type (known: {', '.join(REQUEST_TYPES)})")
    for t in types:
        if t not in REQUEST_TYPES:
            raise UsageError(f"unknown request type {t!r} (known: {', '.join(REQUEST_TYPES)})")
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


def cmd_gate(args: argparse.Namespace) -> int:
    n = args.max_requests
    if not 1 <= n <= 4:
        raise UsageError(f"--max-requests must be between 1 and 4, got {n}")
    _z3_limits(args)
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
        progress=None if args.json else gatemod.terminal_progress(),
    )
    ok = all(r.ok for r in rows)
    if report is not None:
        ok = ok and not report.unexplained and not stale
    z3rows = [] if args.no_proofs else gatemod.check_z3(
        catalogue().values(), timeout_ms=args.timeout, rlimit=args.rlimit,
        progress=None if args.json else gatemod.terminal_progress("z3, variants decided"))
    ok = ok and all(z.ok for z in z3rows)
    seconds += sum(z.seconds for z in z3rows) / max(1, os.cpu_count() or 1)
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
        doc["z3"] = [{"variant": z.variant, "expected": sorted(z.expected),
                      "bmc_failed": sorted(z.bmc_failed),
                      "proof_failed": sorted(z.proof_failed),
                      "holds_for_all_n": z.all_n, "problems": list(z.problems),
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
                    print(_indent(explain_text(v, concretise(v, cx))))
    if z3rows:
        print()
        print(f"{'variant':<10} {'expected':<12} {'z3 (bmc and proof, every request type)':<40}"
              f" {'seconds':>8}")
        for z in z3rows:
            mark = "" if z.ok else "   <-- MISMATCH"
            expected = "fails " + ",".join(sorted(z.expected)) if z.expected else "holds"
            print(f"{z.variant:<10} {expected:<12} {z.verdict():<40} {z.seconds:>8.1f}{mark}")
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
    print(f"gate: {'ok' if ok else 'FAILED'} in {seconds:.1f}s")
    return EXIT_OK if ok else EXIT_FOUND


def _command(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.command is None:
        raise UsageError("a command is needed: list, check, explain, replay, prove or gate")
    handler = {"list": cmd_list, "check": cmd_check, "explain": cmd_explain,
               "replay": cmd_replay, "prove": cmd_prove, "gate": cmd_gate}[args.command]
    return handler(args)


def main(argv: Sequence[str] | None = None) -> int:
    """The exit-code policy of backing_aio.cli.exits: 0, 1 a finding, 2 bad input (one line), 3 an
    internal error, 130 interrupted; never a traceback."""
    return run_command("backing-aio", lambda: _command(argv), argv,
                       bad_input=(UserFileError, VariantError, ReplayError))


if __name__ == "__main__":
    sys.exit(main())
