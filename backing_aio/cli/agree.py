"""``backing-aio agree catalogue|mutants|all``: the explorer (N = 1..3), bounded z3, the
unbounded z3 proof and hypothesis must give the same verdicts (``make agree``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from backing_aio.cli.outputs import output_path
from backing_aio.cli.usage import UsageError


def register(sub: Any) -> None:
    ap = sub.add_parser("agree", help="explorer, bounded z3, unbounded z3 and hypothesis "
                        "must agree", description=(
                            "Explorer (N = 1..3), bounded z3 and unbounded z3 must give the "
                            "same verdict."))
    ap.add_argument("which", nargs="?", default="catalogue",
                    choices=("catalogue", "mutants", "all"))
    ap.add_argument("--limit", type=int, default=None, help="only the first N variants")
    ap.add_argument("--every", type=int, default=1,
                    help="only every K-th variant (a deterministic sample)")
    ap.add_argument("--pure", action="store_true",
                    help="search mutants without the proved invariant as lemmas (slower)")
    ap.add_argument("--out", type=Path, default=None, help="also write the lines to this file")
    ap.set_defaults(handler=cmd_agree)


def cmd_agree(args: argparse.Namespace) -> int:
    if args.every < 1:
        raise UsageError(f"--every must be at least 1, got {args.every}")
    if args.limit is not None and args.limit < 1:
        raise UsageError(f"--limit must be at least 1, got {args.limit}")
    if args.out:
        output_path(args.out)  # before the hour of work, not after it
    from backing_aio.verify.agree import run  # imports z3: after the arguments are checked

    return run(args.which, args.limit, args.every, args.pure, args.out)
