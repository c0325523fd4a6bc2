"""``backing-aio list``, ``check`` and ``explain``: the catalogue, the explorer's verdicts
on variants, and one counterexample step by step."""

from __future__ import annotations

import argparse
import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

from backing_aio.cli.exits import EXIT_FOUND, EXIT_OK
from backing_aio.cli.options import (
    MAX_REQUESTS,
    MAX_STATES,
    c_input_options,
    fmt,
    indent,
    request_types,
    requests,
    resolve_any,
    served,
)
from backing_aio.cli.progress import Progress
from backing_aio.errors import UsageError
from backing_aio.model.catalogue import catalogue
from backing_aio.model.lang import Variant
from backing_aio.model.properties import (
    BY_ID,
    PROPERTIES,
    PROPERTY_IDS,
    SUBJECTS,
    not_applicable,
    verdict_text,
)
from backing_aio.model.semantics import REQUEST_TYPES
from backing_aio.model.variants import resolve_one
from backing_aio.outputs import file_stem, inside, output_dir, output_path, write_text
from backing_aio.present.sarif import Finding, finding, sarif
from backing_aio.verify.compose import Composition, compose
from backing_aio.verify.explorer import REDUCTIONS, Counterexample, Result, StateLimit, explore
from backing_aio.verify.trace import concretise, explain_rows, explain_text, save


def register(sub: Any) -> None:
    ls = sub.add_parser("list", help="list the built-in catalogue and the properties")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=cmd_list)

    ck = sub.add_parser("check", help="check variants: built-in names, FILE.py, FILE.py:NAME, "
                        "or C: FILE.c, a kernel tree, a patch")
    ck.add_argument("variants", nargs="+", metavar="VARIANT")
    c_input_options(ck)
    ck.add_argument("--requests", "-n", type=int, default=2, metavar="N",
                    help=f"concurrent requests, 1..{MAX_REQUESTS} (every mix of types; "
                    "default 2)")
    ck.add_argument("--types", metavar="T,T",
                    help=f"exact request types ({', '.join(REQUEST_TYPES)})")
    ck.add_argument("--reduction", choices=REDUCTIONS, default="auto",
                    help="partial-order reduction (default auto; 'none' explores every "
                    "interleaving and gives shortest counterexamples at its cost)")
    ck.add_argument("--first", action="store_true",
                    help="stop at the first finding (bug hunting: the verdict names that one)")
    ck.add_argument("--max-states", type=int, default=MAX_STATES,
                    help=f"stop with exit 2 beyond this many states (default {MAX_STATES:,}: "
                    "about 2 GiB)")
    ck.add_argument("--save", type=Path, metavar="DIR",
                    help="write each counterexample to DIR as JSON (replay with 'replay')")
    ck.add_argument("--json", action="store_true")
    ck.add_argument("--sarif", type=Path, metavar="FILE",
                    help="also write every finding as SARIF 2.1.0 (the breaking step as its "
                    "location, the counterexample as a code flow per actor)")
    ck.set_defaults(handler=cmd_check)

    ex = sub.add_parser("explain", help="explain a variant's shortest counterexample step by step")
    ex.add_argument("variant", metavar="VARIANT")
    ex.add_argument("--property", "-p", required=True, metavar="ID")
    ex.add_argument("--subject", help="which object (when several break the property)")
    ex.add_argument("--requests", "-n", type=int, default=1, metavar="N")
    ex.add_argument("--json", action="store_true")
    ex.set_defaults(handler=cmd_explain)


def _types(text: str | None, n: int) -> list[str] | None:
    if text is None:
        return None
    types = request_types(text)
    if len(types) != n:
        raise UsageError(f"--types names {len(types)} request(s) but --requests is {n}")
    return types


def cmd_list(args: argparse.Namespace) -> int:
    cat = catalogue()
    if args.json:
        print(json.dumps({
            "format": fmt("list"),
            "variants": [{"name": v.name, "summary": v.summary, "origin": v.origin,
                          "expect": sorted(v.expect, key=PROPERTY_IDS.index),
                          "shape": v.shape, "kinds": list(v.kinds),
                          "not_applicable": sorted(not_applicable(v),
                                                   key=PROPERTY_IDS.index)}
                         for v in cat.values()],
            "properties": [{"id": p.id, "text": p.text} for p in PROPERTIES],
            "request_types": list(REQUEST_TYPES),
        }, indent=2))
        return EXIT_OK
    width = max(len(n) for n in cat)
    for v in cat.values():
        expect = verdict_text(v.expect)
        print(f"{v.name:<{width}}  expected: {expect:<12}  {v.summary}")
    print()
    for p in PROPERTIES:
        print(f"{p.id:<20} {p.text}")
    return EXIT_OK


def _cx_json(variant: Variant, cx: Counterexample, source: str) -> dict[str, Any]:
    trace = concretise(variant, cx, source)
    return {**trace.as_json(), "explanation": explain_rows(variant, trace)}


def _any_n_json(c: Composition | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {"composed": c.composed, "failed": sorted(c.failed, key=PROPERTY_IDS.index),
            "reason": c.reason, "states": c.states, "seconds": round(c.seconds, 4)}


def _as_expected(r: Result, v: Variant) -> bool:
    if r.stopped:  # one finding: it must be an expected one
        return r.failed <= v.expect
    return r.failed == v.expect


def _result_json(r: Result, v: Variant, source: str, any_n: Composition | None,
                 saved: dict[tuple[str, str], str] | None = None) -> dict[str, Any]:
    return {
        "variant": v.name,
        "source": source,
        "requests": r.requests,
        "expected": sorted(v.expect, key=PROPERTY_IDS.index),
        "failed": sorted(r.failed, key=PROPERTY_IDS.index),
        "as_expected": _as_expected(r, v),
        "stopped_at_first": r.stopped,
        "any_n": _any_n_json(any_n),
        "states": r.states,
        "transitions": r.transitions,
        "seconds": round(r.seconds, 4),
        "reduction": r.reduction,
        "counterexamples": [{**_cx_json(v, cx, source), "saved": (saved or {}).get(key),
                             "shortest": cx.shortest}
                            for key, cx in r.violations.items()],
    }


def cmd_check(args: argparse.Namespace) -> int:
    n = requests(args.requests)
    types = _types(args.types, n)
    if args.max_states < 1:
        raise UsageError(f"--max-states must be at least 1, got {args.max_states}")
    targets = [t for spec in args.variants for t in resolve_any(spec, args)]
    if args.save is not None:
        output_dir(args.save, "--save")  # before the search: a bad directory is bad input
    if args.sarif is not None:
        output_path(args.sarif, "--sarif")
    status = EXIT_OK
    out: list[dict[str, Any]] = []
    findings: list[Finding] = []
    progress = Progress()
    for v, source in targets:
        if types is not None:
            served(v, types)
        try:
            r = explore(v, n, kinds=types, reduction=args.reduction, max_states=args.max_states,
                        progress=progress.states if progress.enabled else None,
                        first=args.first)
        except StateLimit as e:
            raise UsageError(f"{v.name}: {e}; use fewer --requests or a larger --max-states")\
                from None
        finally:
            progress.clear()
        # every N at once, for every mix of types (so not for --types, nor a bug hunt)
        any_n = None if types is not None or args.first else compose(v)
        as_expected = _as_expected(r, v) and (
            any_n is None or not any_n.composed or any_n.failed == v.expect)
        if not as_expected:
            status = EXIT_FOUND
        saved: dict[tuple[str, str], str] = {}
        if args.save is not None:
            for (prop, subject), cx in r.violations.items():
                stem = file_stem(f"{v.name}-{prop}" + (f"-{subject}" if subject else ""))
                path = inside(args.save, f"{stem}.json")
                save(concretise(v, cx, source), path)
                saved[(prop, subject)] = str(path)
        if args.sarif is not None:  # explaining every run costs: only when asked
            findings += [finding(v, key, r, source, key[0] in v.expect)
                         for key in r.violations]
        if args.json:
            out.append(_result_json(r, v, source, any_n, saved))
            continue
        expect = verdict_text(v.expect)
        mark = "ok" if as_expected else "UNEXPECTED"
        first = ", stopped at the first finding" if r.stopped else ""
        print(f"{v.name}: {r.verdict()} (expected {expect}) [{mark}]  N={n}, "
              f"{r.states} states, {r.seconds:.3f}s, reduction {r.reduction}{first}")
        if any_n is not None:
            print(f"  {any_n.text()}")
        for (prop, subject), cx in r.violations.items():
            what = f"{prop}" + (f" ({subject})" if subject else "")
            print(f"  {what}: {cx.message}  [{len(cx.actions)} steps, {cx.what}]")
            if prop not in v.expect:
                print(indent(explain_text(v, concretise(v, cx, source))))
    if args.sarif is not None:
        write_text(args.sarif, json.dumps(sarif(findings, version("backing-aio")), indent=2))
    if args.json:
        print(json.dumps({"format": fmt("check"), "ok": status == EXIT_OK, "results": out},
                         indent=2))
    return status


def cmd_explain(args: argparse.Namespace) -> int:
    if args.property not in BY_ID:
        raise UsageError(f"unknown property {args.property!r} (known: {', '.join(PROPERTY_IDS)})")
    if args.subject is not None and args.subject not in SUBJECTS:
        raise UsageError(f"unknown subject {args.subject!r} (known: {', '.join(SUBJECTS)})")
    n = requests(args.requests)
    v, source = resolve_one(args.variant)
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

