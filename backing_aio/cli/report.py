"""``backing-aio report``: one self-contained HTML page about the catalogue
(``backing_aio.present.report``): the gate's verdicts, the mutation score, the pictures,
the counterexamples and (``--proofs``) the z3 proofs.

Exit codes: 0 the page is written and every verdict is as expected; 1 the page is written
but the gate found a problem (it says which); 2 bad usage or no ``dot`` (one line).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Final

from backing_aio.cli.exits import EXIT_FOUND, EXIT_OK
from backing_aio.cli.options import MAX_REQUESTS, requests
from backing_aio.cli.progress import counter
from backing_aio.outputs import output_path, write_text
from backing_aio.present.diagrams import catalogue_pictures, require_dot
from backing_aio.present.report import gate_ok, page, run_proofs
from backing_aio.verify import gate as gatemod

JSON_FORMAT: Final = "backing-aio-report/1"


def register(sub: Any) -> None:
    p = sub.add_parser("report", help="one self-contained HTML page: verdicts, mutants, "
                       "pictures, counterexamples, proofs", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("out/report.html"), metavar="FILE")
    p.add_argument("--max-requests", type=int, default=3, metavar="N",
                   help=f"the gate's largest N, 1..{MAX_REQUESTS} (default 3)")
    p.add_argument("--no-mutants", action="store_true", help="leave out the mutation run")
    p.add_argument("--proofs", action="store_true",
                   help="run the z3 proofs of the catalogue (a few minutes) and include them")
    p.add_argument("--json", action="store_true",
                   help="the file written and the gate's verdict, as JSON")
    p.set_defaults(handler=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    requests(args.max_requests, "--max-requests")
    require_dot()  # before the long gate run, not after it
    output_path(args.out)
    rows, report, stale, seconds = gatemod.run_gate(
        args.max_requests, with_mutants=not args.no_mutants,
        progress=counter())
    proofs = run_proofs() if args.proofs else None
    text = page(rows, report, stale, seconds, catalogue_pictures(), proofs)
    write_text(args.out, text)
    ok = gate_ok(rows, report, stale) and all(
        r.verdict.decided for r in proofs or [])
    if args.json:
        print(json.dumps({"format": JSON_FORMAT, "ok": ok, "file": str(args.out),
                          "bytes": len(text.encode())}, indent=2))
    else:
        print(f"report: {args.out} ({len(text) // 1024} KiB); gate "
              + ("ok" if ok else "FAILED: see the verdict table"))
    return EXIT_OK if ok else EXIT_FOUND
