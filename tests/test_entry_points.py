"""One command line: ``backing-aio --help`` (and ``python -m backing_aio``) names every
subcommand, and no module of the package outside backing_aio/cli/ is a command line of
its own (no ``if __name__ == "__main__"``, no argument parser), apart from the child
processes the package starts itself."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from backing_aio.cli.main import _parser, commands, main

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "backing_aio"

COMMANDS = ["list", "check", "explain", "lift", "diff", "replay", "prove", "gate", "gate-patch",
            "diagrams", "report", "agree", "bench", "conform", "kernel"]
# the subcommands of a command group, as `backing-aio GROUP --help` lists them
GROUPS = {"diagrams": ["all", "lifecycle", "swimlane", "compare"], "conform": ["bench"],
          "kernel": ["table", "programs", "predict"]}
# Child processes the package starts itself, not user commands: the FUSE server
# (backing_aio.kernelcheck.fuse, started by fuse_file) keeps its `python -m` entry point.
CHILD_ENTRY_POINTS = {"backing_aio/kernelcheck/fuse.py"}
PARSER_NAMES = {"ArgumentParser", "OneLineParser", "add_subparsers", "add_argument"}


def _help(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "backing_aio", *args, "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return done.stdout


def _listed(help_text: str) -> list[str]:
    """The subcommands a help text lists: the first word of each line under the
    positional arguments' heading that is indented by four spaces."""
    return [line.split()[0] for line in help_text.splitlines()
            if line.startswith("    ") and not line.startswith("     ")]


def test_help_names_every_subcommand() -> None:
    assert _listed(_help()) == COMMANDS
    assert commands() == COMMANDS


@pytest.mark.parametrize("group", list(GROUPS))
def test_a_group_names_its_subcommands(group: str) -> None:
    assert _listed(_help(group)) == GROUPS[group]


def test_the_console_script_is_the_same_main() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert 'backing-aio = "backing_aio.cli.main:main"' in text
    assert (PACKAGE / "__main__.py").read_text().count("from backing_aio.cli.main import main")


def test_every_subcommand_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for name in COMMANDS:
        assert main([name, "--help"]) == 0, name
        assert capsys.readouterr().out.startswith(f"usage: backing-aio {name}"), name


# the least each subcommand parses
MINIMAL = {"check": ["seed"], "explain": ["seed", "-p", "UAF"], "lift": ["f.c"],
           "replay": ["f.json"], "prove": ["seed"], "diff": ["seed", "mainline"],
           "gate-patch": ["--tree", "t", "p.patch"]}


def test_every_subcommand_has_a_handler() -> None:
    for name in COMMANDS:
        args = _parser().parse_args([name, *MINIMAL.get(name, [])])
        assert callable(args.handler), name


def own_command_lines(source: str) -> list[str]:
    """What in ``source`` makes a module a command line of its own: a ``__main__`` guard,
    an import of argparse, or building a parser."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
                and isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__"):
            found.append(f"line {node.lineno}: if __name__ == ...")
        elif isinstance(node, ast.Import) and any(a.name == "argparse" for a in node.names):
            found.append(f"line {node.lineno}: import argparse")
        elif isinstance(node, ast.ImportFrom) and node.module in ("argparse",
                                                                  "backing_aio.cli.usage"):
            if node.module == "argparse" or any(a.name == "OneLineParser" for a in node.names):
                found.append(f"line {node.lineno}: imports a parser")
        elif isinstance(node, ast.Attribute) and node.attr in PARSER_NAMES:
            found.append(f"line {node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Name) and node.id in PARSER_NAMES:
            found.append(f"line {node.lineno}: {node.id}")
    return found


def test_the_scan_finds_a_command_line() -> None:
    """The scan below is not a rubber stamp."""
    assert own_command_lines('import sys\nif __name__ == "__main__":\n    sys.exit(0)\n')
    assert own_command_lines("import argparse\n")
    assert own_command_lines("from backing_aio.cli.usage import OneLineParser, UsageError\n")
    assert own_command_lines("def f(p):\n    p.add_argument('--x')\n")
    assert not own_command_lines("from backing_aio.errors import UsageError\n")


def test_only_the_cli_package_has_command_lines() -> None:
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("backing_aio/cli/") or rel in CHILD_ENTRY_POINTS:
            continue
        found = own_command_lines(path.read_text())
        if found:
            offenders[rel] = found
    assert offenders == {}


def test_the_old_entry_points_are_gone() -> None:
    assert not (PACKAGE / "kernelcheck" / "__main__.py").exists()
    for rel in CHILD_ENTRY_POINTS:
        assert "__main__" in (ROOT / rel).read_text()  # still a child's entry point
