"""Users of the count of 2 that are not a stacked filesystem: the loop driver's lo_rw_aio
(a block request, the wrapper in its pdu) and erofs's file-backed reads (a bio in the
wrapper, a void submitter). Their catalogue entries hold, their mutants break what the C
would break, and what their shape cannot break is never reported."""

from __future__ import annotations

import pytest

from backing_aio.cli.main import main as cli
from backing_aio.model.catalogue import catalogue
from backing_aio.model.lang import Variant, VariantError
from backing_aio.model.lang import stmt as S
from backing_aio.model.mutants import mutants
from backing_aio.model.properties import not_applicable
from backing_aio.model.semantics import BackingAio
from backing_aio.verify.explorer import explore

CAT = catalogue()


def _mutant(name: str) -> Variant:
    base = name.split(":")[0]
    return next(m.variant for m in mutants(CAT[base]) if m.name == name)


@pytest.mark.parametrize("name", ["loop", "erofs"])
def test_the_entries_hold_for_up_to_three_requests(name: str) -> None:
    for n in (1, 2, 3):
        assert explore(CAT[name], n).failed == frozenset(), (name, n)


def test_what_each_shape_cannot_break() -> None:
    assert not_applicable(CAT["loop"]) == {"POS_BEFORE_CALLBACK", "CLEANUP_ONCE"}
    assert not_applicable(CAT["erofs"]) == {"POS_BEFORE_CALLBACK", "CLEANUP_ONCE",
                                            "FREEZE_BALANCED"}
    assert not_applicable(CAT["mainline"]) == frozenset()


def test_erofs_serves_reads_only() -> None:
    model = BackingAio(CAT["erofs"])
    assert [len(s) for s in model.initial_states(2)] == [3]
    with pytest.raises(ValueError, match="serves no write requests"):
        model.new_request("write")


def test_under_the_stacked_contract_the_erofs_code_would_be_misjudged() -> None:
    # The same statements under the stacked shape's contract (with the void return spelt
    # -EIOCBQUEUED): a bio has no ki_pos to hand back, yet the stacked contract wants the
    # position updated before the completion. The bio shape does not report it.
    erofs = CAT["erofs"]
    read = erofs.procs["erofs_fileio_read"]
    procs = {**erofs.procs, "erofs_fileio_read": (
        *read[:-1], S("return_", "return -EIOCBQUEUED;", value="-EIOCBQUEUED"))}
    stacked = erofs.with_procs(procs, shape="stacked", name="erofs-as-stacked")
    assert explore(stacked, 1).failed == {"POS_BEFORE_CALLBACK"}
    assert explore(erofs, 1).failed == frozenset()


@pytest.mark.parametrize(("name", "prop"), [
    # a count of 1: the completion hands the request back while the submitter's put
    # still reads the command
    ("loop:ref1:lo_rw_aio#0(refcount_set)", "UAF"),
    # no kiocb_end_write: sb_writers held for ever (a frozen fs never thaws)
    ("loop:delete:lo_rw_aio_do_completion#3(kiocb_end_write)", "FREEZE_BALANCED"),
    # the write issued before kiocb_start_write: f_op->write_iter takes no protection
    ("loop:swap:lo_rw_aio#4(kiocb_start_write,f_op_iter)", "FREEZE_BALANCED"),
    # blk_mq_complete_request twice
    ("loop:duplicate:lo_rw_aio_do_completion#5(ki_complete)", "COMPLETE_IFF_QUEUED"),
    # the result read before lo_rw_aio_complete stored it
    ("loop:swap:lo_rw_aio_complete#0(store_res,call)", "RESULT_PROPAGATED"),
    # the submitter's put left out: the wrapper (and its bio) never freed
    ("erofs:ref3:erofs_fileio_rq_alloc#3(refcount_set)", "LEAK"),
    ("erofs:ref1:erofs_fileio_rq_alloc#3(refcount_set)", "UAF"),
    # bio_endio also for a queued read: the bio ends twice
    ("erofs:flip:erofs_fileio_rq_submit#2(if_goto)", "COMPLETE_IFF_QUEUED"),
])
def test_a_mutant_breaks_what_the_c_would_break(name: str, prop: str) -> None:
    assert prop in explore(_mutant(name), 1).failed


def test_no_mutant_reports_a_property_its_shape_cannot_break() -> None:
    for base in ("loop", "erofs"):
        na = not_applicable(CAT[base])
        killed = 0
        for m in mutants(CAT[base]):
            failed = explore(m.variant, 1).failed
            assert not failed & na, (m.name, failed & na)
            killed += bool(failed)
        assert killed > 30, (base, killed)


@pytest.mark.parametrize(("change", "message"), [
    ({"kinds": ("read", "sync-read")}, "never a sync kiocb"),
    ({"kinds": ("read", "read")}, "each once"),
    ({"kinds": ("readv",)}, "unknown request type 'readv'"),
    ({"shape": "pipe"}, "unknown shape 'pipe'"),
    ({"expect": frozenset({"CLEANUP_ONCE"})}, "does not apply"),
    ({"callbacks": {"read": {"submitted": 1}}}, "no callback contract"),
])
def test_a_malformed_shape_is_one_line(change: dict[str, object], message: str) -> None:
    with pytest.raises(VariantError, match=message) as e:
        CAT["erofs"].with_procs(CAT["erofs"].procs, **change)
    assert "\n" not in str(e.value)


def test_statements_that_have_no_meaning_in_a_shape_are_refused() -> None:
    loop = CAT["loop"]
    body = loop.procs["lo_rw_aio_do_completion"]
    freed = {**loop.procs, "lo_rw_aio_do_completion": (*body, S("kmem_cache_free", "kfree(cmd);"))}
    with pytest.raises(VariantError, match="the request's pdu"):
        loop.with_procs(freed)
    pos = {**loop.procs, "lo_rw_aio_do_completion": (S("update_pos", "pos"), *body)}
    with pytest.raises(VariantError, match="no meaning in the block shape"):
        loop.with_procs(pos)
    erofs = CAT["erofs"]
    read = erofs.procs["erofs_fileio_read"]
    valued = {**erofs.procs, "erofs_fileio_read": (*read[:-1], S("return_", "return 0;",
                                                                 value="0"))}
    with pytest.raises(VariantError, match="returns nothing in the bio shape"):
        erofs.with_procs(valued)


def test_the_command_line_refuses_a_type_the_variant_does_not_serve(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["check", "erofs", "-n", "1", "--types", "write"]) == 2
    assert cli(["prove", "erofs", "--types", "write"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["backing-aio: error: erofs serves no write requests (it serves read)"] * 2
    assert cli(["check", "loop", "erofs", "-n", "2"]) == 0
