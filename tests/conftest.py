"""Shared helpers for the tests, the ``uring`` marker, and the summary of skip reasons."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from backing_aio.model.catalogue import catalogue
from backing_aio.model.lang import Stmt, Variant
from backing_aio.model.mutants import mutants

pytest_plugins = ["pytester"]  # tests/test_probe.py runs a small test session of its own


@pytest.fixture(scope="session")
def cat() -> dict[str, Variant]:
    return catalogue()


def mutant(name: str) -> Variant:
    """A generated mutant by its stable name (fails loudly if the name is gone)."""
    base = name.split(":")[0]
    for m in mutants(catalogue()[base]):
        if m.name == name:
            return m.variant
    raise KeyError(name)


def edit(v: Variant, proc: str, body: list[Stmt] | tuple[Stmt, ...], **changes: object) -> Variant:
    """``v`` with one procedure replaced."""
    procs = dict(v.procs)
    procs[proc] = tuple(body)
    return v.with_procs(procs, **changes)


def untag(s: Stmt) -> Stmt:
    return replace(s, tag=None)


# ---- facilities a test needs -----------------------------------------------------------
# Native facilities are probed in a child process (backing_aio.refimpl.probe), never at import of a
# test module and never in this process, so a crash in a probe is a skip that names the
# signal, not the end of the run.
# - io_uring: a test that needs it carries ``@pytest.mark.uring``; probed when the first
#   such test is set up.
# - tree-sitter: a test that parses C carries ``@pytest.mark.cparse``.
# - z3: a test that runs the solver carries ``@pytest.mark.z3``; the modules below import z3
#   as they are imported, so where z3 cannot run they are not collected at all (a guard in
#   tests/test_probe.py keeps this list equal to the modules that do).
Z3_MODULES = frozenset({"test_agree.py", "test_bench.py", "test_bmc.py", "test_cfront_z3.py",
                        "test_generic.py", "test_prove.py", "test_symbolic.py",
                        "test_verdict.py"})
_not_collected: dict[str, str] = {}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "uring: needs io_uring (probed in a child process)")
    config.addinivalue_line("markers", "z3: runs the z3 solver (probed in a child process)")
    config.addinivalue_line("markers", "cparse: parses C with tree-sitter (probed in a child "
                            "process)")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path.name in Z3_MODULES:
        from backing_aio.verify.z3native import unavailable

        why = unavailable()
        if why is not None:
            _not_collected[collection_path.name] = why
            return True
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("uring") is not None:
        from backing_aio.refimpl.uring import unavailable as uring_unavailable

        why = uring_unavailable()
        if why is not None:
            pytest.skip(why)
    if item.get_closest_marker("z3") is not None:
        from backing_aio.verify.z3native import unavailable as z3_unavailable

        why = z3_unavailable()
        if why is not None:
            pytest.skip(why)
    if item.get_closest_marker("cparse") is not None:
        from backing_aio.cfront.probe import unavailable as cparse_unavailable

        why = cparse_unavailable()
        if why is not None:
            pytest.skip(why)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line at the end: how many tests skipped, for which reasons."""
    reasons: Counter[str] = Counter()
    for rep in terminalreporter.stats.get("skipped", []):
        longrepr = getattr(rep, "longrepr", None)
        # a skip's longrepr is (file, line, "Skipped: reason")
        text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reasons[text.removeprefix("Skipped: ")] += 1
    # modules left out where z3 cannot run (with xdist the workers decide that, so the
    # controller asks the same cached probe)
    from backing_aio.verify.z3native import unavailable as z3_unavailable

    why = z3_unavailable() if not _not_collected else None
    left_out = dict(_not_collected) or ({name: why for name in Z3_MODULES} if why else {})
    for name, reason in sorted(left_out.items()):
        reasons[f"{reason} ({name} not collected)"] += 1
    if not reasons:
        terminalreporter.write_line("skips: none")
        return
    parts = [f"{n} x {why}" for why, n in sorted(reasons.items(), key=lambda kv: -kv[1])]
    terminalreporter.write_line(f"skips: {sum(reasons.values())}: " + "; ".join(parts))
