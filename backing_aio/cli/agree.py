"""``backing-aio agree catalogue|mutants|all``: the explorer (N = 1..3), bounded z3, the
unbounded z3 proof and hypothesis must give the same verdicts (``make agree``)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from backing_aio.cli.progress import counter
from backing_aio.errors import UsageError
from backing_aio.outputs import output_path, write_text


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
    ap.add_argument("--only", action="append", default=[], metavar="PREFIX",
                    help="only the variants whose name starts with PREFIX (repeatable; "
                    "fuse-6.12 is that entry and its mutants)")
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
    return _run(args.which, args.limit, args.every, args.pure, args.out, tuple(args.only))


def _run(which: str, limit: int | None, every: int, pure: bool, out: Path | None,
         only: tuple[str, ...] = ()) -> int:
    """Decide ``selection(which)`` (those named ``only*``)``[::every][:limit]`` every way,
    print one line per variant (and write them to ``out``): 0 every verdict agrees, 1 one
    does not."""
    # imports z3: only once the arguments are checked
    from backing_aio.verify.agree import decide_all, selection

    chosen = [v for v in selection(which) if not only or v.name.startswith(only)]
    if not chosen:
        raise UsageError(f"--only {' '.join(only)}: no variant of {which} is named so")
    variants = chosen[::every][:limit]
    started = time.perf_counter()
    results = decide_all(variants, progress=counter("variants decided"),
                         lemmas=not pure)
    lines = [r.line() for r in results]
    for r in results:
        lines.extend(f"     {p}" for p in r.problems)
    bad = [r for r in results if not r.ok]
    failing = [r for r in results if r.explorer_failed]
    missed = [r.variant for r in results if r.hypothesis_missed]
    lines.append(f"{len(results)} variants, {len(bad)} disagreements, "
                 f"{time.perf_counter() - started:.0f} s")
    lines.append(f"hypothesis (random, derandomized) found a broken property in "
                 f"{len(failing) - len(missed)} of the {len(failing)} variants the explorer "
                 f"fails" + (f"; missed: {', '.join(missed)}" if missed else ""))
    print("\n".join(lines))
    if out is not None:
        write_text(out, "\n".join(lines) + "\n")
    return 1 if bad else 0
