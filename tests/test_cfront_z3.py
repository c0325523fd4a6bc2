"""The lifted C gets the same z3 verdicts as the hand-written variant it equals: the
unbounded proof for one request and the any-N argument, per request type."""

from __future__ import annotations

import dataclasses

import pytest

from backing_aio.cfront.inputs import variants
from backing_aio.model.lang import Variant
from backing_aio.verify.prove import prove
from tests.test_cfront import _mainline_118, seed_patch, tree_61, tree_612

pytestmark = [pytest.mark.slow, pytest.mark.z3, pytest.mark.cparse]


def _verdicts(v: Variant) -> dict[str, tuple[frozenset[str], bool]]:
    out = {}
    for rtype in v.kinds:
        p = prove(v, rtype)
        assert not p.unknown and not p.not_inductive, (rtype, p.unknown, p.not_inductive)
        out[rtype] = (frozenset(p.failed), p.proved_all_n)
    return out


def test_the_lifted_seed_proves_as_the_catalogues(cat: dict[str, Variant]) -> None:
    (v, _), = variants(str(seed_patch()))
    got = _verdicts(v)
    assert got == _verdicts(cat["seed"])
    assert got["write"][0] == {"RESULT_PROPAGATED"} and got["read"][0] == {"CONTEXT"}


def test_the_lifted_612_helpers_prove_as_the_hand_written(cat: dict[str, Variant]) -> None:
    (v, _), *_ = variants(str(tree_612()))
    hand = dataclasses.replace(_mainline_118(cat), name="hand")
    got = _verdicts(v)
    assert got == _verdicts(hand)
    assert all(failed == frozenset() and all_n for failed, all_n in got.values())


def test_the_lifted_61_overlayfs_proves_as_ovl_61(cat: dict[str, Variant]) -> None:
    """6.1's own async IO: z3 finds the leak in the async read and write as in the
    hand-written entry, and proves the sync kinds for all N."""
    [(v, _)] = variants(str(tree_61()))
    got = _verdicts(v)
    assert got == _verdicts(cat["ovl-6.1"])
    assert got["read"][0] == got["write"][0] == {"LEAK"}
    assert got["sync-read"] == got["sync-write"] == (frozenset(), True)
