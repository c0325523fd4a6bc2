"""The refactor gate for a patch to Debian 6.12's fs/backing-file.c: exit codes, the
contract comparison, SARIF on the C lines and JUnit. The patches are made here from the
tree's own file (difflib), none is committed."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest
from junitparser import Failure, JUnitXml

from backing_aio.cli.main import main as cli
from tests.test_cfront import tree_612
from tests.test_json import validator
from tests.test_sarif import _validator

pytestmark = pytest.mark.cparse

HELPERS = "fs/backing-file.c"


def _patch(tmp_path: Path, name: str, edit: tuple[str, str]) -> Path:
    old = (tree_612() / HELPERS).read_text()
    new = old.replace(*edit, 1)
    assert new != old, edit
    p = tmp_path / f"{name}.patch"
    p.write_text("".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                              f"a/{HELPERS}", f"b/{HELPERS}")))
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
    assert code == 1 and doc["files"][0]["after"] == ["CLEANUP_ONCE"]  # still breaks


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
