"""``backing-aio diagrams all|lifecycle|swimlane|compare``: the pictures of
``backing_aio.present.diagrams`` written as DOT, SVG and PNG (``make diagrams`` runs
``all``). Exit 2 without Graphviz's ``dot``, in one line saying how to install it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Final

from backing_aio.cli.exits import EXIT_OK
from backing_aio.cli.options import MAX_REQUESTS, requests
from backing_aio.cli.usage import OneLineParser
from backing_aio.errors import UsageError
from backing_aio.model.lang import Variant
from backing_aio.model.properties import PROPERTY_IDS, SUBJECTS
from backing_aio.model.variants import resolve_one
from backing_aio.outputs import file_stem, output_dir
from backing_aio.present.diagrams import (
    KIND_TYPES,
    catalogue_graphs,
    compare_graph,
    lifecycle,
    lifecycle_graph,
    require_dot,
    swimlane_graph,
    swimlane_stem,
    write_graphs,
)
from backing_aio.verify.explorer import explore
from backing_aio.verify.trace import concretise

JSON_FORMAT: Final = "backing-aio-diagrams/1"


def register(sub: Any) -> None:
    dg = sub.add_parser("diagrams", help="lifecycle, comparison and counterexample pictures "
                        "(Graphviz)", description=__doc__.splitlines()[0])
    dg.set_defaults(handler=cmd_diagrams)
    pics = dg.add_subparsers(dest="picture", metavar="PICTURE", parser_class=OneLineParser)
    al = pics.add_parser("all", help="every catalogue picture (what make diagrams runs)")
    al.add_argument("--out", type=Path, default=Path("diagrams"), metavar="DIR")
    al.add_argument("--no-png", action="store_true", help="DOT and SVG only")
    lc = pics.add_parser("lifecycle", help="the lifecycle of one request of a variant")
    lc.add_argument("variant", metavar="VARIANT", help="built-in name, FILE.py or FILE.py:NAME")
    lc.add_argument("--kind", choices=list(KIND_TYPES), default="read")
    sw = pics.add_parser("swimlane", help="a variant's shortest counterexample as swimlanes")
    sw.add_argument("variant", metavar="VARIANT")
    sw.add_argument("--property", "-p", required=True, metavar="ID")
    sw.add_argument("--subject", help="which object (when several break the property)")
    sw.add_argument("--requests", "-n", type=int, default=1, metavar="N",
                    help=f"concurrent requests, 1..{MAX_REQUESTS} (default 1)")
    cp = pics.add_parser("compare", help="two variants' lifecycles side by side")
    cp.add_argument("first", metavar="VARIANT")
    cp.add_argument("second", metavar="VARIANT")
    cp.add_argument("--kind", choices=list(KIND_TYPES), default="read")
    for one in (lc, sw, cp):
        # not diagrams/: that holds exactly what `all` makes, and `all` prunes the rest
        one.add_argument("--out", type=Path, default=Path("out/diagrams"), metavar="DIR")
        one.add_argument("--png", action="store_true", help="a PNG as well")
    for one in (al, lc, sw, cp):
        one.add_argument("--json", action="store_true",
                         help=f"the files written, as JSON ({JSON_FORMAT})")


def _variant(spec: str) -> Variant:
    return resolve_one(spec)[0]


def _swimlane(args: argparse.Namespace) -> tuple[str, Any]:
    if args.property not in PROPERTY_IDS:
        raise UsageError(f"unknown property {args.property!r} "
                         f"(known: {', '.join(PROPERTY_IDS)})")
    if args.subject is not None and args.subject not in SUBJECTS:
        raise UsageError(f"unknown subject {args.subject!r} (known: {', '.join(SUBJECTS)})")
    requests(args.requests)
    v = _variant(args.variant)
    result = explore(v, args.requests)
    found = {k: c for k, c in result.violations.items() if k[0] == args.property
             and (args.subject is None or k[1] == args.subject)}
    if not found:
        raise UsageError(f"nothing to draw: {v.name} meets {args.property} with "
                         f"{args.requests} request(s)")
    key = min(found, key=lambda k: (len(found[k].actions), k))
    trace = concretise(v, found[key])
    return swimlane_stem(trace), swimlane_graph(v, trace)


def cmd_diagrams(args: argparse.Namespace) -> int:
    if args.picture is None:
        raise UsageError("a command is needed: all, lifecycle, swimlane or compare")
    require_dot()
    output_dir(args.out)  # before the work: a bad --out is bad input, not a lost run
    graphs: list[tuple[str, Any, bool]]
    if args.picture == "all":
        graphs = catalogue_graphs()
        written, changed = write_graphs(graphs, args.out, png=not args.no_png, prune=True)
        if args.json:
            print(json.dumps({"format": JSON_FORMAT, "ok": True,
                              "files": [str(p) for p in written],
                              "changed": [str(p) for p in changed]}, indent=2))
        else:
            print(f"diagrams: {len(written)} files in {args.out}/, {len(changed)} changed")
        return EXIT_OK
    if args.picture == "lifecycle":
        v = _variant(args.variant)
        graphs = [(f"lifecycle-{file_stem(v.name)}-{args.kind}",
                   lifecycle_graph(lifecycle(v, args.kind), v), True)]
    elif args.picture == "compare":
        a, b = _variant(args.first), _variant(args.second)
        graphs = [(f"compare-{file_stem(a.name)}-vs-{file_stem(b.name)}-{args.kind}",
                   compare_graph(lifecycle(a, args.kind), lifecycle(b, args.kind)), True)]
    else:
        stem, graph = _swimlane(args)
        graphs = [(stem, graph, True)]
    written, changed = write_graphs(graphs, args.out, png=args.png)
    if args.json:
        print(json.dumps({"format": JSON_FORMAT, "ok": True,
                          "files": [str(p) for p in written],
                          "changed": [str(p) for p in changed]}, indent=2))
    else:
        for path in written:
            print(path)
    return EXIT_OK
