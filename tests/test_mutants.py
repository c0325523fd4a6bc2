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
        "seed-fixed": 260, "ovl-5.16": 219, "mainline": 224, "ovl-6.12": 283, "loop": 63,
        "erofs": 50,
    }


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
