"""``backing-aio conform bench``: the reference implementation under real-IO stress, with
and without every step replayed on the model as it runs, and what the checking costs
(``make bench`` writes bench/refimpl.txt)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from backing_aio.cli.usage import OneLineParser
from backing_aio.errors import UsageError
from backing_aio.outputs import output_path

DEFAULT_VARIANTS = ("seed-fixed", "mainline")


def register(sub: Any) -> None:
    cf = sub.add_parser("conform", help="the reference implementation against the model "
                        "(bench: real-IO throughput, checked and unchecked)",
                        description=__doc__.splitlines()[0])
    cf.set_defaults(handler=cmd_conform)
    jobs = cf.add_subparsers(dest="job", metavar="JOB", parser_class=OneLineParser)
    b = jobs.add_parser("bench", help="real-IO stress throughput, checked and unchecked")
    b.add_argument("-n", type=int, default=20_000,
                   help="real asynchronous completions per run (at least)")
    b.add_argument("--variant", action="append", metavar="VARIANT",
                   help="a variant refimpl/ implements, repeatable (default: "
                   f"{' and '.join(DEFAULT_VARIANTS)})")
    # checked against refimpl's BACKENDS by the handler: refimpl is imported only to run
    b.add_argument("--backend", action="append", metavar="BACKEND",
                   help="where queued IO goes, repeatable: thread or uring (default: both)")
    b.add_argument("--tasks", type=int, default=8)
    b.add_argument("--seed", type=int, default=1)
    b.add_argument("--out", type=Path, help="also write the table to this file")


def cmd_conform(args: argparse.Namespace) -> int:
    if args.job is None:
        raise UsageError("a command is needed: bench")
    from backing_aio.crosscheck.bench import bench_table
    from backing_aio.model.variants import named
    from backing_aio.refimpl.kernel import BACKENDS
    from backing_aio.refimpl.run import implementation

    for backend in args.backend or []:
        if backend not in BACKENDS:
            raise UsageError(f"unknown --backend {backend!r} (known: {', '.join(BACKENDS)})")
    variants = args.variant or list(DEFAULT_VARIANTS)
    for v in variants:  # an unknown name is a usage error, before any IO
        try:
            implementation(v)
        except ValueError as e:
            raise UsageError(str(e)) from None
        named(v)
    if args.n < 1 or args.tasks < 1:
        raise UsageError("-n and --tasks must be at least 1")
    if args.out:
        output_path(args.out)
    return bench_table(variants, args.backend or list(BACKENDS), args.n, tasks=args.tasks,
                       seed=args.seed, out=args.out)
