"""Hypothesis stateful testing of the model: random deep runs with many requests hold for
the good variants, and find the v5.6 use-after-free with a replayable counterexample."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from backing_aio.model.lang import Variant
from backing_aio.verify.hypothesis_model import PROFILES, Found, machine, minimal, profile
from backing_aio.verify.trace import Step, Trace, check_replay, load


@pytest.mark.parametrize("name", ["seed-fixed", "ovl-5.16", "mainline"])
def test_good_variants_hold(cat: dict[str, Variant], name: str) -> None:
    run_state_machine_as_test(machine(cat[name]),
                              settings=settings(profile(), database=None, derandomize=True))


def _find(v: Variant, s: settings) -> Found:
    with pytest.raises(Found) as e:
        run_state_machine_as_test(machine(v), settings=s)
    return e.value


def test_the_v56_use_after_free_is_found(cat: dict[str, Variant], tmp_path: Path) -> None:
    v = cat["ovl-5.6"]
    found = _find(v, settings(profile("quick"), database=None, derandomize=True))
    assert (found.trace.prop, found.trace.subject) in {
        ("UAF", "wrapper"), ("UAF", "file opened on the fly")}
    # the whole run replays, and so does the one request it is cut down to
    check_replay(v, found.trace)
    cut = found.minimal
    assert len(cut.kinds) == 1 and len(cut.steps) <= len(found.trace.steps)
    assert check_replay(v, cut).prop == "UAF"
    # the failure message ends with the counterexample, ready for `backing-aio replay`
    text = str(found)
    assert "!! UAF" in text
    saved = tmp_path / "cx.json"
    saved.write_text(text.splitlines()[-1])
    assert check_replay(v, load(saved)).prop == "UAF"
    assert json.loads(saved.read_text())["variant"] == "ovl-5.6"


def test_minimal_keeps_the_trace_when_the_cut_does_not_replay(cat: dict[str, Variant]) -> None:
    v = cat["ovl-5.6"]
    t = Trace("ovl-5.6", "UAF", "wrapper", "", ("read", "read"),
              (Step(0, "submitter", "zero_length: no"), Step(1, "submitter", "zero_length: no")),
              False)
    assert minimal(v, t) is t


def test_profiles() -> None:
    assert set(PROFILES) == {"quick", "ci"}
    assert profile("ci").max_examples > profile("quick").max_examples
    with pytest.raises(ValueError, match="unknown profile"):
        profile("nope")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mainline"])
def test_good_variants_hold_ci_profile(cat: dict[str, Variant], name: str) -> None:
    # One variant: every good variant is already proved for all N by z3 and explored
    # exhaustively to N = 3 (and `make agree` runs hypothesis on every variant); the long
    # random runs here are a check of the machine itself on today's code.
    run_state_machine_as_test(machine(cat[name]),
                              settings=settings(profile("ci"), database=None))
