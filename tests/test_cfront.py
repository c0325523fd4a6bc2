"""The C front-end: the kernel's own C lifted into the statement language.

The C comes from the seed patch (../shared/seed) and from Debian's linux-source-6.12
(``make kernel-sources``, into .cache/kernel); each test skips, saying why, where its C
cannot be had. Nothing of the kernel's C is in the repository."""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections import Counter
from pathlib import Path

import pytest

from backing_aio.cfront.inputs import Options, variants
from backing_aio.cfront.lift import Lifter
from backing_aio.cfront.parse import CFile
from backing_aio.cfront.patch import created, parse
from backing_aio.cli.main import main as cli
from backing_aio.model.lang import Stmt, Variant, stmt
from backing_aio.verify.explorer import explore

pytestmark = pytest.mark.cparse

REPO = Path(__file__).resolve().parent.parent
SEED = REPO.parent / "shared" / "seed" / "000_ada88cb21cad2e11.txt"
KERNEL = REPO / ".cache" / "kernel"
# the Debian version the hand-written comparisons below were written against
PINNED_612 = "6.12.118-1"
PINNED_61 = "6.1.176-1"


def seed_patch() -> Path:
    if not SEED.is_file():
        pytest.skip(f"the seed patch is not here ({SEED})")
    return SEED


def tree_612(pinned: bool = True) -> Path:
    tree = KERNEL / "linux-source-6.12"
    version = tree / ".version"
    if not version.is_file():
        pytest.skip("no Debian linux-source-6.12 in .cache/kernel: run make kernel-sources")
    got = version.read_text().strip()
    if pinned and got != PINNED_612:
        pytest.skip(f"linux-source-6.12 is {got}; this comparison is for {PINNED_612}")
    return tree


def tree_61() -> Path:
    tree = KERNEL / "linux-source-6.1"
    version = tree / ".version"
    if not version.is_file():
        pytest.skip("no Debian linux-source-6.1 in .cache/kernel: run make kernel-sources")
    got = version.read_text().strip()
    if got != PINNED_61:
        pytest.skip(f"linux-source-6.1 is {got}; this comparison is for {PINNED_61}")
    return tree


def seed_helpers_c() -> str:
    fp = next(f for f in parse(seed_patch().read_text(), "seed") if f.path ==
              "fs/backing_file.c")
    return created(fp)


def shape(body: tuple[Stmt, ...]) -> list[tuple[object, ...]]:
    """A procedure's statements with labels dropped and jump targets as indices."""
    at = {st.tag: i for i, st in enumerate(body) if st.tag}
    out = []
    for st in body:
        args = []
        for f in dataclasses.fields(st):
            if f.name in ("label", "tag"):
                continue
            v = getattr(st, f.name)
            if f.name in ("target", "on_fail", "else_goto"):
                v = at.get(v, v)
            args.append((f.name, v))
        out.append((st.op, *args))
    return out


def counts(v: Variant) -> list[tuple[int, frozenset[str]]]:
    return [(r.states, r.failed) for r in (explore(v, n) for n in (1, 2, 3))]


# ---- the seed, from its patch alone ----------------------------------------------------

def test_the_seed_patch_lifts_to_the_catalogues_seed(cat: dict[str, Variant]) -> None:
    """fs/backing_file.c, which the patch creates, reconstructed from the patch and lifted:
    every helper is the hand-written seed's, statement for statement, and around the
    seed's caller it explores to the same states and verdicts at N = 1..3."""
    (v, source), = variants(str(seed_patch()))
    assert source == "fs/backing_file.c"
    seed = cat["seed"]
    assert set(v.procs) == set(seed.procs)
    for name in ("backing_file_read_iter", "backing_file_write_iter", "backing_aio_put",
                 "backing_aio_cleanup", "backing_aio_rw_complete"):
        assert shape(v.procs[name]) == shape(seed.procs[name]), name
    assert counts(v) == counts(seed)
    assert counts(seed)[0] == (1359, frozenset({"RESULT_PROPAGATED", "CONTEXT"}))


def test_every_label_is_the_c_with_its_file_and_line() -> None:
    (v, _), = variants(str(seed_patch()))
    lines = seed_helpers_c().splitlines()
    body = v.procs["backing_aio_put"]
    assert [st.label for st in body] == [
        "if (refcount_dec_and_test(&aio_req->ref)) { (fs/backing_file.c:31)",
        "fput(aio_req->iocb.ki_filp); (fs/backing_file.c:32)",
        "kmem_cache_free(backing_aio_req_cachep, aio_req); (fs/backing_file.c:33)"]
    assert lines[31].strip() == "fput(aio_req->iocb.ki_filp);"


def _unaccounted(c: CFile, lifter: Lifter) -> list[str]:
    lifted = lifter.lift()
    seen = {int(a.where.rsplit(":", 1)[1]) for a in lifted.accounts}
    kinds = {"expression_statement", "declaration", "if_statement", "return_statement",
             "goto_statement", "for_statement"}
    missing = []
    for name in lifted.procs:
        stack = [c.functions[name].body]
        while stack:
            n = stack.pop()
            if n.type in kinds and n.start_point[0] + 1 not in seen:
                missing.append(f"{name}: line {n.start_point[0] + 1}")
            stack.extend(n.children)
    return missing


@pytest.mark.parametrize("path", ["linux-source-6.12/drivers/block/loop.c",
                                  "linux-source-6.12/fs/erofs/fileio.c",
                                  "linux-source-6.1/fs/overlayfs/file.c"])
def test_every_c_statement_of_other_users_is_accounted_for(path: str) -> None:
    """The same for code with the pattern of its own, down to the statements inside a
    branch the model leaves out (the loop driver's bvec array, its buffered mode)."""
    f = KERNEL / path
    if not f.is_file():
        pytest.skip(f"no {path} in .cache/kernel: run make kernel-sources")
    c = CFile.read(f)
    assert _unaccounted(c, Lifter(c, direct=("ovl_copyattr", "ovl_file_accessed"))) == []


def test_every_c_statement_is_accounted_for() -> None:
    """Each statement of a lifted function is lifted, known to have no effect, folded, or
    assumed: none is dropped without a word."""
    c = CFile("fs/backing_file.c", seed_helpers_c())
    lifter = Lifter(c, {"cleanup": "ovl_rw_complete"})
    assert _unaccounted(c, lifter) == []
    lifted = lifter.lift()
    hows = Counter(a.how for a in lifted.accounts)
    assert hows["lifted"] > 40 and hows["no effect"] >= 3 and hows["folded into its uses"] == 1
    assert not hows["assumed"]


# ---- today's helpers, from Debian's 6.12 -------------------------------------------------

def _mainline_118(cat: dict[str, Variant]) -> Variant:
    """The catalogue's mainline with 6.12.118's "backing-file: always end a queued write",
    written by hand: the write sets aio->is_write, the completion ends freeze protection
    by it instead of by the clone's IOCB_WRITE."""
    v = cat["mainline"]
    procs = dict(v.procs)
    w = list(procs["backing_file_write_iter"])
    at = next(i for i, st in enumerate(w) if st.op == "init_orig_iocb")
    w.insert(at + 1, stmt("init_is_write", "aio->is_write = true;"))
    procs["backing_file_write_iter"] = tuple(w)
    procs["backing_aio_rw_complete"] = tuple(
        stmt("if_goto", "if (aio->is_write)", cond="!is_write", target="cleanup")
        if st.op == "if_goto" else st for st in procs["backing_aio_rw_complete"])
    return dataclasses.replace(v, name="mainline-6.12.118", procs=procs)


def _ops(v: Variant) -> dict[str, Counter[tuple[object, ...]]]:
    """Each procedure's statements but its returns, with their arguments but jumps (the
    lifter places a return an ``if`` leads to after the body; the hand-written write_iter
    shares one)."""
    return {n: Counter(s[:1] + tuple(a for a in s[1:] if a[0] not in (
        "target", "on_fail", "else_goto")) for s in shape(b) if s[0] != "return_")
        for n, b in v.procs.items()}


def test_the_612_helpers_lift_to_the_hand_written_mainline(cat: dict[str, Variant]) -> None:
    (v, source), *_callers = variants(str(tree_612()))
    assert source.endswith("fs/backing-file.c")
    hand = _mainline_118(cat)
    assert _ops(v) == _ops(hand)
    assert counts(v) == counts(hand) == [(708, frozenset()), (2509, frozenset()),
                                          (6003, frozenset())]


def test_a_scoped_with_creds_block_lifts_as_the_override_and_revert_it_replaces(
        tmp_path: Path) -> None:
    """Today's mainline switches credentials with scoped_with_creds(ctx->cred) { ... } (a
    macro C reads as a loop run once): 6.12.118's read_iter with its override_creds() and
    revert_creds() turned into such a block lifts to the same statements."""
    c = (tree_612() / "fs/backing-file.c").read_text()
    scoped = c.replace("\told_cred = override_creds(ctx->cred);\n\tif (is_sync_kiocb(iocb)) {\n"
                       "\t\trwf_t rwf = iocb_to_rw_flags(flags);\n\n\t\tret = vfs_iter_read(",
                       "\tscoped_with_creds(ctx->cred) {\n\tif (is_sync_kiocb(iocb)) {\n"
                       "\t\trwf_t rwf = iocb_to_rw_flags(flags);\n\n\t\tret = vfs_iter_read(", 1)
    scoped = scoped.replace("out:\n\trevert_creds(old_cred);\n\n\tif (ctx->accessed)",
                            "\t}\nout:\n\tif (ctx->accessed)", 1)
    assert scoped.count("scoped_with_creds") == 1
    assert scoped.count("revert_creds") == c.count("revert_creds") - 1
    f = tmp_path / "backing-file.c"
    f.write_text(scoped)
    [(v, _)] = variants(str(f))
    [(orig, _)] = variants(str(tree_612() / "fs/backing-file.c"))
    assert shape(v.procs["backing_file_read_iter"]) == shape(
        orig.procs["backing_file_read_iter"])
    assert any(st.label.startswith("ret = vfs_iter_read(") for st in
               v.procs["backing_file_read_iter"])


def test_overlayfs_612_callers_lift_around_the_lifted_helpers(
        cat: dict[str, Variant]) -> None:
    """A tree gives overlayfs's ovl_read_iter/ovl_write_iter too, lifted from
    fs/overlayfs/file.c around the lifted helpers: the hand-written ovl-6.12 with the same
    6.12.118 change, and the ovl_copyattr() that ovl_write_iter calls under inode_lock."""
    _, (v, source), *_ = variants(str(tree_612()))
    assert source.endswith("fs/overlayfs/file.c") and v.name == "file.c+backing-file.c"
    hand = _mainline_118(cat)
    ovl = cat["ovl-6.12"]
    procs = {**ovl.procs, **{n: b for n, b in hand.procs.items() if n in ovl.procs}}
    write = list(procs["ovl_write_iter"])
    write.insert(1, stmt("kcall", "ovl_copyattr(inode);", fn="ovl_copyattr"))
    procs["ovl_write_iter"] = tuple(write)
    hand_612 = dataclasses.replace(ovl, procs=procs)
    for name in ("ovl_read_iter", "ovl_write_iter"):
        assert shape(v.procs[name])[:-2] == shape(hand_612.procs[name])[:-2], name
    assert counts(v) == counts(hand_612) == [(1913, frozenset()), (6742, frozenset()),
                                              (16066, frozenset())]


def test_fuse_612_callers_lift_around_the_lifted_helpers(cat: dict[str, Variant]) -> None:
    """FUSE passthrough's read_iter/write_iter, lifted from fs/fuse/passthrough.c (its
    count local, pr_debug, inode_lock around the write): the hand-written fuse-6.12 with
    6.12.118's change."""
    [(v, source)] = [(v, s) for v, s in variants(str(tree_612())) if s.endswith("passthrough.c")]
    assert source.endswith("fs/fuse/passthrough.c") and v.caller == "fuse"
    hand = _mainline_118(cat)
    fuse = cat["fuse-6.12"]
    hand_fuse = dataclasses.replace(fuse, procs={
        **fuse.procs, **{n: b for n, b in hand.procs.items() if n in fuse.procs}})
    for name in ("fuse_passthrough_read_iter", "fuse_passthrough_write_iter"):
        assert [s[0] for s in shape(v.procs[name])] == ["if_goto", "call", "return_",
                                                          "return_"], name
    assert counts(v) == counts(hand_fuse) == [(832, frozenset()), (2940, frozenset()),
                                               (7020, frozenset())]


def test_check_reads_a_kernel_tree(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["check", str(tree_612(pinned=False)), "-n", "2"]) == 0
    out = capsys.readouterr().out
    assert "backing-file.c: holds" in out and "file.c+backing-file.c: holds" in out
    assert "passthrough.c+backing-file.c: holds" in out
    assert "loop.c: holds" in out and "fileio.c: holds" in out
    # the table knows every call these files make: none is merely assumed
    assert cli(["check", str(tree_612()), "--strict", "-n", "1"]) == 0


# ---- the same pattern elsewhere: the loop driver ------------------------------------------

def test_the_loop_drivers_lo_rw_aio_lifts_to_the_hand_written_loop(
        cat: dict[str, Variant]) -> None:
    """drivers/block/loop.c's lo_rw_aio and its completions, lifted from the 6.12 tree: the
    catalogue's loop statement for statement, the same states and verdicts. What the entry
    leaves out is listed, not dropped: the bvec array of a multi-bio request (outside the
    model), the buffered mode (use_aio assumed), the fault-injection timeout."""
    [v] = [v for v, s in variants(str(tree_612())) if s.endswith("loop.c")]
    hand = cat["loop"]
    assert set(v.procs) == set(hand.procs) and v.entry == hand.entry
    for name in hand.procs:
        assert shape(v.procs[name]) == shape(hand.procs[name]), name
    assert counts(v) == counts(hand) == [(285, frozenset()), (699, frozenset()),
                                          (1243, frozenset())]
    c = CFile.read(tree_612() / "drivers/block/loop.c")
    hows = {a.how for a in Lifter(c).lift().accounts}
    assert {"outside the model (the bvec array of a multi-bio request)",
            "assumed taken (request-timeout fault injection)"} <= hows


def test_erofs_file_backed_reads_lift_to_the_hand_written_erofs(
        cat: dict[str, Variant]) -> None:
    """fs/erofs/fileio.c's request allocation, submission and completion, lifted from the
    6.12 tree around the catalogue's erofs (whose erofs_fileio_read, allocate then submit,
    is the reads that do so): the same statements, states and verdicts. The short read
    made -EIO and the way the bio's pages are ended are listed as outside the model."""
    [v] = [v for v, s in variants(str(tree_612())) if s.endswith("erofs/fileio.c")]
    hand = cat["erofs"]
    assert set(v.procs) == set(hand.procs) and v.entry == hand.entry
    for name in hand.procs:
        assert shape(v.procs[name]) == shape(hand.procs[name]), name
    assert v.procs["erofs_fileio_read"] == hand.procs["erofs_fileio_read"]  # the environment
    assert counts(v) == counts(hand) == [(74, frozenset()), (147, frozenset()),
                                          (220, frozenset())]


def test_erofs_with_a_count_of_1_is_caught(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Before 1caf50ce4af0 there was no count; with refcount_set(&rq->ref, 1) the
    completion frees the request while the submitter still reads it."""
    c = (tree_612() / "fs/erofs/fileio.c").read_text()
    one = tmp_path / "fileio.c"
    one.write_text(c.replace("refcount_set(&rq->ref, 2);", "refcount_set(&rq->ref, 1);", 1))
    assert cli(["check", str(one), "-n", "1"]) == 1
    assert "fileio.c: fails UAF" in capsys.readouterr().out


def test_a_loop_driver_without_its_count_of_2_is_caught(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The checker can fail on the loop driver too: atomic_set(&cmd->ref, 1) lets the
    submitter's put complete the request while the lower filesystem still holds the kiocb,
    and a missing kiocb_end_write leaves freeze protection held."""
    c = (tree_612() / "drivers/block/loop.c").read_text()
    one = tmp_path / "loop.c"
    one.write_text(c.replace("atomic_set(&cmd->ref, 2);", "atomic_set(&cmd->ref, 1);", 1))
    assert cli(["check", str(one), "-n", "1"]) == 1
    assert "loop.c: fails UAF" in capsys.readouterr().out
    no_end = tmp_path / "no_end" / "loop.c"
    no_end.parent.mkdir()
    no_end.write_text(c.replace("\t\tkiocb_end_write(&cmd->iocb);\n", "\t\t;\n", 1))
    assert cli(["check", str(no_end), "-n", "1"]) == 1
    assert "FREEZE_BALANCED" in capsys.readouterr().out


def test_a_broken_count_in_the_c_is_a_use_after_free(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The checker can fail: the same C with refcount_set(&aio->ref, 1) is reported."""
    c = (tree_612(pinned=False) / "fs/backing-file.c").read_text()
    assert c.count("refcount_set(&aio->ref, 2);") == 2
    broken = tmp_path / "backing-file.c"
    broken.write_text(c.replace("refcount_set(&aio->ref, 2);", "refcount_set(&aio->ref, 1);", 1))
    assert cli(["check", str(broken), "-n", "1"]) == 1
    out = capsys.readouterr().out
    assert "UAF" in out and "refcount_set(&aio->ref, 1); (" in out


# ---- the lifted file is a variant file ----------------------------------------------------

def test_lift_prints_a_variant_file_that_checks_the_same(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "seed_lifted.py"
    assert cli(["lift", str(seed_patch()), "-o", str(out)]) == 0
    assert cli(["check", str(out), "-n", "2", "--json"]) == 1
    from_file = capsys.readouterr().out
    assert cli(["check", str(seed_patch()), "-n", "2", "--json"]) == 1
    from_c = capsys.readouterr().out
    states = re.compile(r'"states": (\d+)')
    # the search at N = 2, and the composition from one request of each type
    assert states.findall(from_file) == states.findall(from_c) == ["1362", "4764"]


def test_lift_json_has_its_documented_shape(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from tests.test_json import validator

    assert cli(["lift", str(seed_patch()), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    validator("lift")(doc)
    assert doc["like"] == "seed" and doc["procedures"]["backing_aio_put"] == 3


# ---- bad input: exit 2, one line naming file:line ----------------------------------------

def _one_line_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert cli(list(argv)) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("backing-aio: error: "), err
    return err


def test_a_c_file_without_the_helpers(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "other.c"
    f.write_text("static int f(int x)\n{\n\treturn x;\n}\n")
    err = _one_line_error(capsys, "lift", str(f))
    assert f"{f}: none of backing_file_read_iter, backing_file_write_iter" in err


def test_a_tree_of_6_1_lifts_overlayfs_own_async_io_to_the_hand_written_ovl_61(
        cat: dict[str, Variant]) -> None:
    """6.1 has no helpers: its fs/overlayfs/file.c (struct ovl_aio_req) is found in the
    tree and lifted whole. Statement for statement (labels aside) it is the catalogue's
    ovl-6.1, written by hand from the same C, and it leaks as that entry does."""
    [(v, source)] = variants(str(tree_61()))
    assert source.endswith("fs/overlayfs/file.c") and v.kernel == "6.1"
    hand = cat["ovl-6.1"]
    assert set(v.procs) == set(hand.procs)
    for name in hand.procs:
        assert shape(v.procs[name]) == shape(hand.procs[name]), name
    leak = frozenset({"LEAK"})
    assert counts(v) == counts(hand) == [(937, leak), (3629, leak), (9357, leak)]


def _without_flag_clears(tree: Path) -> str:
    """The fix of 724768a39374's backport as a unified diff of 6.1's file.c: both
    ``real.flags = 0;`` lines removed, made here from the file itself."""
    old = (tree / "fs/overlayfs/file.c").read_text().splitlines(keepends=True)
    new = [line for line in old if line.strip() != "real.flags = 0;"]
    assert len(old) - len(new) == 2
    return "".join(difflib.unified_diff(old, new, "a/fs/overlayfs/file.c",
                                        "b/fs/overlayfs/file.c"))


def test_6_1s_leak_is_found_in_the_tree_and_its_fix_holds(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """check on the 6.1 tree fails LEAK on the file opened on the fly; the same tree with
    the upstream fix (a patch that drops both ``real.flags = 0;``) holds."""
    tree = tree_61()
    assert cli(["check", str(tree), "--requests", "2"]) == 1
    out = capsys.readouterr().out
    assert "fails LEAK" in out and "the file opened on the fly keeps 1 reference" in out
    fix = tmp_path / "ovl-fix-file-reference-leak.patch"
    fix.write_text(_without_flag_clears(tree))
    assert cli(["check", str(fix), "--tree", str(tree), "--requests", "2"]) == 0
    assert "holds" in capsys.readouterr().out


def test_a_syntax_error_in_a_helper(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    c = seed_helpers_c().replace("refcount_set(&aio_req->ref, 2);",
                                 "refcount_set(&aio_req->ref, 2;", 1)
    f = tmp_path / "backing_file.c"
    f.write_text(c)
    err = _one_line_error(capsys, "check", str(f))
    assert re.search(rf"{re.escape(str(f))}:\d+: backing_file_read_iter\(\) does not parse", err)


def test_an_unknown_call_on_the_wrapper(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    c = seed_helpers_c().replace("\tbacking_aio_put(aio_req);\n",
                                 "\tbacking_aio_put(aio_req);\n\tfrobnicate(aio_req);\n", 1)
    f = tmp_path / "backing_file.c"
    f.write_text(c)
    line = c.splitlines().index("\tfrobnicate(aio_req);") + 1
    err = _one_line_error(capsys, "lift", str(f))
    assert f"{f}:{line}: frobnicate() is not in the kernel-API table and is handed a " \
           "lifecycle object" in err


def test_an_unknown_call_on_other_data_is_assumed_and_listed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    at = "\tssize_t ret;\n\n\tif (!iov_iter_count(iter))"
    c = seed_helpers_c().replace(at, at.replace("\n\tif", "\n\ttrace_it(flags);\n\tif"), 1)
    f = tmp_path / "backing_file.c"
    f.write_text(c)
    assert cli(["lift", str(f), "--accounts"]) == 0
    assert "assumed: trace_it(flags);" in capsys.readouterr().out
    line = c.splitlines().index("\ttrace_it(flags);") + 1
    err = _one_line_error(capsys, "check", str(f), "--strict")
    assert f"{f}:{line}: trace_it() is not in the kernel-API table (--strict)" in err


def test_a_patch_that_does_not_apply(tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    tree = tmp_path / "tree"
    (tree / "fs").mkdir(parents=True)
    (tree / "fs/backing-file.c").write_text("int x;\n")
    p = tmp_path / "fix.patch"
    p.write_text("--- a/fs/backing-file.c\n+++ b/fs/backing-file.c\n@@ -1,1 +1,1 @@\n"
                 "-int y;\n+int z;\n")
    err = _one_line_error(capsys, "check", str(p), "--tree", str(tree))
    assert f"{p}: hunk 1 of fs/backing-file.c does not apply (at line 1)" in err


def test_a_tree_without_the_helpers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _one_line_error(capsys, "check", str(tmp_path))
    assert f"{tmp_path}: not a kernel tree with the helpers" in err


def test_a_folded_helper_with_another_body(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """backing_aio_init_wq is one statement of the model only with the body the table
    knows: a changed body is refused, not trusted."""
    c = (tree_612(pinned=False) / "fs/backing-file.c").read_text()
    c = c.replace("\tif (sb->s_dio_done_wq)\n\t\treturn 0;\n", "", 1)
    f = tmp_path / "backing-file.c"
    f.write_text(c)
    err = _one_line_error(capsys, "lift", str(f))
    assert "backing_aio_init_wq() is not the body the kernel-API table knows" in err


def test_the_patch_reader_reconstructs_a_created_file_and_applies_hunks() -> None:
    from backing_aio.cfront.patch import apply

    text = ("--- /dev/null\n+++ b/new.c\n@@ -0,0 +1,2 @@\n+int a;\n+int b;\n"
            "--- a/old.c\n+++ b/old.c\n@@ -2,2 +2,2 @@\n x\n-y\n+z\n")
    new, old = parse(text, "t.patch")
    assert created(new) == "int a;\nint b;\n"
    # the hunk names line 2; the text moved down by one: applied at the offset
    assert apply(old, "w\nv\nx\ny\n", "t.patch") == "w\nv\nx\nz\n"


def test_options_bind_a_callback_parameter(cat: dict[str, Variant]) -> None:
    """The seed's ``cleanup`` is what the caller passes; --callback names another."""
    (v, _), = variants(str(seed_patch()), Options(callbacks=(("cleanup", "ovl_copyattr"),)))
    fns = {st.fn for st in v.procs["backing_aio_cleanup"] if st.op == "callback"}  # type: ignore[attr-defined]
    assert fns == {"ovl_copyattr"}


def test_the_lift_benchmark_writes_its_table(tmp_path: Path) -> None:
    from backing_aio.cfront.bench import run

    out = tmp_path / "lift.txt"
    run([str(seed_patch())], 1, out)
    row = out.read_text().splitlines()[-1]
    assert "000_ada88cb21cad2e11.txt" in row and "1359/4764/11314" in row


# ---- C-level mutants ---------------------------------------------------------------------

def test_c_mutants_are_killed_or_explained() -> None:
    """Every edit of Debian's 6.12 helpers is killed with a named property, listed as
    equivalent with its reason, or refused by the front-end with its reason."""
    from backing_aio.cfront.cmutants import REASONS, gate_612

    tree_612()
    got = gate_612(3, KERNEL / "linux-source-6.12")
    assert got is not None
    sc, _version = got
    assert sc.ok, (sc.unexplained, sc.stale)
    ref1 = "backing-file.c:refcount1:backing_file_read_iter#23(refcount_set(&aio->ref, 2);)"
    assert sc.killed[ref1] >= {"UAF"}
    assert any("get_file" in k for k in sc.killed)
    # a callback moved into the completion reads the caller's ctx after the call returned,
    # in irq context, and runs for the other kind too
    moved = {k: v for k, v in sc.killed.items() if ":move:" in k}
    assert len(moved) == 2 and all(v == {"UAF", "CONTEXT", "CLEANUP_ONCE"}
                                   for v in moved.values())
    clear = "backing-file.c:delete:backing_file_write_iter#7(flags &= ~IOCB_DIO_CALLER_COMP;)"
    assert "RESULT_PROPAGATED" in sc.killed[clear]  # the flag clear dropped, on 6.12
    assert set(sc.equivalent.values()) <= set(REASONS)
    assert sc.total == len(sc.killed) + len(sc.equivalent) + len(sc.not_lifted)


def test_the_c_mutant_score_can_fail() -> None:
    """Without the table of equivalents the survivors are reported; an entry for a mutant
    that is killed is reported stale."""
    from backing_aio.cfront.cmutants import EQUIVALENT, score
    from backing_aio.cfront.inputs import assemble, lift_file, like_of

    tree = tree_612()
    c = CFile("backing-file.c", (tree / "fs/backing-file.c").read_text())
    opts = Options()
    like = like_of(c, opts)

    def lift(f: CFile) -> Variant:
        return assemble(lift_file(f, opts, like), like)

    def failed(v: Variant, before: frozenset[str]) -> frozenset[str]:
        return explore(v, 1).failed - before

    bare = score(c, lift, failed, {})
    assert not bare.ok and len(bare.unexplained) >= len(EQUIVALENT) - 2
    killed = "backing-file.c:refcount1:backing_file_read_iter#23(refcount_set(&aio->ref, 2);)"
    wrong = score(c, lift, failed, {killed: "ZERO_LENGTH"})
    assert killed in wrong.stale and not wrong.ok
