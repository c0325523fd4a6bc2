"""The contract with the callers, from the explored graph of one request, and its diff."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backing_aio.cli.main import main as cli
from backing_aio.model.catalogue import catalogue
from backing_aio.model.equivalents import EQUIVALENT
from backing_aio.model.lang import Variant
from backing_aio.model.mutants import mutants
from backing_aio.verify.contract import Group, contract, diff, summary


def _summary(old: Variant, new: Variant, group: Group) -> list[str]:
    return summary(contract(old).get(group, frozenset()), contract(new).get(group, frozenset()))


def test_mainline_punts_the_queued_writes_callbacks_to_the_worker(
        cat: dict[str, Variant]) -> None:
    """The seed (v6.6) against today's helpers: the write completion's work moves from
    the irq completion to the workqueue, freeze protection is ended there, and the
    caller's callback is end_write instead of ovl_rw_complete."""
    got = _summary(cat["seed"], cat["mainline"], Group("write", "queued"))
    assert "ends freeze protection: completion (irq) -> worker" in got
    assert "updates ki_pos: completion (irq) -> worker" in got
    assert "queues the work: new (completion (irq))" in got
    assert "runs callback end_write(result): new (worker)" in got
    assert "runs callback ovl_rw_complete(ki_pos, result): no longer (completion (irq))" in got


def test_ovl_516_and_the_seed_differ_and_a_variant_equals_itself(
        cat: dict[str, Variant]) -> None:
    assert diff(contract(cat["ovl-5.16"]), contract(cat["seed"]))
    c = contract(cat["mainline"])
    assert diff(c, c) == [] and Group("read", "queued") in c


def test_independent_reorders_and_a_new_name_keep_the_contract(
        cat: dict[str, Variant]) -> None:
    """Every swap of independent stores the mutation table lists for mainline, renamed:
    the same contract."""
    base = contract(cat["mainline"])
    swaps = [m for m in mutants(cat["mainline"])
             if EQUIVALENT.get(m.name) == "INDEPENDENT_STORES"]
    assert len(swaps) >= 5
    for m in swaps:
        renamed = m.variant.with_procs(dict(m.variant.procs), name="renamed")
        assert diff(base, contract(renamed)) == [], m.name


def test_the_diff_can_fail_a_dropped_callback_is_named(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    """mainline without the sync write's ctx->end_write: exit 1, and the difference says
    which callback no longer runs for which request (and that every such run now breaks
    the callback contract)."""
    f = tmp_path / "no_sync_end_write.py"
    f.write_text(
        "from backing_aio.model.catalogue import catalogue\n"
        "v = catalogue()['mainline']\n"
        "w = tuple(s for s in v.procs['backing_file_write_iter']\n"
        "          if not (s.op == 'callback' and getattr(s, 'via', '') == 'ctx'))\n"
        "VARIANTS = [v.with_procs({**v.procs, 'backing_file_write_iter': w},\n"
        "                         name='mainline')]\n")
    assert cli(["diff", "mainline", str(f)]) == 1
    out = capsys.readouterr().out
    assert "runs callback end_write(ki_pos, result): no longer (submitter)" in out
    assert "broken sync-write:\n    breaks CLEANUP_ONCE: new (submitter)" in out
    assert cli(["diff", "mainline", "mainline", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["format"] == "backing-aio-diff/1" and doc["same"]
    assert cli(["diff", "mainline", str(f), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    [pair] = doc["pairs"]
    assert {(d["type"], d["outcome"]) for d in pair["differences"]} == {
        ("sync-write", "sync"), ("sync-write", "broken")}


def test_every_catalogue_entry_has_a_contract(cat: dict[str, Variant]) -> None:
    for v in catalogue().values():
        c = contract(v)
        assert {g.rtype for g in c} == set(v.kinds), v.name
