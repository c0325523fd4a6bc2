"""The refactor gate for a patch to Debian 6.12's fs/backing-file.c: exit codes, the
contract comparison, SARIF on the C lines and JUnit. The patches are made here from the
tree's own file (difflib), none is committed."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from junitparser import Failure, JUnitXml

from backing_aio.cli.main import main as cli
from tests.test_cfront import tree_612
from tests.test_json import validator
from tests.test_sarif import _validator

pytestmark = pytest.mark.cparse

HELPERS = "fs/backing-file.c"


def _patch(tmp_path: Path, name: str, edit: tuple[str, str], path: str = HELPERS) -> Path:
    old = (tree_612() / path).read_text()
    return _diff(tmp_path, name, path, old, old.replace(*edit, 1))


def _diff(tmp_path: Path, name: str, path: str, old: str, new: str) -> Path:
    assert new != old, name
    p = tmp_path / f"{name}.patch"
    p.write_text("".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                              f"a/{path}", f"b/{path}")))
    return p


def _gate(capsys: pytest.CaptureFixture[str], patch: Path, *extra: str) -> tuple[int, str]:
    code = cli(["gate-patch", "--tree", str(tree_612()), str(patch), "--no-proofs", *extra])
    return code, capsys.readouterr().out


def test_a_count_of_1_fails_with_sarif_on_the_free_and_junit(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    patch = _patch(tmp_path, "ref1", ("refcount_set(&aio->ref, 2);",
                                      "refcount_set(&aio->ref, 1);"))
    sarif_file, junit_file = tmp_path / "r.sarif", tmp_path / "r.xml"
    code, out = _gate(capsys, patch, "--sarif", str(sarif_file), "--junit", str(junit_file))
    assert code == 1 and "after the patch: fails UAF" in out and "gate-patch: FAILED" in out
    log = json.loads(sarif_file.read_text())
    _validator()(log)
    [uaf] = [r for r in log["runs"][0]["results"] if r["ruleId"] == "UAF"]
    where = uaf["locations"][0]["physicalLocation"]
    free = (tree_612() / HELPERS).read_text().splitlines().index(
        "\t\tkmem_cache_free(backing_aio_cachep, aio);") + 1
    assert where == {"artifactLocation": {"uri": HELPERS}, "region": {"startLine": free}}
    # one of its code flows is L2 broken: the completion frees the wrapper while the lower
    # filesystem, still inside submit, has yet to touch the clone
    l2 = []
    for flow in uaf["codeFlows"]:
        threads = {t["id"]: t["locations"] for t in flow["threadFlows"]}
        frees = [x["executionOrder"] for x in threads.get("#0 completion", [])
                 if x["location"]["message"]["text"].startswith("kmem_cache_free(")]
        touches = [x["executionOrder"] for x in threads.get("#0 lower", [])]
        if frees and touches and max(touches) > min(frees):
            l2.append(flow)
    assert l2 and l2[0]["message"]["text"].endswith("the breaking step is the lower's")
    failed = {str(c.name) for s in JUnitXml.fromfile(str(junit_file)) for c in s
              if any(isinstance(x, Failure) for x in c.result)}
    assert {"properties", "contract"} <= failed


def test_a_harmless_patch_passes_with_the_contract_unchanged(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two independent stores swapped and a local renamed."""
    old = (tree_612() / HELPERS).read_text()
    swap = ("\t\taio->orig_iocb = iocb;\n\t\tkiocb_clone(&aio->iocb, iocb, get_file(file));\n",
            "\t\tkiocb_clone(&aio->iocb, iocb, get_file(file));\n\t\taio->orig_iocb = iocb;\n")
    renamed = old.replace(*swap, 1).replace(
        "rwf_t rwf = iocb_to_rw_flags(flags);\n\n\t\tret = vfs_iter_read(file, iter, "
        "&iocb->ki_pos, rwf);", "rwf_t rw_flags = iocb_to_rw_flags(flags);\n\n\t\tret = "
        "vfs_iter_read(file, iter, &iocb->ki_pos, rw_flags);", 1)
    assert renamed.count("rw_flags") == old.count("rw_flags") + 2
    patch = tmp_path / "harmless.patch"
    patch.write_text("".join(difflib.unified_diff(old.splitlines(True),
                                                  renamed.splitlines(True),
                                                  f"a/{HELPERS}", f"b/{HELPERS}")))
    code, out = _gate(capsys, patch)
    assert code == 0, out
    assert "after the patch: holds" in out and "contract unchanged" in out


def test_end_write_left_to_the_queued_path_is_a_contract_change(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The sync write no longer calls ctx->end_write (only the queued path's completion
    does): the contract difference is named, and the callback contract breaks."""
    patch = _patch(tmp_path, "end_write", (
        "\t\tret = vfs_iter_write(file, iter, &iocb->ki_pos, rwf);\n"
        "\t\tif (ctx->end_write)\n\t\t\tctx->end_write(ctx->user_file, iocb->ki_pos, ret);\n",
        "\t\tret = vfs_iter_write(file, iter, &iocb->ki_pos, rwf);\n"))
    code, out = _gate(capsys, patch, "--no-mutants")
    assert code == 1
    assert "contract changed" in out
    assert "sync sync-write:\n      " in out
    assert "runs callback end_write(ki_pos, result): no longer (submitter)" in out
    code, out = _gate(capsys, patch, "--no-mutants", "--accept-contract-change", "--json")
    doc = json.loads(out)
    validator("gate-patch")(doc)
    # the helpers and each caller's file lifted around them; not the loop driver nor erofs
    assert [v["variant"] for v in doc["variants"]] == [
        "backing-file.c", "file.c+backing-file.c", "passthrough.c+backing-file.c"]
    assert code == 1 and doc["variants"][0]["after"] == ["CLEANUP_ONCE"]  # still breaks


def test_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.patch"
    bad.write_text(f"--- a/{HELPERS}\n+++ b/{HELPERS}\n@@ -1,1 +1,1 @@\n-no such line\n+x\n")
    assert cli(["gate-patch", "--tree", str(tree_612()), str(bad)]) == 2
    assert "does not apply" in capsys.readouterr().err
    good = _patch(tmp_path, "ref1", ("refcount_set(&aio->ref, 2);",
                                     "refcount_set(&aio->ref, 1);"))
    assert cli(["gate-patch", "--tree", str(tmp_path), str(good)]) == 2
    assert f"{HELPERS} is not in {tmp_path}" in capsys.readouterr().err
    assert cli(["gate-patch", "--tree", str(tree_612()), str(good), "--sarif",
                str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--sarif" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
@pytest.mark.z3
def test_the_harmless_patch_is_proved_too(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    patch = _patch(tmp_path, "swap", (
        "\t\taio->orig_iocb = iocb;\n\t\tkiocb_clone(&aio->iocb, iocb, get_file(file));\n",
        "\t\tkiocb_clone(&aio->iocb, iocb, get_file(file));\n\t\taio->orig_iocb = iocb;\n"))
    assert cli(["gate-patch", "--tree", str(tree_612()), str(patch)]) == 0
    out = capsys.readouterr().out
    assert "z3: holds for all N" in out and "contract unchanged" in out


OVL = "fs/overlayfs/file.c"
FUSE = "fs/fuse/passthrough.c"


def _ovl_write_iter(edit: Callable[[str], str]) -> tuple[str, str]:
    """overlayfs's file.c, and the same with ``edit`` applied to ovl_write_iter only."""
    old = (tree_612() / OVL).read_text()
    at, end = old.index("static ssize_t ovl_write_iter("), old.index("static ssize_t ovl_splice")
    return old, old[:at] + edit(old[at:end]) + old[end:]


def test_a_patch_to_overlayfs_alone_is_gated_around_the_helpers(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A patch to the caller's file only: its variant (file.c lifted around the tree's
    helpers) is gated, the others not. Dropping ovl_write_iter's fdput() leaks the file
    ovl_real_fdget() opened on the fly; renaming a local changes nothing."""
    leak = _patch(tmp_path, "nofdput", ("\tret = backing_file_write_iter(fd_file(real), iter, "
                                        "iocb, ifl, &ctx);\n\tfdput(real);\n",
                                        "\tret = backing_file_write_iter(fd_file(real), iter, "
                                        "iocb, ifl, &ctx);\n"), OVL)
    sarif_file = tmp_path / "leak.sarif"
    code, out = _gate(capsys, leak, "--no-mutants", "--sarif", str(sarif_file))
    assert code == 1, out
    assert out.startswith("file.c+backing-file.c (fs/overlayfs/file.c): after the patch: "
                          "fails LEAK\n")
    assert "the file opened on the fly keeps 1 reference(s)" in out
    assert "puts the file opened on the fly: no longer (submitter)" in out
    [result] = json.loads(sarif_file.read_text())["runs"][0]["results"]
    assert result["ruleId"] == "LEAK"
    uris = {loc["location"]["physicalLocation"]["artifactLocation"]["uri"]
            for flow in result["codeFlows"] for t in flow["threadFlows"]
            for loc in t["locations"] if "physicalLocation" in loc["location"]}
    assert uris == {OVL, HELPERS}  # the interleaving runs through both files

    old, new = _ovl_write_iter(lambda fn: re.sub(r"\bifl\b", "iflags", fn))
    code, out = _gate(capsys, _diff(tmp_path, "rename", OVL, old, new))
    assert code == 0, out
    assert out.splitlines()[0] == ("file.c+backing-file.c (fs/overlayfs/file.c): after the "
                                   "patch: holds")
    assert "C mutants of the changed functions (ovl_write_iter): " in out
    assert "contract unchanged" in out and "passthrough.c" not in out


def test_a_caller_handing_over_other_callbacks_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The model takes a caller's callbacks from the kernel-API table: a ctx without
    .end_write is not checked as if it had it."""
    old, new = _ovl_write_iter(lambda fn: fn.replace("\t\t.end_write = ovl_file_end_write,\n",
                                                     "", 1))
    patch = _diff(tmp_path, "noend", OVL, old, new)
    assert cli(["gate-patch", "--tree", str(tree_612()), str(patch)]) == 2
    err = capsys.readouterr().err.strip()
    start = old[:old.index("static ssize_t ovl_write_iter(")].count("\n")
    line = old.splitlines().index("\tstruct backing_file_ctx ctx = {", start)
    assert err == (f"backing-aio: error: {OVL}:{line + 1}: ovl_write_iter() hands over the "
                   "callbacks {none}, but the model knows overlayfs's for a write as "
                   "{.end_write = ovl_file_end_write} (kapi.CALLERS): a change to the "
                   "callbacks a caller hands over is not lifted")


def test_a_patch_to_fuse_and_check_of_a_callers_patch(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A patch to passthrough.c (two initializers of the read's ctx swapped) is gated as
    FUSE's variant alone; check takes the same patch (with --tree) and lifts that variant."""
    swap = _patch(tmp_path, "fuse-harmless", (
        "\t\t.user_file = file,\n\t\t.accessed = fuse_file_accessed,\n",
        "\t\t.accessed = fuse_file_accessed,\n\t\t.user_file = file,\n"), FUSE)
    code, out = _gate(capsys, swap, "--no-mutants")
    assert code == 0, out
    assert out.splitlines()[0] == ("passthrough.c+backing-file.c (fs/fuse/passthrough.c): "
                                   "after the patch: holds")
    assert cli(["check", str(swap), "--tree", str(tree_612()), "-n", "1"]) == 0
    line, any_n = capsys.readouterr().out.strip().splitlines()
    assert line.startswith("passthrough.c+backing-file.c: holds")
    assert any_n.startswith("  any N: holds by composition")


def test_a_patch_to_the_loop_driver(tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A user of the pattern outside the helpers, gated around its catalogue entry: the
    loop driver's completion put twice is a double free."""
    patch = _patch(tmp_path, "loop-twice", ("\tlo_rw_aio_do_completion(cmd);\n",
                                            "\tlo_rw_aio_do_completion(cmd);\n"
                                            "\tlo_rw_aio_do_completion(cmd);\n"),
                   "drivers/block/loop.c")
    code, out = _gate(capsys, patch, "--no-mutants")
    assert code == 1, out
    assert out.startswith("loop.c (drivers/block/loop.c): after the patch: fails ")
