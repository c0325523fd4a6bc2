"""Every property can fail: a known-bad variant is reported with that property's ID."""

from __future__ import annotations

import pytest

from backing_aio.model.lang import Variant, stmt
from backing_aio.model.properties import PROPERTY_IDS
from backing_aio.verify.explorer import explore
from backing_aio.verify.trace import check_replay, concretise
from tests.conftest import edit, mutant

# One generated mutant per property, each killed by that property (among others perhaps).
KILLERS = {
    "UAF": "seed-fixed:ref1:backing_file_read_iter#11(refcount_set)",
    "DOUBLE_FREE": "seed-fixed:duplicate:backing_aio_put#2(kmem_cache_free)",
    "REF_UNDERFLOW": "mainline:duplicate:backing_aio_put#0(refcount_dec_and_test)",
    "LEAK": "seed-fixed:delete:backing_file_read_iter#13(call)",
    "CLEANUP_ONCE": "seed-fixed:delete:backing_aio_cleanup#3(callback)",
    "COMPLETE_IFF_QUEUED": "mainline:flip:backing_file_write_iter#6(if_goto)",
    "FREEZE_BALANCED": "seed-fixed:delete:backing_aio_cleanup#1(kiocb_end_write)",
    "POS_BEFORE_CALLBACK": "seed-fixed:delete:backing_aio_cleanup#2(update_pos)",
    "RESULT_PROPAGATED": "seed-fixed:delete:ovl_read_iter#2(call)",
    "CONTEXT": (
        "mainline:retarget>backing_aio_rw_complete:backing_file_write_iter#17(set_ki_complete)"
    ),
}


@pytest.mark.parametrize("prop", sorted(KILLERS))
def test_each_property_can_fail(prop: str) -> None:
    name = KILLERS[prop]
    try:
        v = mutant(name)
    except KeyError:
        pytest.skip(f"{name} is not generated")  # pragma: no cover - guarded below
    r = explore(v, 1)
    assert prop in r.failed, (name, r.verdict())
    cx = r.counterexample(prop)
    assert check_replay(v, concretise(v, cx)).prop == prop


def test_killer_table_is_current() -> None:
    for name in KILLERS.values():
        mutant(name)  # raises KeyError if the generator no longer makes it
    assert set(KILLERS) | {"TERMINATES"} == set(PROPERTY_IDS)


def test_a_completion_that_spins_does_not_terminate(cat: dict[str, Variant]) -> None:
    v = cat["seed"]
    spin = (
        stmt("load_orig", "struct kiocb *orig_iocb = aio_req->orig_iocb;", tag="again"),
        stmt("goto", "goto again; /* waits for a flag nobody sets */", target="again"),
    )
    looping = edit(v, "backing_aio_rw_complete", spin, name="seed-spin")
    r = explore(looping, 1)
    assert r.reduction == "none"  # a backward jump: no reduction applies
    assert "TERMINATES" in r.failed
    cx = r.counterexample("TERMINATES")
    assert check_replay(looping, concretise(looping, cx)).prop == "TERMINATES"
