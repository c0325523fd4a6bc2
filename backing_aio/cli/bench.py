"""``backing-aio bench``: the explorer's figures for variants at N = 1..8 and their
composed any-N verdicts, each run in a fresh interpreter, beside a baseline revision's
(``make bench`` writes bench/explorer.txt and bench/proofs.txt)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from backing_aio.cli.exits import EXIT_OK
from backing_aio.cli.options import MAX_REQUESTS
from backing_aio.errors import UsageError
from backing_aio.model.variants import resolve_one
from backing_aio.outputs import output_path


def register(sub: Any) -> None:
    ap = sub.add_parser("bench", help="the explorer's benchmark (states, time, memory at "
                        "N = 1..8)", description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("bench/explorer.txt"))
    ap.add_argument("--variant", action="append", metavar="VARIANT",
                    help="built-in name, mutant name, FILE.py:NAME; repeatable (default "
                    "seed and mainline)")
    ap.add_argument("--max-requests", type=int, default=8, metavar="N",
                    help="measure N = 1..N (default 8)")
    ap.add_argument("--baseline", metavar="REV",
                    help="also run the same searches on this git revision's code")
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

    chosen = args.variant or ["seed", "mainline"]
    for spec in chosen:
        resolve_one(spec)  # as each measured child will: bad input before the runs
    if not 1 <= args.max_requests <= MAX_REQUESTS:
        raise UsageError(f"--max-requests must be 1..{MAX_REQUESTS}, got {args.max_requests}")
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
    try:
        run(chosen, args.max_requests, args.repeat, args.out, args.proofs, args.baseline)
    except ValueError as e:  # the baseline revision
        raise UsageError(str(e)) from None
    return EXIT_OK
