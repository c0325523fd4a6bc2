"""Hypothesis stateful testing of the reference implementation with real IO: random runs of
the good versions hold on both backends; broken ones fail with the right property and a
program Hypothesis prints, which replays."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

import backing_aio.crosscheck.hypothesis_refimpl as hr
from backing_aio.crosscheck.hypothesis_refimpl import FAULTS, PROFILES, Broken, machine, profile
from backing_aio.model.lang import Variant
from backing_aio.verify.trace import check_replay, load
from tests.broken import SEED_NO_PUT_AFTER_SUBMIT

BACKENDS = ["thread", pytest.param("uring", marks=pytest.mark.uring)]


def _quiet(s: settings) -> settings:
    return settings(s, database=None, derandomize=True)


def _hunt() -> settings:
    """For finding a known bug: the quick profile, with room for more examples (it stops
    at the first failure; how soon that comes depends on Hypothesis's global state)."""
    return settings(_quiet(profile("quick")), max_examples=400)


# Every good version runs with io_uring's writes (IOCB_DIO_CALLER_COMP): they clear it.
IO_URING = {"seed-fixed": True, "mainline": True, "ovl-5.16": True}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["seed-fixed", "mainline"])
def test_good_versions_hold(name: str, backend: str) -> None:
    run_state_machine_as_test(machine(name, backend, io_uring=IO_URING[name]),
                              settings=_quiet(profile()))


def _find(impl: object, backend: str, s: settings) -> Broken:
    with pytest.raises(Broken) as e:
        run_state_machine_as_test(machine(impl, backend), settings=s)  # type: ignore[arg-type]
    return e.value


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_v56_use_after_free_is_found(cat: dict[str, Variant], backend: str,
                                         tmp_path: Path) -> None:
    """Acceptance: against ovl-5.6 the machine fails with UAF, the running code and the
    model agreeing; the failure carries the printed program and a replayable trace."""
    found = _find("ovl-5.6", backend, _hunt())
    assert found.prop == "UAF"
    assert "freed at ovl_aio_cleanup_handler" in found.message
    assert "the model agrees" in found.message
    # Hypothesis's program: one readable line per rule call, ready to paste
    program = "\n".join(getattr(found, "__notes__", []))
    assert f"state = Refimpl_ovl_5_6_{backend}()" in program
    assert "state.submit(" in program and "state.run_actor(actor=" in program
    # Python as printed, from the machine on (an argument's repr is no enum's); under CI
    # Hypothesis adds a note after it (@reproduce_failure's blob), which is no program
    steps = program[program.index("state = "):].splitlines()
    ends = next((i for i, line in enumerate(steps) if not line.startswith("state")),
                len(steps))
    assert steps[ends - 1] == "state.teardown()", steps
    compile("\n".join(steps[:ends]), "<the printed program>", "exec")
    # the run is a model trace that breaks the same property
    assert found.trace is not None
    saved = tmp_path / "cx.json"
    saved.write_text(str(found).splitlines()[-1])
    assert check_replay(cat["ovl-5.6"], load(saved)).prop == "UAF"
    assert json.loads(saved.read_text())["variant"] == "ovl-5.6"


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_seeds_deferred_completion_is_found(cat: dict[str, Variant], backend: str,
                                                tmp_path: Path) -> None:
    """The seed's faults are found, running code and model agreeing, and the run replays
    on the model: with writes from io_uring (IOCB_DIO_CALLER_COMP) its callback gets 0 for
    a queued write (RESULT_PROPAGATED); an async read's completion calls
    ovl_file_accessed() (CONTEXT). Which one a search meets first is Hypothesis's
    business."""
    found = _find("seed", backend, _hunt())
    assert found.prop in ("RESULT_PROPAGATED", "CONTEXT"), found
    assert "the model agrees" in found.message
    if found.prop == "RESULT_PROPAGATED":
        assert "IOCB_DIO_CALLER_COMP" in found.message
        assert "state.io_uring_write()" in "\n".join(getattr(found, "__notes__", []))
    else:
        assert "ovl_file_accessed -> touch_atime" in found.message
    assert found.trace is not None
    saved = tmp_path / "cx.json"
    saved.write_text(str(found).splitlines()[-1])
    assert check_replay(cat["seed"], load(saved)).prop == found.prop


def test_a_broken_copy_is_found_with_its_property() -> None:
    found = _find(SEED_NO_PUT_AFTER_SUBMIT.impl, "thread", _hunt())
    assert found.prop == SEED_NO_PUT_AFTER_SUBMIT.expect == "LEAK"


def test_the_printed_program_replays() -> None:
    """What Hypothesis prints is a program against the module's machine classes."""
    m = machine("ovl-5.6", "thread")
    assert getattr(hr, m.__name__) is m
    state = m()
    try:
        state.submit(kind="read", sync=False, slot=0, offset=0, length=4096, direct=False)
        state.run_actor(actor="submitter", nth=0, steps=12)  # up to the queued IO
        state.run_actor(actor="completion", nth=0, steps=12)  # frees the wrapper
        state.run_actor(actor="lower", nth=0, steps=1)  # L2: touches the freed clone
        with pytest.raises(Broken) as e:
            state.holds()
        assert e.value.prop == "UAF"
    finally:
        with pytest.raises(Broken):
            state.teardown()


def test_data_integrity_is_an_invariant() -> None:
    """A byte changed behind the machine's back is found, with its place."""
    state = machine("seed", "thread")()
    try:
        state.submit(kind="write", sync=True, slot=1, offset=0, length=512, direct=False)
        state.run_actor(actor="submitter", nth=0, steps=12)
        state.settle()
        state.holds()
        with open(state.ws.root / "backing", "r+b") as f:
            f.seek(7)
            f.write(bytes([state.shadow[7] ^ 0xFF]))
        state._file_matches(except_live=False)
        with pytest.raises(Broken, match="byte 7 of the file") as e:
            state.holds()
        assert e.value.prop == "DATA"
    finally:
        state.broken = None
        state.teardown()


def test_faults_and_profiles() -> None:
    assert "alloc=alloc fails" in FAULTS and "submit=queues (inline)" in FAULTS
    assert not any(f.endswith(("=alloc ok", "=queues", "=res RES")) for f in FAULTS)
    assert not any(f.startswith("caller_comp=") for f in FAULTS)  # io_uring_write's
    m = machine("seed", "thread", io_uring=False)
    assert m.__name__ == "Refimpl_seed_thread_aio_only" and getattr(hr, m.__name__) is m
    assert not m.io_uring and machine("seed", "thread").io_uring
    assert set(PROFILES) == {"quick", "ci"}
    assert profile("ci").max_examples > profile("quick").max_examples
    with pytest.raises(ValueError, match="unknown profile"):
        profile("nope")


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["seed-fixed", "ovl-5.16", "mainline"])
def test_good_versions_hold_ci_profile(name: str, backend: str) -> None:
    run_state_machine_as_test(machine(name, backend, io_uring=IO_URING[name]),
                              settings=settings(profile("ci"), database=None))
