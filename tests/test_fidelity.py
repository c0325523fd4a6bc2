"""What the model says because it knows the kernel: the environment follows from the kernel
a variant runs on (backing_aio.kapi), kiocb flags are data, context follows from what a
callback calls, the caller's stack dies when it returns, the superblock's workqueue may be
set up at mount. Each test edits a catalogue entry the way a refactor would and checks
both sides: the edit is reported with the property and subject it breaks, and the code
without the edit (or on a kernel where the edit is harmless) is not."""

from __future__ import annotations

import dataclasses

import pytest

from backing_aio import kapi
from backing_aio.model.catalogue import catalogue
from backing_aio.model.lang import (
    Callback,
    ClearKiFlag,
    InitWq,
    QueueWork,
    Stmt,
    Val,
    Variant,
    VariantError,
    stmt,
)
from backing_aio.model.variants import named
from backing_aio.verify.explorer import Result, explore


def _cat(name: str) -> Variant:
    return catalogue()[name]


def _edit(v: Variant, proc: str, change: dict[int, Stmt | None], **fields: object) -> Variant:
    """``v`` with statements of ``proc`` replaced (or, for None, removed)."""
    body = [change.get(i, s) for i, s in enumerate(v.procs[proc])] if change else list(
        v.procs[proc])
    kept = tuple(s for s in body if s is not None)
    return v.with_procs({**v.procs, proc: kept}, **{"name": f"{v.name}-edited", **fields})


def _index(v: Variant, proc: str, cls: type[Stmt]) -> int:
    return next(i for i, s in enumerate(v.procs[proc]) if isinstance(s, cls))


def _subjects(r: Result, prop: str) -> set[str]:
    return {subject for p, subject in r.violations if p == prop}


# ---- the kernel version ----

def test_the_environment_follows_from_the_kernel() -> None:
    k = kapi.Kernel.parse
    assert kapi.freeze(k("6.7")) == "caller" and kapi.freeze(k("6.8")) == "callee"
    assert not kapi.has_dio_caller_comp(k("6.5"))
    assert kapi.has_dio_caller_comp(k("6.6")) and kapi.has_dio_caller_comp(k("6.18"))
    assert not kapi.has_dio_caller_comp(k("6.19"))
    assert k("v6.12.117") == k("6.12") and str(k("5.16")) == "v5.16"
    with pytest.raises(kapi.KernelError, match=r"not major\.minor"):
        k("six")


def test_a_kernel_outside_the_table_or_an_unknown_caller_is_refused() -> None:
    v = _cat("mainline")
    with pytest.raises(VariantError, match="outside what the model describes"):
        dataclasses.replace(v, kernel="4.19")
    with pytest.raises(VariantError, match="unknown caller 'ext9'"):
        dataclasses.replace(v, caller="ext9")
    with pytest.raises(VariantError, match="unknown kernel function 'frobnicate'"):
        _edit(v, "backing_aio_cleanup", {0: stmt("callback", "frobnicate();",
                                                 fn="frobnicate", via="direct")})


# ---- IOCB_DIO_CALLER_COMP ----

def _without_the_clear() -> Variant:
    v = _cat("mainline")
    proc = "backing_file_write_iter"
    return _edit(v, proc, {_index(v, proc, ClearKiFlag): None})


@pytest.mark.parametrize("kernel", ["6.8", "6.12", "6.18"])
def test_without_clearing_dio_caller_comp_a_queued_write_completes_with_0(kernel: str) -> None:
    r = explore(dataclasses.replace(_without_the_clear(), kernel=kernel), 1, kinds=["write"])
    assert r.failed == {"RESULT_PROPAGATED"}
    message = r.counterexample("RESULT_PROPAGATED").message
    assert "IOCB_DIO_CALLER_COMP" in message and "gets 0" in message


def test_the_same_code_holds_where_the_flag_does_not_exist() -> None:
    assert explore(dataclasses.replace(_without_the_clear(), kernel="6.19"), 2).failed == (
        frozenset())
    assert explore(dataclasses.replace(_cat("mainline"), kernel="6.8"), 2).failed == (
        frozenset())


def test_mainline_on_a_kernel_before_v6_8_issues_writes_without_freeze_protection() -> None:
    # before v6.8 vfs_iocb_iter_write left freeze protection to its caller
    r = explore(dataclasses.replace(_cat("mainline"), kernel="6.7"), 1, kinds=["write"])
    assert r.failed == {"FREEZE_BALANCED"}
    assert "without freeze protection" in r.counterexample("FREEZE_BALANCED").message


def test_the_seed_breaks_result_propagated_on_v6_6_and_only_through_the_flag() -> None:
    seed = _cat("seed")
    assert explore(seed, 1, kinds=["write"]).failed == {"RESULT_PROPAGATED"}
    assert explore(seed, 1, kinds=["sync-write"]).failed == frozenset()
    fixed = _edit(seed, "ovl_write_iter", {}, name="seed-with-clear")
    body = fixed.procs["ovl_write_iter"]
    fixed = fixed.with_procs({**fixed.procs, "ovl_write_iter": (
        body[0], stmt("clear_ki_flag", "ifl &= ~IOCB_DIO_CALLER_COMP;",
                      flag="IOCB_DIO_CALLER_COMP", of="flags"), *body[1:])})
    # the clear removes RESULT_PROPAGATED; the read's completion still calls
    # ovl_file_accessed() (the seed's other fault)
    assert explore(fixed, 2).failed == {"CONTEXT"}


def test_the_seeds_callback_branches_on_the_original_kiocb() -> None:
    # ovl_rw_complete, written out: ovl_copyattr() for an original carrying IOCB_WRITE,
    # ovl_file_accessed() otherwise. An async read's completion takes the second branch,
    # in irq context; a sync read and a sync write take it in the submitter (init_sync_
    # kiocb sets no IOCB_WRITE); an async write takes the first, lock-free on v6.6.
    seed = _cat("seed")
    r = explore(seed, 1, kinds=["read"])
    assert r.failed == {"CONTEXT"}
    assert "ovl_file_accessed -> touch_atime" in r.counterexample("CONTEXT").message
    assert explore(seed, 1, kinds=["sync-read"]).failed == frozenset()
    # on v6.7 ovl_copyattr takes i_lock: then the write branch fails too
    later = dataclasses.replace(seed, kernel="6.7", name="seed-on-6.7")
    w = explore(later, 1, kinds=["write"])
    assert "CONTEXT" in w.failed
    assert "ovl_copyattr" in w.counterexample("CONTEXT").message
    # seed-fixed keeps the write branch alone and calls ovl_file_accessed() itself; the
    # refactor that moves that call into the completion (the dropped prep patch) fails
    assert explore(_cat("seed-fixed"), 2).failed == frozenset()
    moved = named("seed-fixed:move>backing_aio_rw_complete:ovl_read_iter#3(kcall)")
    assert explore(moved, 1).failed == {"CONTEXT"}


# ---- context from what a callback calls ----

def test_accessed_moved_into_the_read_completion_fails_context() -> None:
    v = _cat("mainline")
    read = "backing_file_read_iter"
    i = _index(v, read, Callback)
    accessed = v.procs[read][i]
    # the tag "out" moves to the statement that now stands in its place
    body = [*v.procs[read][:i], dataclasses.replace(v.procs[read][i + 1], tag="out"),
            *v.procs[read][i + 2:]]
    complete = (dataclasses.replace(accessed, tag=None), *v.procs["backing_aio_rw_complete"])
    moved = v.with_procs({**v.procs, read: tuple(body), "backing_aio_rw_complete": complete},
                         name="accessed-in-completion")
    r = explore(moved, 1, kinds=["read"])
    assert "CONTEXT" in r.failed
    message = r.counterexample("CONTEXT").message
    assert "ovl_file_accessed -> touch_atime needs process context" in message


def test_completing_writes_without_the_punt_fails_context_from_v6_7_only() -> None:
    v = _cat("mainline")
    write = "backing_file_write_iter"
    i = next(i for i, s in enumerate(v.procs[write]) if s.op == "set_ki_complete")
    direct = _edit(v, write, {i: dataclasses.replace(v.procs[write][i],
                                                     proc="backing_aio_rw_complete")})
    assert explore(direct, 1, kinds=["write"]).failed == {"CONTEXT"}
    # before v6.7 ovl_copyattr took no lock: the same completion is fine in irq context
    # (v6.6 also has no callee freeze contract: the helpers' own start/end is what differs,
    # so check the context verdict alone)
    old = explore(dataclasses.replace(direct, kernel="6.6"), 1, kinds=["write"])
    assert "CONTEXT" not in old.failed


def test_ovl_copyattr_in_the_irq_completion_is_fine_before_v6_7_and_not_after() -> None:
    v = _cat("ovl-5.16")
    assert explore(v, 2).failed == frozenset()
    r = explore(dataclasses.replace(v, kernel="6.7"), 1, kinds=["write"])
    assert "CONTEXT" in r.failed
    assert "ovl_copyattr needs process context on v6.7" in r.counterexample(
        "CONTEXT").message


# ---- the caller's stack ----

def test_a_completion_that_reads_the_callers_ctx_after_return_is_a_use_after_return() -> None:
    v = _cat("mainline")
    proc = "backing_aio_cleanup"
    i = _index(v, proc, Callback)
    via_ctx = _edit(v, proc, {i: dataclasses.replace(
        v.procs[proc][i], label="ctx->end_write(orig_iocb->ki_filp, iocb->ki_pos, res);",
        via="ctx")})
    r = explore(via_ctx, 1, kinds=["write"])
    assert _subjects(r, "UAF") == {"caller's stack (use after return)"}
    # the same read in the submitter, before it returns, is fine: mainline reads ctx there
    assert explore(v, 1, kinds=["sync-write", "read"]).failed == frozenset()


# ---- the owner's file ----

def _no_get_file_no_fput(v: Variant) -> Variant:
    clone = "backing_file_read_iter"
    i = next(i for i, s in enumerate(v.procs[clone]) if s.op == "kiocb_clone")
    v = _edit(v, clone, {i: dataclasses.replace(v.procs[clone][i], get_file=False)})
    put = "backing_aio_put"
    j = next(i for i, s in enumerate(v.procs[put]) if s.op == "fput_clone")
    w = "backing_file_write_iter"
    k = next(i for i, s in enumerate(v.procs[w]) if s.op == "kiocb_clone")
    v = _edit(v, w, {k: dataclasses.replace(v.procs[w][k], get_file=False)})
    return _edit(v, put, {j: None})


def test_without_get_file_and_fput_a_file_opened_on_the_fly_is_used_after_free() -> None:
    r = explore(_no_get_file_no_fput(_cat("ovl-6.12")), 1, kinds=["read"])
    assert _subjects(r, "UAF") == {"file opened on the fly"}
    # with a borrowed file (the caller holds it for the whole run) the same code is fine:
    # only a caller that opens the file on the fly shows the bug
    assert explore(_no_get_file_no_fput(_cat("mainline")), 2).failed == frozenset()


# ---- the superblock's workqueue ----

def _without_init_wq(v: Variant, **fields: object) -> Variant:
    w = "backing_file_write_iter"
    i = _index(v, w, InitWq)
    body = list(v.procs[w])
    body[i + 1] = dataclasses.replace(body[i + 1], tag=body[i].tag)
    del body[i]
    return v.with_procs({**v.procs, w: tuple(body)}, name="no-init-wq", **fields)


def test_a_workqueue_set_up_at_mount_is_not_a_bug_and_a_missing_one_is() -> None:
    v = _cat("mainline")
    assert _subjects(explore(_without_init_wq(v), 1, kinds=["write"]), "UAF") == {
        "s_dio_done_wq"}
    at_mount = _without_init_wq(v, at_mount=frozenset({"s_dio_done_wq"}))
    assert explore(at_mount, 2).failed == frozenset()
    # set up at mount, the helper's own init can no longer fail
    assert explore(dataclasses.replace(v, at_mount=frozenset({"s_dio_done_wq"})),
                   1, kinds=["write"]).states < explore(v, 1, kinds=["write"]).states


def test_queueing_on_the_backing_filesystems_superblock_is_reported() -> None:
    v = _cat("mainline")
    proc = "backing_aio_queue_completion"
    i = _index(v, proc, QueueWork)
    lower = _edit(v, proc, {i: dataclasses.replace(v.procs[proc][i], sb="lower")})
    assert _subjects(explore(lower, 1, kinds=["write"]), "UAF") == {"s_dio_done_wq"}


# ---- error paths of the real code ----

def test_ovl_5_16_refuses_odirect_the_real_file_cannot_do() -> None:
    # v5.15's check: ret = -EINVAL, then straight to fdput, before any IO or allocation
    from backing_aio.model.effects import Change
    from backing_aio.model.semantics import Action, BackingAio, State
    from backing_aio.model.state import DONE, ENV_BIT, Wrapper
    from backing_aio.verify.graph import walk

    odirect = ENV_BIT["odirect_unsupported"] << 1  # the answer: yes
    model = BackingAio(_cat("ovl-5.16"))
    for rtype in ("read", "write"):
        ops: set[str] = set()
        returns: set[int] = set()

        def successors(_: int, state: State, ops: set[str] = ops,
                       returns: set[int] = returns) -> list[tuple[Action, State]]:
            r = state[1]
            out = [(a, n) for a, n in model.successors(state, "none") if isinstance(n, tuple)]
            if r == DONE or not r.env & odirect:
                return out
            assert r.wrapper == Wrapper.NONE  # nothing allocated, no IO
            for action, _ in out:
                ops.add(model.where(r, action.actor).stmt.op)  # type: ignore[union-attr]
                _, effects = model.apply_explained(state, action)
                returns |= {e.after for e in effects if e.change == Change.RETURNED}
            return out

        walk([(1, model.new_request(rtype))], successors)
        assert ops == {"fdput", "return_"}, (rtype, ops)
        assert returns == {Val.EINVAL}, (rtype, returns)
    # ovl_real_fdget returns 0: the -EINVAL must be assigned after it
    v = _cat("ovl-5.16")
    body = v.procs["ovl_read_iter"]
    assert [s.op for s in body[1:4]] == ["fdget", "if_goto", "assign"]
    swapped = v.with_procs({**v.procs, "ovl_read_iter": (body[0], body[3], *body[1:3],
                                                         *body[4:])}, name="assign-first")
    r = explore(swapped, 1)
    assert r.failed == {"RESULT_PROPAGATED"}
    assert "returns 0, but the caller must see -EINVAL" in r.counterexample(
        "RESULT_PROPAGATED").message


# ---- freeze protection as lockdep sees it (sb_writers) ----

def _without(v: Variant, proc: str, op: str) -> Variant:
    body = v.procs[proc]
    return _edit(v, proc, {next(i for i, s in enumerate(body) if s.op == op): None})


def test_protection_taken_by_the_task_must_be_handed_on_before_the_completion_ends_it() -> None:
    # v5.6..v6.7 overlayfs: file_start_write + __sb_writers_release in the submitter,
    # __sb_writers_acquired + file_end_write in the completion ("ovl: fix lockdep warning
    # for async write", v5.6-rc6)
    v = _cat("ovl-5.16")
    assert not explore(v, 1).failed
    r = explore(_without(v, "ovl_write_iter", "sb_writers_release"), 1, kinds=["write"])
    assert r.failed == {"FREEZE_BALANCED"}
    assert "__sb_writers_release is missing" in r.counterexample("FREEZE_BALANCED").message


def test_a_plain_file_end_write_of_handed_on_protection_is_the_wrong_party() -> None:
    v = _cat("ovl-5.16")
    body = v.procs["ovl_aio_cleanup_handler"]
    i = next(i for i, s in enumerate(body) if s.op == "kiocb_end_write")
    wrong = _edit(v, "ovl_aio_cleanup_handler",
                  {i: stmt("file_end_write", "file_end_write(iocb->ki_filp);")})
    r = explore(wrong, 1, kinds=["write"])
    assert r.failed == {"FREEZE_BALANCED"}
    assert "the wrong party ends it" in r.counterexample("FREEZE_BALANCED").message


def test_a_nested_start_is_seen_although_the_counts_balance() -> None:
    # the seed's sync write takes protection around vfs_iter_write, which from v6.8 takes
    # it itself: start, start, end, end balances, and deadlocks against a waiting freeze
    seed = _cat("seed-fixed")
    assert not explore(seed, 1).failed
    r = explore(dataclasses.replace(seed, name="seed-on-6.8", kernel="6.8"), 1,
                kinds=["sync-write"])
    assert r.failed == {"FREEZE_BALANCED"}
    assert "nested sb_start_write" in r.counterexample("FREEZE_BALANCED").message
    # the same on an async write: kiocb_start_write, then vfs_iocb_iter_write's own
    m = _cat("mainline")
    body = m.procs["backing_file_write_iter"]
    i = next(i for i, s in enumerate(body) if s.op == "vfs_iocb_iter")
    nested = m.with_procs({**m.procs, "backing_file_write_iter": (
        *body[:i], stmt("kiocb_start_write", "kiocb_start_write(&aio->iocb);"), *body[i:])},
        name="start-twice")
    r = explore(nested, 1, kinds=["write"])
    assert "FREEZE_BALANCED" in r.failed
    assert "nested" in r.counterexample("FREEZE_BALANCED").message


# ---- error paths of the real code ----

def test_a_failed_ovl_real_fdget_must_return_before_using_the_file() -> None:
    v = _cat("ovl-6.12")
    assert not explore(v, 1).failed
    body = v.procs["ovl_read_iter"]
    i = next(i for i, s in enumerate(body) if s.op == "if_goto" and s.label.startswith("if (ret)"))
    r = explore(_edit(v, "ovl_read_iter", {i: None}), 1, kinds=["read"])
    assert _subjects(r, "UAF") == {"ki_filp"}
    assert "no file" in r.counterexample("UAF").message


def test_file_remove_privs_fails_before_any_wrapper_and_may_sleep() -> None:
    m = _cat("mainline")
    body = list(m.procs["backing_file_write_iter"])
    privs = next(i for i, s in enumerate(body) if s.op == "file_remove_privs")
    check = body[privs + 1]
    alloc = next(i for i, s in enumerate(body) if s.op == "kmem_cache_zalloc")
    late = [*body[:privs], *body[privs + 2:alloc + 1], body[privs], check,
            *body[alloc + 1:]]
    r = explore(m.with_procs({**m.procs, "backing_file_write_iter": tuple(late)},
                             name="privs-late"), 1, kinds=["write"])
    assert _subjects(r, "LEAK") == {"wrapper"}  # its error path leaves the wrapper behind
    # called from the completion instead: it may sleep
    done = m.procs["backing_aio_rw_complete"]
    moved = m.with_procs({**m.procs, "backing_aio_rw_complete": (
        body[privs], *done)}, name="privs-in-completion")
    r = explore(moved, 1, kinds=["read"])
    assert "CONTEXT" in r.failed
    assert "file_remove_privs" in r.counterexample("CONTEXT").message


def test_the_helpers_refuse_a_file_that_is_not_a_backing_file_with_eio() -> None:
    from backing_aio.model.effects import Change
    from backing_aio.model.semantics import BackingAio, State
    from backing_aio.model.state import DONE, ENV_BIT
    from backing_aio.verify.graph import walk

    refused = ENV_BIT["not_backing"] << 1
    model = BackingAio(_cat("mainline"))
    returns: set[int] = set()

    def successors(_: int, state: State) -> list[tuple[object, State]]:
        out = [(a, n) for a, n in model.successors(state, "none") if isinstance(n, tuple)]
        r = state[1]
        if r != DONE and r.env & refused:
            for action, _n in out:
                _, effects = model.apply_explained(state, action)
                returns.update(e.after for e in effects if e.change == Change.RETURNED)
        return out

    for rtype in ("read", "write"):
        walk([(1, model.new_request(rtype))], successors)
    assert returns == {Val.ERR}


# ---- which callback runs ----

def test_a_callback_the_caller_hands_over_for_the_other_kind_is_reported() -> None:
    # overlayfs passes ctx.accessed for a read and ctx.end_write for a write (kapi.CALLERS)
    m = _cat("mainline")
    assert not explore(m, 1).failed
    body = m.procs["backing_file_read_iter"]
    i = next(i for i, s in enumerate(body) if isinstance(s, Callback))
    swapped = _edit(m, "backing_file_read_iter", {i: dataclasses.replace(
        body[i], fn="end_write")})  # type: ignore[call-arg]
    r = explore(swapped, 1, kinds=["read"])
    assert r.failed == {"CLEANUP_ONCE"}
    assert "runs end_write for a read" in r.counterexample("CLEANUP_ONCE").message
    # a caller without such a table (the block and bio shapes) has no callbacks at all
    assert kapi.caller("loop").per_kind == {}
