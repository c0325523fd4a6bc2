"""Unbounded proofs with z3 agree with the explorer: good variants are proved for one
request and for any N; the known-bad one is not, with the same property."""

from __future__ import annotations

import pytest

from backing_aio.model.catalogue import catalogue
from backing_aio.model.lang import Variant
from backing_aio.verify.explorer import explore
from backing_aio.verify.prove import candidate, invariant_text, prove
from backing_aio.verify.symbolic import build


@pytest.mark.parametrize("name", ["seed", "ovl-5.16", "mainline", "ovl-5.6"])
def test_catalogue_proofs_on_the_candidate(name: str) -> None:
    v = catalogue()[name]
    for rtype in ("read", "write", "sync-read", "sync-write"):
        proof = prove(v, rtype)
        assert not proof.unknown and not proof.not_inductive and not proof.stuck
        assert proof.failed == explore(v, 1, kinds=[rtype]).failed
        assert proof.proved_all_n == (not proof.failed)


def test_the_invariant_reads_as_the_reference_count_of_the_puts_to_come() -> None:
    v = catalogue()["seed-fixed"]
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
    # one unit of z3's work per query (deriving the rules and checking them): z3 gives up
    proof = prove(catalogue()["seed"], "read", rlimit=1)
    assert proof.unknown and not proof.proved and not proof.proved_all_n


def test_a_loop_is_never_proved_to_terminate() -> None:
    """'Some rule can be taken everywhere' shows termination only when every step moves
    forward; a variant that spins must not be proved (the explorer fails TERMINATES)."""
    from backing_aio.model.lang import stmt
    from backing_aio.verify.bmc import bmc

    body = (stmt("if_goto", "if (!iov_iter_count(iter))", cond="zero_length",
                 target="zero"),
            stmt("goto", "for (;;) ;", tag="spin", target="spin"),
            stmt("return_", "return 0;", tag="zero", value="0"))
    spin = Variant(name="spin", summary="spins on non-empty IO",
                   procs={"read_iter": body, "write_iter": body},
                   entry={"read": "read_iter", "write": "write_iter"}, kernel="6.6",
                   caller="overlayfs",
                   callbacks={"read": {}, "write": {}})
    assert explore(spin, 1, kinds=["sync-read"]).failed == {"TERMINATES"}
    proof = prove(spin, "sync-read")
    assert not proof.proved and not proof.proved_all_n
    assert any("cycle" in u for u in proof.unknown)
    found = bmc(spin, "sync-read")
    assert not found.decided and any("cycle" in u for u in found.unknown)


def test_an_unknown_while_deriving_the_rules_is_never_a_proof() -> None:
    # a small resource limit makes z3 give up on feasibility questions during the
    # derivation: the rules may then miss a path, so nothing proved on them may count
    v = catalogue()["seed"]
    system = build(v, "read", within=candidate(v, "read"), rlimit=500)
    assert system.unknown
    proof = prove(v, "read", system)
    assert proof.unknown and not proof.proved and not proof.proved_all_n


def test_the_resource_limit_bounds_each_query_not_the_solver_s_total() -> None:
    """z3 counts a solver's ``rlimit`` from where it stands at each ``check``: a limit that
    one query exhausts still leaves the next query the whole amount, so a long incremental
    solver (the derivation's) gets the same limit for its last question as for its first."""
    import z3

    from backing_aio.verify.symbolic import limit

    def used() -> int:
        return int(z3.Solver().statistics().get_key_value("rlimit count"))

    x, y = z3.BitVecs("x y", 32)
    hard = z3.And(x * y == 0x2A5C9A31, x > 1, y > 1, z3.ULT(x, y))  # factoring: costly
    solver = limit(z3.Solver(), 2_000)
    solver.add(z3.ULE(x, 1_000))
    for _ in range(3):  # each query gets the whole budget, though the count goes on growing
        solver.push()
        solver.add(hard)
        before = used()
        assert solver.check() == z3.unknown
        assert 2_000 <= used() - before <= 2_100
        solver.pop()
    # three times the limit spent in all, and a cheap query still decides
    assert solver.check(x == 3) == z3.sat
    for bad in (0, 2**32):  # z3 would read these as no limit at all, or a wrapped one
        with pytest.raises(ValueError, match="between 1 and"):
            limit(z3.Solver(), bad)


def test_any_n_rests_on_a_cutoff_within_the_checked_counts() -> None:
    """Above the counts z3 checks, the argument needs every test of the shared count to
    be a comparison with a constant below them; a rule that tests the count against a
    larger constant, or uses it another way, is not proved for all N."""
    import dataclasses

    import z3

    from backing_aio.verify.prove import DATA_NAMES
    from backing_aio.verify.symbolic import SHARED_TOP

    v = catalogue()["mainline"]
    system = build(v, "read", within=candidate(v, "read"))
    assert prove(v, "read", system).proved_all_n
    shared = system.variables[DATA_NAMES.index("shared")]
    for extra, why in ((shared < SHARED_TOP + 1, "beyond"),
                       (shared * 3 != 7, "other than by comparing")):
        changed = dataclasses.replace(system, rules=[
            dataclasses.replace(r, guard=z3.And(r.guard, extra)) for r in system.rules])
        proof = prove(v, "read", changed)
        assert proof.proved and not proof.proved_all_n, why
        assert any(why in line for line in proof.all_n)
