"""``backing-aio diff OLD NEW``: what changes in the contract with the callers, derived
from the explored state graphs (``verify/contract.py``), not from the text."""

from __future__ import annotations

import argparse
import json
from typing import Any

from backing_aio.cli.exits import EXIT_FOUND, EXIT_OK
from backing_aio.cli.options import c_input_options, fmt, resolve_any
from backing_aio.errors import UsageError
from backing_aio.model.lang import Variant
from backing_aio.verify.contract import (
    Contract,
    Difference,
    behaviour_text,
    contract,
    diff,
    summary,
)


def register(sub: Any) -> None:
    df = sub.add_parser("diff", help="what changes in the contract with the callers "
                        "between two variants, C files or trees", description=(
                            "Per request type and way it ends (queued, not queued, sync, "
                            "an early error, an allocation failure): the behaviours a caller "
                            "may observe, from one request's explored runs. Exit 0: the "
                            "same contract; 1: it differs."))
    df.add_argument("old", metavar="OLD")
    df.add_argument("new", metavar="NEW")
    c_input_options(df)
    df.add_argument("--verbose", "-v", action="store_true",
                    help="also every behaviour only one side has, actor by actor")
    df.add_argument("--json", action="store_true")
    df.set_defaults(handler=cmd_diff)


def _pairs(args: argparse.Namespace) -> list[tuple[Variant | None, Variant | None]]:
    """The variants to compare: one each, or (for trees) those of the same name."""
    old = [v for v, _ in resolve_any(args.old, args)]
    new = [v for v, _ in resolve_any(args.new, args)]
    if len(old) == 1 and len(new) == 1:
        return [(old[0], new[0])]
    by_old, by_new = {v.name: v for v in old}, {v.name: v for v in new}
    names = list(dict.fromkeys([*by_old, *by_new]))
    if not set(by_old) & set(by_new):
        raise UsageError(f"{args.old} and {args.new} give {len(old)} and {len(new)} "
                         "variants, none of the same name: compare them one by one")
    return [(by_old.get(n), by_new.get(n)) for n in names]


def _summary(d: Difference, a: Contract, b: Contract) -> list[str]:
    return summary(a.get(d.group, frozenset()), b.get(d.group, frozenset()))


def _json_diff(d: Difference, a: Contract, b: Contract) -> dict[str, Any]:
    return {"type": d.group.rtype, "outcome": d.group.outcome,
            "summary": _summary(d, a, b),
            "removed": sorted(behaviour_text(x) for x in d.removed),
            "added": sorted(behaviour_text(x) for x in d.added)}


def cmd_diff(args: argparse.Namespace) -> int:
    pairs = _pairs(args)
    changed = False
    doc: list[dict[str, Any]] = []
    for old, new in pairs:
        if old is None or new is None:
            changed = True
            there = old or new
            assert there is not None
            side = "NEW" if old is None else "OLD"
            doc.append({"old": old.name if old else None, "new": new.name if new else None,
                        "same": False, "differences": []})
            if not args.json:
                print(f"{there.name}: only in {side}")
            continue
        a, b = contract(old), contract(new)
        found = diff(a, b)
        changed = changed or bool(found)
        doc.append({"old": old.name, "new": new.name, "same": not found,
                    "groups": len(set(a) | set(b)),
                    "differences": [_json_diff(d, a, b) for d in found]})
        if args.json:
            continue
        title = old.name if old.name == new.name else f"{old.name} -> {new.name}"
        if not found:
            print(f"{title}: contract unchanged ({len(set(a) | set(b))} ways a request ends)")
            continue
        print(f"{title}: the contract differs in {len(found)} of {len(set(a) | set(b))} "
              "ways a request ends")
        for d in found:
            print(f"  {d.group.text()}:")
            for line in _summary(d, a, b):
                print(f"    {line}")
            if not args.verbose:
                continue
            for beh in sorted(d.removed):
                print(f"    - {behaviour_text(beh)}")
            for beh in sorted(d.added):
                print(f"    + {behaviour_text(beh)}")
    if args.json:
        print(json.dumps({"format": fmt("diff"), "same": not changed, "pairs": doc}, indent=2))
    return EXIT_FOUND if changed else EXIT_OK
