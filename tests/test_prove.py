"""Unbounded proofs with z3 agree with the explorer: good variants are proved for one
request and for any N; the known-bad one is not, with the same property."""

from __future__ import annotations

import pytest

from checks.explorer import explore
from checks.prove import invariant_text, prove
from checks.symbolic import build
from model.catalogue import catalogue


@pytest.mark.slow
@pytest.mark.parametrize(("name", "rtype"), [("seed", "read"), ("seed", "write"),
                                             ("mainline", "write"), ("ovl-5.16", "read"),
                                             ("ovl-5.6", "read")])
def test_proof_agrees_with_the_explorer(name: str, rtype: str) -> None:
    v = catalogue()[name]
    system = build(v, rtype)
    proof = prove(v, rtype, system)
    assert not proof.unknown and not proof.not_inductive
    explored = explore(v, 1, kinds=[rtype]).failed
    assert proof.failed == explored
    if not explored:
        assert proof.proved_all_n
        text = invariant_text(proof, system)
        assert any(line.startswith("wrapper live, ref = 2") for line in text)
        assert text[-1].startswith("everywhere: shared == 1 + shared_refs")
    else:
        assert not proof.proved
