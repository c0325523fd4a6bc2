"""``backing-aio bench``: the explorer's figures for a variant at N = 1..4, each run in a
fresh interpreter (``make bench`` writes bench/explorer.txt and bench/proofs.txt)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from backing_aio.cli.exits import EXIT_OK
from backing_aio.errors import UsageError
from backing_aio.model.variants import resolve_one
from backing_aio.outputs import output_path


def register(sub: Any) -> None:
    ap = sub.add_parser("bench", help="the explorer's benchmark (states, time, memory at "
                        "N = 1..4)", description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("bench/explorer.txt"))
    ap.add_argument("--variant", default="seed", metavar="VARIANT",
                    help="built-in name, mutant name, FILE.py:NAME (default seed)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--proofs", type=Path, metavar="FILE",
                    help="also time the z3 proofs of every catalogue entry into FILE")
    ap.add_argument("--c", action="append", default=[], metavar="C",
                    help="also time lifting and checking this C (a file, a tree, a patch); "
                    "repeatable")
    ap.add_argument("--c-out", type=Path, default=Path("bench/lift.txt"), metavar="FILE")
    ap.set_defaults(handler=cmd_bench)


def cmd_bench(args: argparse.Namespace) -> int:
    from backing_aio.verify.bench import run

    resolve_one(args.variant)  # as each measured child will: bad input before the runs
    if args.repeat < 1:
        raise UsageError(f"--repeat must be at least 1, got {args.repeat}")
    output_path(args.out)
    if args.proofs is not None:
        output_path(args.proofs)
    if args.c:
        from backing_aio.cfront.bench import run as run_lift
        from backing_aio.cfront.inputs import variants

        for spec in args.c:
            variants(spec)  # bad input before the runs
        output_path(args.c_out)
        run_lift(args.c, args.repeat, args.c_out)
    run(args.variant, args.repeat, args.out, args.proofs)
    return EXIT_OK
