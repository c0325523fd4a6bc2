"""``backing-aio replay``: a saved counterexample against its variant, as it is today."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from backing_aio.cli.exits import EXIT_FOUND, EXIT_OK
from backing_aio.cli.options import fmt
from backing_aio.model.variants import resolve
from backing_aio.verify.trace import (
    BreaksAnother,
    ReplayError,
    TraceMismatch,
    check_replay,
    explain_rows,
    explain_text,
    fits,
    load,
)


def register(sub: Any) -> None:
    rp = sub.add_parser("replay", help="replay a saved counterexample")
    rp.add_argument("file", type=Path)
    rp.add_argument("--variant-file", type=Path, metavar="FILE.py",
                    help="where the variant is defined (default: as saved, else the catalogue)")
    rp.add_argument("--json", action="store_true")
    rp.set_defaults(handler=cmd_replay)


def cmd_replay(args: argparse.Namespace) -> int:
    trace = load(args.file)  # a malformed file is bad input (TraceMismatch)
    source = args.variant_file or (Path(trace.source) if trace.source else None)
    if source is not None:
        v, _ = resolve(f"{source}:{trace.variant}")[0]
    else:
        v, _ = resolve(trace.variant)[0]
    fits(v, trace)  # a trace that does not fit its variant is bad input, never a fix
    doc: dict[str, Any] = {"format": fmt("replay"), "file": str(args.file),
                           "variant": v.name, "property": trace.prop}
    try:
        violation = check_replay(v, trace)
    except TraceMismatch:
        raise
    except BreaksAnother as e:
        # not the recorded property, but the steps still break one: a finding
        violation = e.violation
        doc.update(reproduces=False, breaks=violation.prop, subject=violation.subject,
                   message=violation.message, why=str(e),
                   explanation=explain_rows(v, trace))
        print(json.dumps(doc, indent=2) if args.json
              else f"{args.file}: {e}: {violation.message}")
        return EXIT_FOUND
    except ReplayError as e:
        doc.update(reproduces=False, breaks=None, subject=None, message=None, why=str(e),
                   explanation=None)
        print(json.dumps(doc, indent=2) if args.json
              else f"{args.file}: no longer reproduces: {e}")
        return EXIT_OK
    doc.update(reproduces=True, breaks=violation.prop, subject=violation.subject,
               message=violation.message, why=None, explanation=explain_rows(v, trace))
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(f"{args.file}: reproduces {violation.prop}: {violation.message}")
        print(explain_text(v, trace))
    return EXIT_FOUND
