"""The reductions are sound and say what their counterexamples are.

The reference is the search with neither reduction: every interleaving of the requests
(``reduction="none"``) and every request apart, identical ones too (``symmetry=False``).
Against it, with every mix of request types (so two requests of one type, where symmetry
merges states) the reduced searches find exactly the same findings, and a counterexample
marked shortest has the reference's length; one that is not is no shorter. Checked on the
catalogue, on one killed mutant of each mutation operator, and on mutants that drop a
shared-file reference they do not hold (which forces the dependent reduction).
"""

from __future__ import annotations

import pytest

from backing_aio.model.catalogue import catalogue
from backing_aio.model.lang import Variant
from backing_aio.model.semantics import ReductionUnsound
from backing_aio.verify.explorer import REDUCTIONS, Result, explore
from backing_aio.verify.trace import check_replay, concretise
from tests.conftest import mutant

# Two requests over-drop: the independent reduction is unsound and "auto" falls back.
OVER_DROPPING = [
    "mainline:delete:backing_aio_put#0(refcount_dec_and_test)",  # frees twice: UAF, DOUBLE_FREE
    "mainline:get_file:backing_file_read_iter#9(kiocb_clone)",  # fput without get_file
    "seed-fixed:get_file:backing_file_read_iter#9(kiocb_clone)",
]

# One killed mutant per operator, on the smallest variants that have it.
PER_OPERATOR = [
    "ovl-5.6:delete:ovl_read_iter#0(if_goto)",
    "ovl-5.6:duplicate:ovl_read_iter#0(if_goto)",
    "ovl-5.6:swap:ovl_read_iter#0(if_goto,fdget)",
    "ovl-5.6:flip:ovl_read_iter#0(if_goto)",
    "ovl-5.6:skip-cleanup:ovl_read_iter#3(if_goto)",
    "ovl-5.6:get_file:ovl_read_iter#11(kiocb_clone)",
    "ovl-5.6:retarget>ovl_aio_cleanup_handler:ovl_read_iter#12(set_ki_complete)",
    "ovl-5.6:fn>ovl_copyattr:ovl_read_iter#16(callback)",
    "ovl-5.6:move>ovl_aio_cleanup_handler:ovl_write_iter#9(callback)",
    "loop:ref1:lo_rw_aio#0(refcount_set)",
    "loop:ref3:lo_rw_aio#0(refcount_set)",
    "mainline:via-ctx:backing_aio_cleanup#0(callback)",
    "mainline:sb-lower:backing_aio_queue_completion#1(queue_work)",
]

# The full reference at N = 3 is affordable for the read-only shape only (405 000 states);
# the others pass 3 million.
AT_THREE = ["erofs",
            "erofs:ref1:erofs_fileio_rq_alloc#3(refcount_set)",  # REF_UNDERFLOW, UAF
            "erofs:duplicate:erofs_fileio_rq_submit#5(kmem_cache_free)",  # DOUBLE_FREE
            "erofs:delete:erofs_fileio_ki_complete#3(kmem_cache_free)"]  # LEAK

FAST = ["ovl-5.6", "loop", "erofs"]


def _variant(name: str) -> Variant:
    return catalogue()[name] if name in catalogue() else mutant(name)


def _reference(v: Variant, n: int, kinds: list[str] | None = None) -> Result:
    full = explore(v, n, kinds=kinds, reduction="none", symmetry=False)
    assert all(cx.shortest for cx in full.violations.values())
    return full


def _agree(v: Variant, n: int, kinds: list[str] | None = None) -> None:
    full = _reference(v, n, kinds)
    for reduction in REDUCTIONS:
        try:
            r = explore(v, n, kinds=kinds, reduction=reduction)
        except ReductionUnsound:  # refused where a request over-drops: "auto" falls back
            assert reduction == "independent"
            assert explore(v, n, kinds=kinds).reduction == "dependent"
            continue
        assert set(r.violations) == set(full.violations), (v.name, reduction)
        for key, cx in r.violations.items():
            best = len(full.violations[key].actions)
            got = len(cx.actions)
            assert got == best if cx.shortest else got >= best, (v.name, reduction, key)
            assert check_replay(v, concretise(v, cx)).prop == key[0]


def test_reference_keeps_identical_requests_apart() -> None:
    """Without symmetry two writes are two requests: more states, the same findings."""
    v = catalogue()["ovl-5.6"]
    merged = explore(v, 2, kinds=["write", "write"], reduction="none")
    apart = explore(v, 2, kinds=["write", "write"], reduction="none", symmetry=False)
    assert apart.states > merged.states
    assert set(apart.violations) == set(merged.violations)


def test_reduced_counterexample_is_as_short_as_the_full_searchs() -> None:
    """The seed's read beside a write: the independent reduction ran the read to its end
    before the write started, so its counterexample was 3 steps longer than the full
    search's. The write's run alone, embedded, is as short."""
    v = catalogue()["seed"]
    kinds = ["read", "write"]
    full = _reference(v, 2, kinds)
    reduced = explore(v, 2, kinds=kinds)
    assert reduced.reduction == "independent"
    key = ("RESULT_PROPAGATED", "")
    assert len(full.violations[key].actions) == 24
    assert reduced.violations[key].shortest
    for k, cx in reduced.violations.items():
        assert len(cx.actions) == len(full.violations[k].actions), k


def test_dependent_reduction_says_its_counterexamples_may_not_be_shortest() -> None:
    v = _variant(OVER_DROPPING[0])
    full = _reference(v, 2)
    r = explore(v, 2)
    assert r.reduction == "dependent"
    assert set(r.violations) == set(full.violations)
    assert not any(cx.shortest for cx in r.violations.values())
    # frees twice: the reduction meets the UAF two steps later than the full search
    key = ("UAF", "wrapper")
    assert len(r.violations[key].actions) > len(full.violations[key].actions)
    assert r.violations[key].what == "shortest the reduction found"


def test_over_dropping_variant_falls_back_to_the_dependent_reduction() -> None:
    assert explore(_variant(OVER_DROPPING[1]), 2).reduction == "dependent"
    assert explore(catalogue()["seed"], 2).reduction == "independent"


@pytest.mark.parametrize("name", FAST)
def test_reduced_and_full_searches_agree(name: str) -> None:
    _agree(_variant(name), 2)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in catalogue() if n not in FAST])
def test_reduced_and_full_searches_agree_on_the_catalogue(name: str) -> None:
    _agree(_variant(name), 2)


@pytest.mark.slow
@pytest.mark.parametrize("name", PER_OPERATOR + OVER_DROPPING)
def test_reduced_and_full_searches_agree_on_mutants(name: str) -> None:
    _agree(_variant(name), 2)


def test_every_operator_has_a_mutant_here() -> None:
    from backing_aio.model.mutants import mutants

    ops = {m.name.split(":")[1].split(">")[0] for v in catalogue().values() for m in mutants(v)}
    assert ops == {name.split(":")[1].split(">")[0] for name in PER_OPERATOR}


@pytest.mark.slow
@pytest.mark.parametrize("name", AT_THREE)
def test_reduced_and_full_searches_agree_at_three_requests(name: str) -> None:
    _agree(_variant(name), 3)
