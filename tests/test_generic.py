"""The rules derived for every data value (no candidate invariant): the model's own
semantics, and the same verdicts from the unbounded proof and from bounded model checking
as from the explorer.

Deriving these rules is the expensive part, so each (variant, request type) is derived once
per session and every check here reads it (the suite gives each worker whole files, so one
worker holds them all).
"""

from __future__ import annotations

from functools import cache

import pytest

from backing_aio.model.catalogue import catalogue
from backing_aio.verify.bmc import bmc
from backing_aio.verify.explorer import explore
from backing_aio.verify.prove import invariant_text, prove
from backing_aio.verify.symbolic import DATA_NAMES, System, agrees_with_model, build

pytestmark = pytest.mark.slow

# One request type of each catalogue entry, reads and writes among them (the rules derived
# on the candidate invariant are checked against the model for every type, in
# tests/test_symbolic.py)
PAIRS = [("seed", "read"), ("ovl-5.6", "read"), ("mainline", "write"), ("ovl-5.16", "read")]


@cache
def rules(name: str, rtype: str) -> System:
    return build(catalogue()[name], rtype)  # no candidate: every value of every field


def _params(pairs: list[tuple[str, str]]) -> list[object]:
    return [pytest.param(n, t, id=f"{n}-{t}") for n, t in pairs]


@pytest.mark.parametrize(("name", "rtype"), _params(PAIRS[:3]))
def test_rules_agree_with_the_model(name: str, rtype: str) -> None:
    system = rules(name, rtype)
    assert len(system.variables) == len(DATA_NAMES)
    assert agrees_with_model(system) == []
    if name == "ovl-5.6":
        assert any(r.violation is not None and r.violation.prop == "UAF" for r in system.rules)


@pytest.mark.parametrize(("name", "rtype"), _params(PAIRS))
def test_proof_over_rules_for_every_data_value_agrees_with_the_explorer(
        name: str, rtype: str) -> None:
    v = catalogue()[name]
    system = rules(name, rtype)
    proof = prove(v, rtype, system)
    assert not proof.unknown and not proof.not_inductive
    explored = explore(v, 1, kinds=[rtype]).failed
    assert proof.failed == explored
    if not explored:
        assert proof.proved_all_n
        text = invariant_text(proof, system)
        assert any(line.startswith("wrapper live, ref = 2") for line in text)
        assert text[0].startswith("wrapper live and ref > 0 => ref = [put in ")
        assert text[-1].startswith("everywhere: shared == 1 + shared_refs")
    else:
        assert not proof.proved


@pytest.mark.parametrize(("name", "rtype"), _params([("seed", "read"), ("ovl-5.6", "read")]))
def test_bounded_model_checking_gives_the_explorers_answers(name: str, rtype: str) -> None:
    """Decided under z3's deterministic resource limit, so a loaded machine gives the
    same answer (it once ran out of a wall-clock limit)."""
    v = catalogue()[name]
    found = bmc(v, rtype, rules(name, rtype))
    explored = explore(v, 1, kinds=[rtype])
    assert found.decided and found.failed == explored.failed
    for prop, f in found.findings.items():
        assert f.length == len(explored.counterexample(prop).actions)
