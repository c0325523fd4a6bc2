"""``backing-aio lift``: the helpers' C (a file, a kernel tree, a patch) as a Python variant
file in the statement language, and what became of each C statement."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from backing_aio.cfront.emit import variant_file
from backing_aio.cfront.inputs import Options, assemble, lift_file, like_of, sources
from backing_aio.cli.exits import EXIT_OK
from backing_aio.cli.options import c_input_options, callbacks, fmt
from backing_aio.errors import UsageError
from backing_aio.outputs import output_file, write_text


def register(sub: Any) -> None:
    lf = sub.add_parser("lift", help="the helpers' C (FILE.c, a kernel tree, a patch) as a "
                        "variant file in the statement language")
    lf.add_argument("input", metavar="C", help="FILE.c, a kernel tree, or a patch")
    c_input_options(lf)
    lf.add_argument("--out", "-o", type=Path, metavar="FILE.py",
                    help="write the variant file here instead of printing it")
    lf.add_argument("--accounts", action="store_true",
                    help="list what became of every C statement (lifted, no effect, "
                    "folded, assumed) instead of the file")
    lf.add_argument("--json", action="store_true")
    lf.set_defaults(handler=cmd_lift)


def cmd_lift(args: argparse.Namespace) -> int:
    opts = Options(args.tree, callbacks(args.callback), args.like, args.strict)
    files = sources(args.input, opts)
    if len(files) != 1:
        raise UsageError(f"{args.input}: holds {len(files)} helper files "
                         f"({', '.join(c.path for c in files)}): lift one of them")
    c = files[0]
    like = like_of(c, opts)
    lifted = lift_file(c, opts, like)
    v = assemble(lifted, like)
    if args.json:
        print(json.dumps({
            "format": fmt("lift"), "source": c.path, "like": like.name,
            "procedures": {n: len(b) for n, b in lifted.procs.items()},
            "accounts": [{"where": a.where, "c": a.c, "how": a.how, "op": a.op}
                         for a in lifted.accounts],
        }, indent=2))
        return EXIT_OK
    if args.accounts:
        for a in lifted.accounts:
            print(f"{a.where}: {a.how}{f' ({a.op})' if a.op else ''}: {a.c}")
        return EXIT_OK
    text = variant_file(v, c.path)
    if args.out is not None:
        write_text(output_file(args.out, "--out"), text)
    else:
        print(text, end="")
    return EXIT_OK
