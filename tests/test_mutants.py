"""Mutation adequacy: every mutant of every good variant is killed with a named property,
or listed as equivalent with a reason; the list never goes stale."""

from __future__ import annotations

import pytest

from backing_aio.model.catalogue import catalogue
from backing_aio.model.equivalents import EQUIVALENT, REASONS
from backing_aio.model.mutants import mutants
from backing_aio.verify.gate import check_mutants


def test_mutant_counts_are_pinned() -> None:
    cat = catalogue()
    assert {n: len(mutants(v)) for n, v in cat.items() if not v.expect} == {
        "seed-fixed": 262, "ovl-5.16": 230, "mainline": 231, "ovl-6.12": 290,
        "fuse-6.12": 266, "loop": 65, "erofs": 50,
    }


def test_an_error_path_that_skips_its_fdput_is_a_mutant_and_is_killed() -> None:
    """ovl-5.16's O_DIRECT refusal goes to out_fdput; sent straight to the return, it
    leaves a file opened on the fly open. The jump gets the return's tag (or a fresh one)."""
    from backing_aio.verify.explorer import explore

    (m,) = [m for m in mutants(catalogue()["ovl-5.16"])
            if m.name == "ovl-5.16:skip-cleanup:ovl_read_iter#4(if_goto)"]
    body = m.variant.procs["ovl_read_iter"]
    jump = body[4]
    assert jump.op == "if_goto" and "IOCB_DIRECT" in jump.label
    target = next(s for s in body if s.tag == jump.target)  # type: ignore[attr-defined]
    assert target.op == "return_"
    r = explore(m.variant, 1, kinds=["read"])
    assert r.failed == {"LEAK"}
    assert {s for p, s in r.violations if p == "LEAK"} == {"file opened on the fly"}


def test_every_equivalence_has_a_reason_and_names_a_real_mutant() -> None:
    names = {m.name for v in catalogue().values() if not v.expect for m in mutants(v)}
    for name, key in EQUIVALENT.items():
        assert key in REASONS, name
        assert name in names, f"{name} is not generated any more"


@pytest.mark.slow
def test_all_mutants_killed_or_equivalent() -> None:
    report = check_mutants(catalogue().values())
    assert [o.name for o in report.unexplained] == []
    assert report.stale() == []
    assert report.score == 1.0
    for o in report.killed:
        assert o.killed_by, o.name
