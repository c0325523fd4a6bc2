"""``backing-aio kernel table|programs|predict``: the model against the running kernel
(root, overlayfs, tracepoints; FUSE passthrough if available). ``make kernel`` runs
``table``; the machine's reasons for not running a check are bad input (exit 2, one line)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from backing_aio.cli.usage import OneLineParser
from backing_aio.errors import UsageError
from backing_aio.kernelcheck.runs import JSON_FORMAT, predict_cmd, programs, table

FILESYSTEMS = ("overlay", "fuse")
DRIVERS = ("io_uring", "aio")


def register(sub: Any) -> None:
    k = sub.add_parser("kernel", help="the model against the running kernel (root)",
                       description=__doc__.splitlines()[0])
    k.set_defaults(handler=cmd_kernel)
    jobs = k.add_subparsers(dest="job", metavar="JOB", parser_class=OneLineParser)
    t = jobs.add_parser("table", help="every mode, with exact counts, and the programs")
    t.add_argument("-n", type=int, default=100_000, help="IOs per mode")
    t.add_argument("--depth", type=int, default=32)
    t.add_argument("--out", type=Path)
    t.add_argument("--no-fuse", action="store_true")
    t.add_argument("--load", action="store_true",
                   help="busy loops on every CPU during the O_DIRECT modes")
    p = jobs.add_parser("programs", help="the edge-case program against the reference")
    p.add_argument("--fs", default=",".join(FILESYSTEMS))
    p.add_argument("--driver", default=",".join(DRIVERS))
    d = jobs.add_parser("predict", help="the outcomes the model allows one request")
    for one in (t, p, d):
        one.add_argument("--json", action="store_true", help=f"as JSON ({JSON_FORMAT})")


def _list(arg: str, known: Sequence[str], what: str) -> list[str]:
    items = [x for x in arg.split(",") if x]
    bad = [x for x in items if x not in known]
    if bad or not items:
        raise UsageError(f"unknown {what} {','.join(bad) or arg!r} (known: "
                         f"{', '.join(known)})")
    return items


def cmd_kernel(args: argparse.Namespace) -> int:
    if args.job == "table":
        if args.n < 1 or args.depth < 1:
            raise UsageError("-n and --depth must be at least 1")
        return table(args.n, args.depth, not args.no_fuse, args.load, args.out, args.json)
    if args.job == "programs":
        return programs(_list(args.fs, FILESYSTEMS, "filesystem"),
                        _list(args.driver, DRIVERS, "driver"), args.json)
    if args.job == "predict":
        return predict_cmd(args.json)
    raise UsageError("a command is needed: table, programs or predict")
