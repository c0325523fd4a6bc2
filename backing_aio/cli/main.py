"""The command line: ``backing-aio COMMAND``, one command for everything the project runs.

Also ``python -m backing_aio``. The commands: the explorer (list, check, explain, replay),
z3 (prove), the gate, the pictures and the report, the agreement of the engines, the
benchmarks, the reference implementation's conformance and the running kernel's
cross-check; each lives in its own module of backing_aio.cli.

Exit codes: 0 every verdict is as expected; 1 a check found a problem (a property fails
that should hold, a known bug is no longer found, a counterexample still replays); 2 bad
input or usage, with one line ``backing-aio: error: ...`` naming the problem.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Final

from backing_aio.cli import (
    agree,
    bench,
    check,
    conform,
    diagrams,
    diff,
    gate,
    gate_patch,
    kernel,
    lift,
    prove,
    replay,
    report,
)
from backing_aio.cli.exits import run as run_command
from backing_aio.cli.usage import OneLineParser
from backing_aio.errors import UsageError
from backing_aio.kernelcheck.errors import Unavailable
from backing_aio.model.lang import VariantError
from backing_aio.model.userfile import UserFileError
from backing_aio.verify.trace import ReplayError

PROG: Final = "backing-aio"

# In the order ``--help`` lists them; each module adds its own subcommand(s).
GROUPS = (check, lift, diff, replay, prove, gate, gate_patch, diagrams, report, agree, bench,
          conform, kernel)


def _parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog=PROG, description=(
        "A checked model of the Linux kernel's backing-file async IO request lifecycle: "
        "one command for everything (exit 0 as expected, 1 a finding, 2 bad input)."))
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    for group in GROUPS:
        group.register(sub)
    return p


def commands() -> list[str]:
    """Every subcommand's name, in the order ``--help`` lists them."""
    actions = [a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return [name for a in actions for name in a.choices]


def _command(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.command is None:
        raise UsageError(f"a command is needed: {', '.join(commands())}")
    code: int = args.handler(args)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """The exit-code policy of backing_aio.cli.exits: 0, 1 a finding, 2 bad input (one line), 3 an
    internal error, 130 interrupted; never a traceback."""
    return run_command(PROG, lambda: _command(argv), argv,
                       bad_input=(UserFileError, VariantError, ReplayError, Unavailable))
