"""The catalogue against its expected verdicts, with pinned state counts, and the known bugs
the acceptance names (each must be found, with the property named)."""

from __future__ import annotations

import dataclasses

import pytest

from backing_aio.model.lang import Variant, stmt
from backing_aio.verify.explorer import explore
from backing_aio.verify.trace import concretise, explain_rows
from tests.conftest import edit, mutant

# (variant, N) -> (states, verdict). A change to the model or the explorer that moves these
# numbers must be deliberate: update them with the reason in the commit.
PINNED = {
    ("seed", 1): (1359, "fails RESULT_PROPAGATED,CONTEXT"),
    ("seed", 2): (4764, "fails RESULT_PROPAGATED,CONTEXT"),
    ("seed", 3): (11314, "fails RESULT_PROPAGATED,CONTEXT"),
    ("seed-fixed", 1): (1771, "holds"),
    ("seed-fixed", 2): (6414, "holds"),
    ("seed-fixed", 3): (15644, "holds"),
    ("ovl-5.6", 1): (615, "fails UAF"),
    ("ovl-5.6", 2): (2368, "fails UAF"),
    ("ovl-5.6", 3): (6088, "fails UAF"),
    ("ovl-5.16", 1): (939, "holds"),
    ("ovl-5.16", 2): (3640, "holds"),
    ("ovl-5.16", 3): (9390, "holds"),
    ("mainline", 1): (707, "holds"),
    ("mainline", 2): (2506, "holds"),
    ("mainline", 3): (5997, "holds"),
    ("ovl-6.12", 1): (1909, "holds"),
    ("ovl-6.12", 2): (6731, "holds"),
    ("ovl-6.12", 3): (16045, "holds"),
    ("fuse-6.12", 1): (831, "holds"),
    ("fuse-6.12", 2): (2937, "holds"),
    ("fuse-6.12", 3): (7014, "holds"),
}


@pytest.mark.parametrize(("name", "n"), sorted(PINNED))
def test_catalogue_verdicts_and_state_counts(cat: dict[str, Variant], name: str, n: int) -> None:
    r = explore(cat[name], n)
    assert (r.states, r.verdict()) == PINNED[(name, n)]
    assert r.failed == cat[name].expect
    assert r.reduction == "independent"


def test_ovl_5_6_uaf_is_the_completion_freeing_under_the_lower_fs(
    cat: dict[str, Variant],
) -> None:
    v = cat["ovl-5.6"]
    r = explore(v, 1)
    cx = r.violations[("UAF", "wrapper")]
    rows = explain_rows(v, concretise(v, cx))
    free = [i for i, row in enumerate(rows) if "wrapper live->freed" in row["effects"]]
    assert len(free) == 1
    assert rows[free[0]]["actor"] == "completion"
    assert rows[free[0]]["statement"].startswith("kmem_cache_free")
    last = rows[-1]
    assert last["actor"] == "lower"  # still inside submit (L2)
    assert last["violation"]["property"] == "UAF"
    assert "still inside submit" in last["violation"]["message"]
    # and nothing in between returned from submit: the lower fs never left it
    assert not any(row["actor"] == "lower" for row in rows[:-1])
    # the same race also drops the file opened on the fly under the lower fs
    assert ("UAF", "file opened on the fly") in r.violations


def test_seed_with_reference_count_one_is_a_use_after_free() -> None:
    for name in ("seed-fixed:ref1:backing_file_read_iter#11(refcount_set)",
                 "seed-fixed:ref1:backing_file_write_iter#14(refcount_set)"):
        r = explore(mutant(name), 1)
        assert "UAF" in r.failed, name
        assert r.counterexample("UAF").subject == "wrapper"


def test_seed_without_the_put_after_submit_leaks() -> None:
    for name in ("seed-fixed:delete:backing_file_read_iter#13(call)",
                 "seed-fixed:delete:backing_file_write_iter#17(call)"):
        r = explore(mutant(name), 1)
        assert r.failed == {"LEAK"}, name
        assert r.counterexample("LEAK").subject == "wrapper"


def test_mainline_ending_the_write_on_both_paths_breaks_freeze(cat: dict[str, Variant]) -> None:
    v = cat["mainline"]
    # backing_aio_cleanup (run on both paths) ends freeze protection, as the seed's did,
    # while vfs_iocb_iter_write already ends it when the IO is not queued.
    callback, *rest = v.procs["backing_aio_cleanup"]
    cleanup = (
        stmt("if_goto", "if (iocb->ki_flags & IOCB_WRITE)", cond="!write", target="cb"),
        stmt("kiocb_end_write", "kiocb_end_write(iocb);"),
        dataclasses.replace(callback, tag="cb"),
        *rest,
    )
    complete = (
        stmt("load_orig", "struct kiocb *orig_iocb = aio->orig_iocb;"),
        stmt("call", "backing_aio_cleanup(aio, res);", proc="backing_aio_cleanup"),
        stmt("ki_complete", "orig_iocb->ki_complete(orig_iocb, res);"),
    )
    both = edit(edit(v, "backing_aio_cleanup", cleanup), "backing_aio_rw_complete", complete)
    r = explore(both, 1)
    assert r.failed == {"FREEZE_BALANCED"}
    assert "not held" in r.counterexample("FREEZE_BALANCED").message


def test_ovl_5_16_dropping_the_callers_file_twice_is_found() -> None:
    # without "real.flags = 0" both the caller's fdput and the wrapper's fdput drop the
    # reference of a file opened on the fly
    for name in ("ovl-5.16:delete:ovl_read_iter#11(fd_clear_flags)",
                 "ovl-5.16:delete:ovl_write_iter#18(fd_clear_flags)"):
        r = explore(mutant(name), 1)
        assert r.failed & {"UAF", "LEAK"}, name
        assert r.counterexample("UAF").subject == "file opened on the fly"


def test_good_variants_hold_for_every_mix_of_request_types(cat: dict[str, Variant]) -> None:
    for name in ("seed-fixed", "ovl-5.16", "mainline", "ovl-6.12", "fuse-6.12"):
        for kinds in (["read", "write", "sync-write"], ["write", "write", "read"]):
            assert not explore(cat[name], 3, kinds=kinds).failed
