"""Counterexamples replay: with stable request numbers, from a saved file, and a tampered
file is reported, not crashed on."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from backing_aio.model.lang import Variant
from backing_aio.verify.explorer import explore
from backing_aio.verify.trace import (
    ReplayError,
    check_replay,
    concretise,
    effect_text,
    explain_text,
    load,
    replay,
    save,
)
from tests.conftest import mutant

BAD = [
    "seed-fixed:ref1:backing_file_read_iter#11(refcount_set)",
    "seed-fixed:delete:backing_file_write_iter#17(call)",
    "mainline:delete:backing_aio_cleanup#1(update_pos)",
    "ovl-5.16:delete:ovl_read_iter#11(fd_clear_flags)",
    "mainline:flip:backing_file_write_iter#6(if_goto)",
]


@pytest.mark.parametrize("n", [1, 2, 3])
def test_every_counterexample_replays(cat: dict[str, Variant], n: int) -> None:
    variants = [cat["ovl-5.6"], *(mutant(name) for name in BAD)]
    for v in variants:
        r = explore(v, n)
        assert r.violations, v.name
        for (prop, subject), cx in r.violations.items():
            trace = concretise(v, cx)
            got = check_replay(v, trace)
            assert (got.prop, got.subject) == (prop, subject)
            assert len(trace.steps) == len(cx.actions)


def test_saved_counterexample_round_trips(cat: dict[str, Variant], tmp_path: Path) -> None:
    v = cat["ovl-5.6"]
    cx = explore(v, 2).violations[("UAF", "wrapper")]
    path = tmp_path / "uaf.json"
    save(concretise(v, cx), path)
    trace = load(path)
    assert trace.prop == "UAF" and trace.variant == "ovl-5.6"
    assert check_replay(v, trace).subject == "wrapper"
    text = explain_text(v, trace)
    assert "kmem_cache_free" in text and "!! UAF" in text


def test_tampered_counterexample_does_not_replay(cat: dict[str, Variant], tmp_path: Path) -> None:
    v = cat["ovl-5.6"]
    cx = explore(v, 1).violations[("UAF", "wrapper")]
    data = concretise(v, cx).as_json()
    data["steps"] = data["steps"][:-3]  # stop before the free and the L2 touch
    path = tmp_path / "cut.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ReplayError, match="without breaking"):
        replay(v, load(path))
    data["steps"][0]["actor"] = "completion"  # not enabled at the start
    path.write_text(json.dumps(data))
    with pytest.raises(ReplayError, match="step 1"):
        replay(v, load(path))


def test_a_fixed_variant_no_longer_reproduces(cat: dict[str, Variant]) -> None:
    cx = explore(cat["ovl-5.6"], 1).violations[("UAF", "wrapper")]
    trace = concretise(cat["ovl-5.6"], cx)
    with pytest.raises(ReplayError):
        check_replay(cat["ovl-5.16"], trace)


@pytest.mark.parametrize("content", ["not json", '{"format": "other"}', '{"format": '
                                     '"backing-aio-counterexample/1", "steps": 3}'])
def test_malformed_files_are_one_line_errors(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ReplayError) as e:
        trace = load(path)
        replay(cat_seed(), trace)
    assert "\n" not in str(e.value)


def cat_seed() -> Variant:
    from backing_aio.model.catalogue import catalogue

    return catalogue()["seed"]


def test_every_choice_the_model_offers_is_in_its_vocabulary(cat: dict[str, Variant]) -> None:
    """A saved trace's choices are checked against CHOICES before it is replayed: the
    model must never offer a choice outside it."""
    from backing_aio.model.semantics import ACTORS, CHOICES, Action, BackingAio, State
    from backing_aio.verify.graph import walk

    def check_choices(model: BackingAio) -> Callable[[int, State], list[tuple[Action, State]]]:
        def successors(_: int, state: State) -> list[tuple[Action, State]]:
            for r in state[1:]:
                if isinstance(r, tuple):
                    for actor in ACTORS:
                        if actor in model.enabled_actors(r):
                            assert set(model.choices(r, actor)) <= CHOICES
            return [(a, n) for a, n in model.successors(state, "none")
                    if isinstance(n, tuple)]
        return successors

    for v in cat.values():
        model = BackingAio(v)
        for kind in v.kinds:
            walk([(1, model.new_request(kind))], check_choices(model))


def test_explanation_words_the_model_s_effects(cat: dict[str, Variant]) -> None:
    """The effects a step records, worded once; the environment's steps in their words."""
    from backing_aio.model.effects import Change
    from backing_aio.verify.trace import explain

    cx = explore(cat["ovl-5.6"], 1).violations[("UAF", "file opened on the fly")]
    steps = explain(cat["ovl-5.6"], concretise(cat["ovl-5.6"], cx))
    effects = [[effect_text(e) for e in s.effects] for s in steps]
    assert ["opened file refs 0->1"] in effects
    assert ["wrapper none->live"] in effects and ["completion armed"] in effects
    assert ["orig ki_pos updated"] in effects and ["opened file refs 1->0"] in effects
    assert any(e.memory and e.change is Change.WRAPPER for s in steps for e in s.effects)
    last = steps[-1]
    assert last.place == "lower fs" and last.violation is not None and last.effects == ()
    assert last.statement == "still inside submit: touches the clone (L2), returns -EIOCBQUEUED"
    assert next(s.statement for s in steps if s.actor == "completion") == (
        "IO done: calls the clone's ki_complete")
