"""Unbounded proofs with z3 agree with the explorer: good variants are proved for one
request and for any N; the known-bad one is not, with the same property."""

from __future__ import annotations

import pytest

from checks.explorer import explore
from checks.prove import candidate, invariant_text, prove
from checks.symbolic import build
from model.catalogue import catalogue


@pytest.mark.slow
@pytest.mark.parametrize(("name", "rtype"), [("seed", "read"), ("seed", "write"),
                                             ("mainline", "write"), ("ovl-5.16", "read"),
                                             ("ovl-5.6", "read")])
def test_proof_over_rules_for_every_data_value_agrees_with_the_explorer(
        name: str, rtype: str) -> None:
    v = catalogue()[name]
    system = build(v, rtype)  # no candidate: rules for every value of every field
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


@pytest.mark.parametrize("name", ["seed", "ovl-5.16", "mainline", "ovl-5.6"])
def test_catalogue_proofs_on_the_candidate(name: str) -> None:
    v = catalogue()[name]
    for rtype in ("read", "write", "sync-read", "sync-write"):
        proof = prove(v, rtype)
        assert not proof.unknown and not proof.not_inductive and not proof.stuck
        assert proof.failed == explore(v, 1, kinds=[rtype]).failed
        assert proof.proved_all_n == (not proof.failed)


def test_the_invariant_reads_as_the_reference_count_of_the_puts_to_come() -> None:
    v = catalogue()["seed"]
    system = build(v, "read", within=candidate(v, "read"))
    text = invariant_text(prove(v, "read", system), system)
    assert text[0].startswith("wrapper live and ref > 0 => ref = [put in backing_aio_cleanup "
                              "still to come] + [put in backing_file_read_iter still to come]")
    v56 = catalogue()["ovl-5.6"]
    system = build(v56, "read", within=candidate(v56, "read"))
    text = invariant_text(prove(v56, "read", system), system)
    assert not any("=> ref =" in line for line in text)
    assert any("no reference count" in line for line in text)


def test_an_unknown_answer_is_never_a_proof() -> None:
    proof = prove(catalogue()["seed"], "read", timeout_ms=1)
    assert proof.unknown and not proof.proved and not proof.proved_all_n
