"""Probes of native facilities run in a child process: a crash there is a reason to skip,
never the end of the test run."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import backing_aio.refimpl.uring
from backing_aio.refimpl.probe import in_child
from backing_aio.verify import z3native
from tests.conftest import Z3_MODULES

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the child imports tests.probes from the project's root


def test_a_facility_that_works_has_no_reason() -> None:
    assert in_child("tests.probes:works", "thing") is None


def test_a_refusal_is_its_message_in_one_line() -> None:
    why = in_child("tests.probes:refuses", "io_uring")
    assert why == "io_uring: [Errno 95] io_uring_setup: Operation not supported"


@pytest.mark.parametrize(("target", "signal"), [("dies_by_sigill", "SIGILL"),
                                                ("dies_by_sigsys", "SIGSYS")])
def test_a_probe_killed_by_a_signal_names_the_signal(target: str, signal: str) -> None:
    why = in_child(f"tests.probes:{target}", "io_uring")
    assert why == f"io_uring: the probe was killed by {signal} on this machine"


def test_a_probe_that_exits_says_how() -> None:
    why = in_child("tests.probes:exits_quietly", "thing")
    assert why is not None and why.startswith("thing: the probe exited 4")


def test_the_io_uring_probe_runs_in_a_child(monkeypatch: pytest.MonkeyPatch) -> None:
    """io_uring's availability comes from the child: aimed at a probe that dies by
    SIGILL, the reason names it (and this process lives). Run in-process, the probe would
    kill the test run instead."""
    monkeypatch.setattr(backing_aio.refimpl.uring, "PROBE", "tests.probes:dies_by_sigill")
    why = backing_aio.refimpl.uring.unavailable.__wrapped__()
    assert why == "io_uring: the probe was killed by SIGILL on this machine"


def test_the_uring_marker_skips_with_the_probes_reason(pytester: pytest.Pytester) -> None:
    """A test marked ``uring`` is skipped with the probe's reason when the probe fails."""
    pytester.makeconftest(f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
import backing_aio.refimpl.uring
backing_aio.refimpl.uring.unavailable = (
    lambda: "io_uring: the probe was killed by SIGILL on this machine")
from tests.conftest import pytest_configure, pytest_runtest_setup, pytest_terminal_summary
""")
    pytester.makepyfile("""
import pytest

@pytest.mark.uring
def test_needs_it():
    raise AssertionError("must not run")

def test_plain():
    pass
""")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(
        ["skips: 1: 1 x io_uring: the probe was killed by SIGILL on this machine"])


def _top_level_imports(path: Path) -> set[str]:
    """The modules ``path`` imports when it is imported (not those inside functions)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def _reaches_z3(module: str, seen: set[str]) -> bool:
    if module == "z3" or module.startswith("z3."):
        return True
    parts = module.split(".")
    path = ROOT.joinpath(*parts).with_suffix(".py")
    if not path.exists():
        path = ROOT.joinpath(*parts, "__init__.py")
    if module in seen or not path.exists():
        return False  # another package (not z3), or a name imported from a module
    seen.add(module)
    return any(_reaches_z3(m, seen) for m in _top_level_imports(path))


def test_the_modules_not_collected_without_z3_are_those_that_import_it() -> None:
    """conftest's Z3_MODULES is what the test modules' imports reach, read from the source:
    a new module that imports z3 must be listed, or it would crash where z3 cannot run."""
    reach = {p.name for p in (ROOT / "tests").glob("test_*.py")
             if any(_reaches_z3(m, set()) for m in _top_level_imports(p))}
    assert reach == Z3_MODULES


def test_the_z3_probe_solves_in_a_child() -> None:
    assert z3native.unavailable.__wrapped__() is None
