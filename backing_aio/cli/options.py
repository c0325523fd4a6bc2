"""What several commands' options share: the request-count limit, request types, z3's
limits, and the ``format`` of JSON outputs."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from backing_aio.errors import UsageError
from backing_aio.model.lang import Variant
from backing_aio.model.semantics import REQUEST_TYPES

# The largest number of concurrent requests any command explores (check, explain, the
# gate, the report, a swimlane). The reduction keeps N = 8 within a few hundred thousand
# states for the catalogue; --max-states guards the rest.
MAX_REQUESTS: Final = 8

# The explorer keeps about 1 KiB per state (the state, its index entry, its parent and
# successor lists): two million states fit in about 2 GiB.
MAX_STATES: Final = 2_000_000


def fmt(command: str, shape: int = 1) -> str:
    """The ``format`` of a command's JSON output: its name and the shape's version (the
    shapes are documented in docs/json.md and checked against docs/schemas/)."""
    return f"backing-aio-{command}/{shape}"


def requests(n: int, option: str = "--requests") -> int:
    """A request count within 1..MAX_REQUESTS, or bad input naming the option."""
    if not 1 <= n <= MAX_REQUESTS:
        raise UsageError(f"{option} must be between 1 and {MAX_REQUESTS}, got {n}")
    return n


def request_types(text: str) -> list[str]:
    """A comma-separated list of request types, each one known."""
    types = [t.strip() for t in text.split(",") if t.strip()]
    if not types:
        raise UsageError(f"--types names no request type (known: {', '.join(REQUEST_TYPES)})")
    for t in types:
        if t not in REQUEST_TYPES:
            raise UsageError(f"unknown request type {t!r} (known: {', '.join(REQUEST_TYPES)})")
    return types


def served(v: Variant, types: Sequence[str]) -> None:
    """Every type in ``types`` is one the variant serves (a read-only user serves reads)."""
    for t in types:
        if t not in v.kinds:
            raise UsageError(f"{v.name} serves no {t} requests (it serves "
                             f"{', '.join(v.kinds)})")


def z3_options(p: argparse.ArgumentParser, unknown: str) -> None:
    p.add_argument("--rlimit", type=int, default=None, metavar="N",
                   help="z3's resource limit per query, a count of its steps that does not "
                   f"depend on load (default: a fixed count with a wide margin; an answer "
                   f"of unknown {unknown})")
    p.add_argument("--timeout", type=int, default=None, metavar="MS",
                   help="also a wall-clock limit per query, in milliseconds (default: none)")


def z3_limits(args: argparse.Namespace) -> None:
    """``--rlimit`` and ``--timeout``, when given, are positive and fit z3's parameters."""
    for option, value, unit in (("--rlimit", args.rlimit, "count"),
                                ("--timeout", args.timeout, "number of milliseconds")):
        if value is None:
            continue
        from backing_aio.verify.symbolic import LIMIT_TOP  # imports z3: only when a limit is given

        if not 1 <= value <= LIMIT_TOP:
            raise UsageError(f"{option} must be a positive {unit} up to {LIMIT_TOP}, "
                             f"got {value}")


def indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def c_input_options(p: argparse.ArgumentParser) -> None:
    """How a C file, a kernel tree or a patch becomes a variant (backing_aio.cfront)."""
    p.add_argument("--tree", type=Path, metavar="DIR",
                   help="the kernel tree a patch applies to (a file the patch creates "
                   "needs none)")
    p.add_argument("--callback", action="append", default=[], metavar="NAME=FUNCTION",
                   help="what the caller passes for the helpers' callback NAME (default: "
                   "what the caller's table entry says)")
    p.add_argument("--like", metavar="VARIANT",
                   help="the catalogue variant whose caller, kernel and contract go around "
                   "the lifted helpers (default: mainline for helpers taking a "
                   "backing_file_ctx, else seed)")
    p.add_argument("--strict", action="store_true",
                   help="refuse a call the kernel-API table does not know even when it is "
                   "handed no lifecycle object (by default it is listed as assumed "
                   "without effect)")


def resolve_any(spec: str, args: argparse.Namespace) -> list[tuple[Variant, str]]:
    """A variant spec (built-in name, mutant, FILE.py[:NAME]) or C input (FILE.c, a kernel
    tree, a patch), as (variant, source) pairs."""
    from backing_aio.cfront.inputs import Options, is_c_input, variants
    from backing_aio.model.variants import resolve

    if not is_c_input(spec):
        return resolve(spec)
    return variants(spec, Options(getattr(args, "tree", None),
                                  callbacks(getattr(args, "callback", []) or []),
                                  getattr(args, "like", None),
                                  getattr(args, "strict", False)))


def callbacks(items: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """``--callback NAME=FUNCTION`` options as pairs."""
    pairs = []
    for item in items:
        name, eq, fn = item.partition("=")
        if not eq or not name or not fn:
            raise UsageError(f"--callback {item!r}: NAME=FUNCTION expected")
        pairs.append((name, fn))
    return tuple(pairs)
