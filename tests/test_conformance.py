"""Conformance of the reference implementation to the model: its runs are the model's
runs, step by step, with the same verdicts; the model's counterexamples are real bugs in
running code; deliberately broken copies are caught by property."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from backing_aio.cli.main import main as cli
from backing_aio.crosscheck.conformance import Conformance, as_trace, check_run
from backing_aio.crosscheck.search import explore, programs, reachable, run_checked, run_trace
from backing_aio.model.lang import Variant
from backing_aio.model.variants import named
from backing_aio.refimpl.env import (
    ALL_OPTIONS,
    CALLER_COMP_YES,
    MODEL_OPTIONS,
    NO_FAULTS,
    Refinement,
    model_choice,
)
from backing_aio.refimpl.helpers import IMPLEMENTATIONS, Helpers
from backing_aio.refimpl.kernel import Kernel
from backing_aio.refimpl.run import BLOCK, IoSpec, Workspace, stress
from backing_aio.refimpl.sched import Free
from backing_aio.refimpl.vfs import EAGAIN, EIOCBQUEUED
from backing_aio.verify.explorer import explore as explore_model
from backing_aio.verify.trace import check_replay, concretise
from backing_aio.vocab import Choice
from tests.broken import BROKEN, SEED_CLEANUP_ALSO_QUEUED, SEED_NO_PUT_AFTER_SUBMIT

TYPES = ["read", "write", "sync-read", "sync-write"]
needs_uring = pytest.mark.uring
BACKENDS = ["thread", pytest.param("uring", marks=needs_uring)]

# The seed passes the issuer's IOCB_DIO_CALLER_COMP down to the clone and calls
# ovl_file_accessed() from a read's completion (test_the_seed_passes_on_a_deferred_
# completion, test_every_run_is_a_model_run_and_back); where a test is about something
# else, seed-fixed runs: the seed with the two changes its release made.


@pytest.fixture(scope="module")
def ws() -> Iterator[Workspace]:
    with Workspace(size=256 * BLOCK) as w:
        yield w


@pytest.mark.parametrize("n", [1, 2])
def test_ovl56_use_after_free_happens_in_running_code(
        cat: dict[str, Variant], ws: Workspace, n: int) -> None:
    """Acceptance: on the interleaving of the model's counterexample, the v5.6 code
    frees the wrapper in the completion while the lower fs, still inside submit, touches
    the clone; the checking allocator catches the access, naming both sites."""
    v = cat["ovl-5.6"]
    found = explore_model(v, n).violations
    assert ("UAF", "wrapper") in found
    for (prop, subject), cx in found.items():
        trace = concretise(v, cx)
        r = run_trace(trace, ws)
        assert [(e.req, e.actor, e.choice) for e in r.events] == [
            (s.request, s.actor, s.choice) for s in trace.steps]
        assert r.raised and [(f.prop, f.subject) for f in r.findings] == [(prop, subject)]
        # the model says the run's own steps break the same property at the same step
        got = check_replay(v, dataclasses.replace(as_trace(r), prop=prop, subject=subject))
        assert (got.prop, got.subject) == (prop, subject)
        if subject == "wrapper":
            msg = r.findings[0].message
            assert "use-after-free: read of ki_filp of ovl_aio_req#0" in msg
            assert "allocated at ovl_read_iter" in msg or "allocated at ovl_write_iter" in msg
            assert "freed at ovl_aio_cleanup_handler" in msg
            assert "accessed at submit (lower.py" in msg  # L2, in the lower filesystem


def _exhaustive(name: str, rtype: str, ws: Workspace,
                variant: Variant | None = None) -> tuple[set[object], list[str], set[str]]:
    states: set[object] = set()
    problems: list[str] = []
    findings: set[str] = set()
    for specs, can_odirect in programs(rtype, direct_refused=True):
        impl: type[Helpers] | str = name
        e = explore(impl, specs, workspace=ws, can_odirect=can_odirect, variant=variant)
        states |= e.states
        problems += e.disagreements + e.errors + e.verdicts
        findings |= set(e.findings)
    return states, problems, findings


@pytest.mark.parametrize("rtype", TYPES)
@pytest.mark.parametrize("name", [
    "seed", "seed-fixed", "mainline", "ovl-5.6",
    pytest.param("ovl-6.1", marks=pytest.mark.slow),
    pytest.param("ovl-5.16", marks=pytest.mark.slow),
    pytest.param("ovl-6.12", marks=pytest.mark.slow),
    pytest.param("fuse-6.12", marks=pytest.mark.slow)])
def test_every_run_is_a_model_run_and_back(
        cat: dict[str, Variant], ws: Workspace, name: str, rtype: str) -> None:
    """Every interleaving and environment choice of one request: each run conforms
    (every step is the model's next step, the actors ready are those the model enables,
    the verdicts agree), and the runs visit exactly the model's reachable states."""
    states, problems, findings = _exhaustive(name, rtype, ws)
    assert not problems, problems[:3]
    assert states == reachable(cat[name], [rtype])
    want = ({"UAF"} if name == "ovl-5.6" and not rtype.startswith("sync") else
            # the real file opened on the fly: real.flags cleared, the clone's own reference
            {"LEAK"} if name == "ovl-6.1" and not rtype.startswith("sync") else
            {"RESULT_PROPAGATED"} if name == "seed" and rtype == "write" else
            # ovl_rw_complete calls ovl_file_accessed() from the read's completion
            {"CONTEXT"} if name == "seed" and rtype == "read" else set())
    assert findings == want


@pytest.mark.parametrize(("name", "rtype"), [("loop", "read"), ("loop", "write"),
                                           ("erofs", "read")])
def test_every_run_of_another_upper_side_is_a_model_run_and_back(
        cat: dict[str, Variant], ws: Workspace, name: str, rtype: str) -> None:
    """The loop driver (a block request's pdu) and erofs (a bio in its wrapper) in refimpl:
    every interleaving and choice of one request conforms, visits exactly the model's
    reachable states, and breaks nothing."""
    states, problems, findings = _exhaustive(name, rtype, ws)
    assert not problems, problems[:3]
    assert states == reachable(cat[name], [rtype])
    assert findings == set()


@pytest.mark.parametrize("name", ["seed-fixed", "mainline", "ovl-5.16", "ovl-5.6", "ovl-6.1",
                                  "ovl-6.12", "fuse-6.12", "loop", "erofs"])
def test_seeded_runs_of_many_requests_conform(cat: dict[str, Variant], ws: Workspace,
                                             name: str) -> None:
    kinds = cat[name].kinds
    specs = [IoSpec(t, 2 * BLOCK * i, BLOCK, segments=1 + i % 3)
             for i, t in enumerate(kinds * (8 // len(kinds)))]
    for seed in range(6):
        r, rep = run_checked(name, specs, workspace=ws, seed=seed)
        assert rep.agrees(r.findings) and not r.errors, rep.explain(r.findings)
        if not cat[name].expect:
            assert not r.findings and r.file_ok and rep.steps == len(r.events)


def test_61s_real_file_opened_on_the_fly_leaks_and_the_fix_drops_it(
        cat: dict[str, Variant], ws: Workspace) -> None:
    """Real IO through 6.1's code with ovl_real_fdget() opening the real file on the fly:
    the clone's get_file() reference is dropped by the put, the open's own is not (its
    fdput() sees real.flags cleared), and the runs are the model's with its LEAK. With the
    upstream fix (the flags left alone) every reference goes and nothing is found."""
    opened = {**NO_FAULTS, "fdget": (Choice.FD_OPENED,)}
    specs = [IoSpec("read", 0, BLOCK), IoSpec("write", 2 * BLOCK, BLOCK)]
    r, rep = run_checked("ovl-6.1", specs, workspace=ws, seed=0, options=opened)
    assert rep.agrees(r.findings) and not r.errors, rep.explain(r.findings)
    assert {f.prop for f in r.findings} == {"LEAK"}
    v = cat["ovl-6.1"]
    fixed = v.with_procs({n: tuple(st for st in b if st.op != "fd_clear_flags")
                          for n, b in v.procs.items()}, name="ovl-6.1-fixed",
                         expect=frozenset())

    class Ovl61Fixed(IMPLEMENTATIONS["ovl-6.1"]):  # type: ignore[misc, valid-type]
        name = "ovl-6.1-fixed"

        def hand_over_fd(self, aio_req: object, real: object) -> None:
            pass  # the fix: no real.flags = 0, fdput() drops the file opened on the fly

    r, rep = run_checked(Ovl61Fixed, specs, workspace=ws, seed=0, options=opened,
                         variant=fixed)
    assert rep.agrees(r.findings) and not r.errors, rep.explain(r.findings)
    assert not r.findings and r.file_ok


@pytest.mark.parametrize("name", ["seed-fixed", "mainline", "ovl-5.16", "ovl-6.12", "loop",
                                  "erofs"])
def test_eagain_under_iocb_nowait_is_the_models_error(cat: dict[str, Variant], ws: Workspace,
                                                     name: str) -> None:
    """The lower filesystem answers -EAGAIN to a kiocb with IOCB_NOWAIT that would block
    (io_uring's first attempt): to the helpers one more error, recorded as the model's
    ``returns -EIO``, and the caller sees -EAGAIN itself. The loop driver and erofs build a
    kiocb of their own (IOCB_DIRECT at most), so their IO blocks and is done instead."""
    eagain = (Refinement.RETURNS_EAGAIN,)
    opts = {**NO_FAULTS, "submit": eagain, "sync": eagain}
    kinds = cat[name].kinds
    specs = [IoSpec(t, 2 * BLOCK * i, BLOCK, nowait=True) for i, t in enumerate(kinds)]
    own_kiocb = cat[name].shape != "stacked"
    for seed in range(3):
        r, rep = run_checked(name, specs, workspace=ws, seed=seed, options=opts)
        assert not r.findings and not r.errors and r.file_ok, (r.findings, r.errors)
        assert rep.agrees(r.findings), rep.explain(r.findings)
        got = [q.completed if q.returned == -EIOCBQUEUED else q.returned for q in r.requests]
        assert got == [BLOCK if own_kiocb else -EAGAIN] * len(specs)
        recorded = {e.choice for e in r.events if e.choice.startswith("returns")}
        assert recorded == ({"returns RES"} if own_kiocb else {"returns -EIO"})
    # without IOCB_NOWAIT the same plan blocks and does the IO
    plain = [IoSpec(t, 2 * BLOCK * i, BLOCK) for i, t in enumerate(kinds)]
    r, rep = run_checked(name, plain, workspace=ws, seed=0, options=opts)
    assert not r.findings and rep.agrees(r.findings)
    assert [q.lower_res for q in r.requests] == [BLOCK] * len(plain)


@pytest.mark.parametrize("name", ["seed-fixed", "mainline"])
def test_refinements_conform(ws: Workspace, name: str) -> None:
    """Short counts, ENOSPC, inline completions: not separate in the model, still its
    runs (an inline completion hides the lower fs's step, so fewer actors are ready)."""
    specs = [IoSpec(t, 2 * BLOCK * i, BLOCK) for i, t in enumerate(TYPES * 2)]
    inline = {**ALL_OPTIONS, "submit": (
        "queues (inline)", "returns RES (short)", "returns -ENOSPC")}
    for seed in range(6):
        r, rep = run_checked(name, specs, workspace=ws, seed=seed, options=inline,
                             require_all_enabled=False)
        assert not r.findings and r.file_ok
        assert rep.agrees(r.findings), rep.explain(r.findings)


@pytest.mark.parametrize("submit", ["queues", "queues (inline)"])
def test_the_seed_passes_on_a_deferred_completion(cat: dict[str, Variant], ws: Workspace,
                                                 submit: str) -> None:
    """The upper layer (io_uring) sets IOCB_DIO_CALLER_COMP on an async write; the seed
    copies it to the clone, so the lower filesystem completes the queued write with 0 and
    leaves the real result in the clone's deferred completion, which nobody runs: the
    caller's callback gets 0. refimpl finds RESULT_PROPAGATED, the model finds it at the
    same step, and the run replays on the model as a counterexample. Mainline clears the
    flag before it clones (clear_ki_flag): the same run holds."""
    opts = {**NO_FAULTS, "submit": (submit,), "caller_comp": (CALLER_COMP_YES,)}
    specs = [IoSpec("write", 0, BLOCK)]
    r, rep = run_checked("seed", specs, workspace=ws, seed=0, options=opts,
                         require_all_enabled=submit == "queues")
    assert r.props == ["RESULT_PROPAGATED"] and r.raised, r.findings
    assert "ovl_rw_complete gets 0" in r.findings[0].message
    assert "IOCB_DIO_CALLER_COMP" in r.findings[0].message
    assert rep.conforms and rep.props == ["RESULT_PROPAGATED"], rep.explain(r.findings)
    assert rep.agrees(r.findings) and rep.at_step == len(r.events)
    assert "IOCB_DIO_CALLER_COMP" in rep.violations[0].message
    clone = next(e for e in r.events if e.op == "kiocb_clone")
    assert clone.choice == CALLER_COMP_YES
    q = r.requests[0]
    assert q.caller_comp and q.deferred and q.lower_res == BLOCK
    trace = as_trace(r, "RESULT_PROPAGATED")
    assert check_replay(cat["seed"], trace).prop == "RESULT_PROPAGATED"

    r, rep = run_checked("mainline", specs, workspace=ws, seed=0, options=opts,
                         require_all_enabled=submit == "queues")
    assert not r.findings and not r.errors and r.file_ok, r.findings
    assert rep.conforms and not rep.violations and rep.steps == len(r.events)
    ops = [e.op for e in r.events if e.actor == "submitter"]
    # WARN_ON_ONCE, zero length, file_remove_privs and its check, O_DIRECT, then the clear
    assert ops[:7] == ["if_goto", "if_goto", "file_remove_privs", "if_goto", "if_goto",
                       "clear_ki_flag", "if_goto"], ops
    assert next(e for e in r.events if e.op == "kiocb_clone").choice == CALLER_COMP_YES
    q = r.requests[0]
    assert q.caller_comp and not q.deferred and q.completed == BLOCK


def test_the_models_deferred_completion_counterexample_runs_on_refimpl(
        cat: dict[str, Variant], ws: Workspace) -> None:
    """The model's counterexample for the seed's write, run on refimpl step by step (the
    upper layer's decision taken from the step that records it): the running code finds
    the same property."""
    v = cat["seed"]
    found = explore_model(v, 1, kinds=["write"]).violations
    assert set(found) == {("RESULT_PROPAGATED", "")}
    trace = concretise(v, found[("RESULT_PROPAGATED", "")])
    assert CALLER_COMP_YES in {s.choice for s in trace.steps}
    r = run_trace(trace, ws)
    assert [(e.req, e.actor, e.choice) for e in r.events] == [
        (s.request, s.actor, s.choice) for s in trace.steps]
    assert r.raised and r.props == ["RESULT_PROPAGATED"]


def test_context_on_a_later_kernel_agrees(cat: dict[str, Variant], ws: Workspace) -> None:
    """The v5.16 code on v6.7, where ovl_copyattr takes a lock that is not irq-safe: its
    queued write's completion breaks CONTEXT in refimpl and in the model (the variant with
    the later kernel), at the same step; every interleaving of one write conforms."""
    from backing_aio.refimpl.helpers import IMPLEMENTATIONS

    impl = type("Ovl516On67", (IMPLEMENTATIONS["ovl-5.16"],), {"kernel": "6.7"})
    v = dataclasses.replace(cat["ovl-5.16"], kernel="6.7")
    r, rep = run_checked(impl, [IoSpec("write", 0, BLOCK)], workspace=ws, seed=0,
                         options=NO_FAULTS, variant=v)
    assert r.props == ["CONTEXT"] and rep.props == ["CONTEXT"], rep.explain(r.findings)
    assert rep.agrees(r.findings) and rep.at_step == len(r.events)
    e = explore(impl, [IoSpec("write", 0, BLOCK)], workspace=ws, variant=v)
    assert not e.disagreements and not e.errors and not e.verdicts, (
        e.disagreements + e.errors + e.verdicts)[:3]
    assert set(e.findings) == {"CONTEXT"}


def test_a_skipped_statement_is_the_first_step_the_model_cannot_take(
        cat: dict[str, Variant], ws: Workspace) -> None:
    r, _ = run_checked(SEED_NO_PUT_AFTER_SUBMIT.impl, [IoSpec("read", 0)], workspace=ws, seed=0,
                       options=NO_FAULTS, variant="seed")
    rep = check_run(cat["seed"], r)
    assert rep.mismatch is not None and not rep.agrees(r.findings)
    assert rep.mismatch.event.op == "if_goto"
    assert "the model is at call (backing_file_read_iter:13" in rep.mismatch.reason


@pytest.mark.parametrize("name", list(BROKEN))
def test_broken_copies_are_caught_by_property(ws: Workspace, name: str) -> None:
    """Acceptance: each broken copy is caught, the finding's property asserted: on the
    model mutant's own counterexample, under seeded schedules without the model, and
    every run of it (all interleavings of one read) is a run of that mutant."""
    cls, expect = BROKEN[name].impl, BROKEN[name].expect
    v = named(name)
    found = explore_model(v, 1, kinds=["read"]).violations
    cx = next(c for (p, _), c in found.items() if p == expect)
    r = run_trace(concretise(v, cx), ws, cls)
    assert expect in {f.prop for f in r.findings}, r.findings

    caught: set[str] = set()
    for seed in range(8):
        specs = [IoSpec("read", 0), IoSpec("read", 2 * BLOCK)]
        r, _ = run_checked(cls, specs, workspace=ws, seed=seed, options=NO_FAULTS, variant=v)
        caught |= {f.prop for f in r.findings}
    assert expect in caught

    e = explore(cls, [IoSpec("read", 0)], workspace=ws, variant=v)
    assert not e.disagreements and not e.errors, (e.disagreements + e.errors)[:3]
    assert expect in e.findings
    if cls is SEED_CLEANUP_ALSO_QUEUED.impl:
        # The model judges the position by when it was copied; the running code can only
        # see its value, which a failed IO leaves unchanged: there the run's first finding
        # is the callback's wrong result instead.
        assert all("the model finds POS_BEFORE_CALLBACK" in d and
                   "the run finds RESULT_PROPAGATED" in d and "-5" in d for d in e.verdicts)
    else:
        assert not e.verdicts, e.verdicts[:3]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["seed-fixed", "mainline"])
def test_stress_with_faults_conforms_and_keeps_every_byte(ws: Workspace, name: str,
                                                          backend: str) -> None:
    """Many requests from several tasks, freely scheduled on real threads, queued IO done
    by the backend (completion threads, or io_uring reaped on its own thread), some real
    O_DIRECT, faults injected: every step conforms, nothing leaks, the file equals its
    shadow copy."""
    holder: dict[str, Conformance] = {}

    def attach(k: Kernel, sched: Free) -> None:
        c = Conformance(named(name), lambda i: k.requests[i].rtype)
        holder["c"] = c
        sched.on_events = c.feed

    r = stress(name, 1500, workspace=ws, seed=3, tasks=6, on_kernel=attach, backend=backend,
               options=ALL_OPTIONS)
    assert not r.findings and not r.errors and r.file_ok, (r.findings, r.errors)
    rep = holder["c"].finish(range(r.requests))
    assert rep.conforms and not rep.violations, rep.explain()
    assert rep.steps == r.steps
    assert any("queued" in k for k in r.outcomes)
    if name in ("mainline", "seed-fixed"):  # they clear the flag: io_uring's writes complete
        assert any(k.startswith("write") and " caller_comp queued" in k for k in r.outcomes)
    assert any(k.endswith("-5") for k in r.outcomes)
    if ws.direct_io:
        # misaligned O_DIRECT: -EINVAL from the real kernel, returned or (when the plan
        # queued it) given to the completion
        assert r.direct and any(" direct" in k and k.endswith(" -22") for k in r.outcomes)


@needs_uring
@pytest.mark.parametrize("name", ["seed-fixed", "mainline", "ovl-5.6"])
def test_uring_runs_conform(ws: Workspace, name: str) -> None:
    """Controlled runs on io_uring: every completion the model arms is ready once its CQE
    is reaped, in any order; the runs are the model's, with the same verdicts."""
    specs = [IoSpec(t, 2 * BLOCK * i, BLOCK, direct=i % 3 == 0, segments=1 + i % 3)
             for i, t in enumerate(TYPES * 2)]
    for seed in range(6):
        r, rep = run_checked(name, specs, workspace=ws, seed=seed, backend="uring")
        assert rep.agrees(r.findings) and not r.errors, rep.explain(r.findings)
        if name != "ovl-5.6":
            assert not r.findings and r.file_ok and rep.steps == len(r.events)


@needs_uring
def test_uring_every_run_is_a_model_run(cat: dict[str, Variant], ws: Workspace) -> None:
    """Every interleaving and environment choice of one async write on io_uring."""
    e = explore("mainline", [IoSpec("write", 0, BLOCK)], workspace=ws, backend="uring")
    assert not e.disagreements and not e.errors and not e.verdicts and not e.findings
    assert e.states <= reachable(cat["mainline"], ["write"]) and len(e.states) > 20


def test_model_options_are_the_models_choices() -> None:
    """The environment tables name the model's choices (MODEL_OPTIONS exactly); the
    refinements refine them (tests/test_refimpl_vocab.py checks each names its choice)."""
    spelled = {c for opts in MODEL_OPTIONS.values() for c in opts}
    assert spelled == {"alloc ok", "alloc fails", "borrowed", "opened (FDPUT_FPUT)",
                       "fdget fails", "privs ok", "privs fail",
                       "wq ok", "wq fails", "returns RES", "returns -EIO", "queues",
                       "res RES", "res -EIO", "caller_comp: yes", "caller_comp: no",
                       "not_backing: yes", "not_backing: no"}
    for what, opts in ALL_OPTIONS.items():
        assert set(MODEL_OPTIONS[what]) <= set(opts)
        for o in opts:
            assert model_choice(o) in MODEL_OPTIONS[what], o


@pytest.mark.slow
def test_two_requests_every_interleaving(cat: dict[str, Variant], ws: Workspace) -> None:
    """Two requests sharing the backing file's count (an async read and a sync write),
    every interleaving of their actors: all conform, all inside the model's states."""
    kinds = ["read", "sync-write"]
    specs = [IoSpec(k, 2 * BLOCK * i, BLOCK) for i, k in enumerate(kinds)]
    e = explore("mainline", specs, workspace=ws)
    assert not e.disagreements and not e.errors and not e.verdicts and not e.findings
    assert e.states <= reachable(cat["mainline"], kinds)
    assert len(e.states) > 1000


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["seed-fixed", "mainline"])
def test_long_stress_conforms(name: str, backend: str) -> None:
    holder: dict[str, Conformance] = {}

    def attach(k: Kernel, sched: Free) -> None:
        c = Conformance(named(name), lambda i: k.requests[i].rtype)
        holder["c"] = c
        sched.on_events = c.feed

    with Workspace(size=1024 * BLOCK) as w:
        r = stress(name, 20_000, workspace=w, seed=11, tasks=8, on_kernel=attach,
                   backend=backend, options=ALL_OPTIONS)
    assert not r.findings and not r.errors and r.file_ok, (r.findings, r.errors)
    rep = holder["c"].finish(range(r.requests))
    assert rep.conforms and not rep.violations and rep.steps == r.steps


def test_bench_rows_checked_next_to_unchecked(tmp_path: Path) -> None:
    """The benchmark's command: rows for every variant, backend and mode, the checked
    rows with their cost against checking off, and a note on O_DIRECT."""
    out = tmp_path / "bench.txt"
    assert cli(["conform", "bench", "-n", "150", "--variant", "seed-fixed", "--backend", "thread",
                "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0].split()[:3] == ["variant", "backend", "mode"]
    rows = [ln.split() for ln in lines[1:3]]
    assert [r[:3] for r in rows] == [["seed-fixed", "thread", "unchecked"],
                                      ["seed-fixed", "thread", "checked"]]
    assert int(rows[0][5]) >= 150 and rows[1][-2] == "yes" and rows[1][-1].endswith("x")
    assert any(ln.startswith("# O_DIRECT") for ln in lines)


@pytest.mark.parametrize("argv", [["bench", "--variant", "nope"], ["bench", "-n", "0"], [],
                                  ["bench", "--backend", "floppy"]])
def test_bench_usage_errors_are_one_line_exit_2(argv: list[str],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["conform", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("backing-aio: error: ")


@pytest.mark.parametrize("argv", [["--variant", "nope"], ["--repeat", "0"], ["--bogus"]])
def test_explorer_bench_usage_errors_are_one_line_exit_2(
        argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["bench", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("backing-aio: error: ")


def test_a_run_the_harness_broke_agrees_with_nothing(ws: Workspace,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash of the harness is not a run of the code: its (empty) trace must not pass
    for a clean run that the model agrees with."""
    from backing_aio.refimpl.upper import Upper

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("harness bug")

    monkeypatch.setattr(Upper, "submit", broken)
    r, rep = run_checked("ovl-5.6", [IoSpec("read", 0, BLOCK)], workspace=ws, seed=0)
    assert r.errors and not rep.conforms and not rep.agrees(r.findings)
    assert "harness bug" in rep.explain(r.findings)
