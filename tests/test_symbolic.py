"""The z3 rules come from running the model's own step function on symbolic data; they
must be the model's semantics: from every reachable state, each step is matched by exactly
one rule with the same outcome."""

from __future__ import annotations

import pytest
import z3

from backing_aio.model.catalogue import catalogue
from backing_aio.verify.symbolic import WIDTH, Sym, _Paths, agrees_with_model, build


def test_forking_explores_both_sides_of_a_branch() -> None:
    x = z3.BitVec("x", WIDTH)
    solver = z3.Solver()
    solver.add(z3.And(x >= 0, x <= 3))
    unknown: list[str] = []
    paths = _Paths(solver, unknown)

    def fn() -> int:
        s = Sym(x, paths)
        if s == 2:
            return 1
        return int(s)  # enumerates the other feasible values in a fixed order

    results = sorted(r for _c, _t, r in paths.run(fn))
    assert results == [0, 1, 1, 3] and unknown == []


@pytest.mark.slow
@pytest.mark.parametrize("name", ["seed", "ovl-5.6", "ovl-5.16", "mainline"])
def test_rules_on_the_candidate_agree_with_the_model(name: str) -> None:
    from backing_aio.verify.prove import candidate

    v = catalogue()[name]
    for rtype in ("read", "write", "sync-read", "sync-write"):
        system = build(v, rtype, within=candidate(v, rtype))
        assert agrees_with_model(system) == [], (name, rtype)
