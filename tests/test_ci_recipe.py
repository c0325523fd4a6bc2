"""The CI recipe in examples/ci run as a kernel tree's CI would: on a git repository made
from Debian 6.12's sources, a change that sets the count to 1 fails with its SARIF on the
changed file, a harmless one passes, a change to a caller alone is gated around the
helpers, a change elsewhere is not gated; and the pre-push hook runs the same gate."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_cfront import tree_612

pytestmark = pytest.mark.cparse

RECIPE = Path(__file__).resolve().parent.parent / "examples" / "ci"
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is missing")


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout


def _repo(tmp_path: Path) -> Path:
    """A kernel tree under git: the files the gate reads, as Debian 6.12 has them."""
    repo = tmp_path / "linux"
    for f in ("fs/backing-file.c", "fs/overlayfs/file.c", "fs/fuse/passthrough.c",
              "Makefile"):
        (repo / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(tree_612() / f, repo / f)
    _git(repo, "init", "-q", "-b", "master")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base")
    return repo


def _change(repo: Path, path: str, old: str, new: str) -> None:
    f = repo / path
    text = f.read_text()
    assert old in text
    f.write_text(text.replace(old, new, 1))
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "change")


def _run(repo: Path, *argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    bin_dir = str(Path(sys.executable).parent)  # where backing-aio is installed
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "OUT": "out"}
    return subprocess.run(argv, cwd=repo, env=env, input=stdin, capture_output=True,
                          text=True, timeout=600)


@needs_git
@pytest.mark.slow
@pytest.mark.z3
def test_the_recipe_fails_a_count_of_1_and_passes_a_harmless_change(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _change(repo, "fs/backing-file.c", "refcount_set(&aio->ref, 2);",
            "refcount_set(&aio->ref, 1);")
    r = _run(repo, "sh", str(RECIPE / "backing-aio-gate.sh"), "HEAD~1", "HEAD")
    assert r.returncode == 1, r.stderr
    assert "fails UAF" in r.stdout
    log = json.loads((repo / "out" / "backing-aio.sarif").read_text())
    [uaf] = [x for x in log["runs"][0]["results"] if x["ruleId"] == "UAF"]
    where = uaf["locations"][0]["physicalLocation"]
    assert where["artifactLocation"]["uri"] == "fs/backing-file.c"
    free = (repo / "fs/backing-file.c").read_text().splitlines().index(
        "\t\tkmem_cache_free(backing_aio_cachep, aio);") + 1
    assert where["region"]["startLine"] == free
    assert (repo / "out" / "backing-aio.xml").is_file()
    # the fix on top: from the base, a harmless reorder of two independent stores
    _git(repo, "reset", "-q", "--hard", "HEAD~1")
    _change(repo, "fs/backing-file.c",
            "\t\taio->orig_iocb = iocb;\n\t\tkiocb_clone(&aio->iocb, iocb, get_file(file));\n",
            "\t\tkiocb_clone(&aio->iocb, iocb, get_file(file));\n\t\taio->orig_iocb = iocb;\n")
    r = _run(repo, "sh", str(RECIPE / "backing-aio-gate.sh"), "HEAD~1", "HEAD")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "contract unchanged" in r.stdout


@needs_git
@pytest.mark.slow
@pytest.mark.z3
def test_a_change_elsewhere_is_not_gated_and_the_hook_gates_a_push(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _change(repo, "Makefile", "EXTRAVERSION =", "EXTRAVERSION = -rc1")
    r = _run(repo, "sh", str(RECIPE / "backing-aio-gate.sh"), "HEAD~1", "HEAD")
    assert r.returncode == 0 and "changes none of" in r.stderr
    # a change to a caller alone: its file lifted around the tree's helpers, gated
    _change(repo, "fs/overlayfs/file.c", "\tfdput(real);\n\nout_unlock:",
            "\nout_unlock:")
    r = _run(repo, "sh", str(RECIPE / "backing-aio-gate.sh"), "HEAD~1", "HEAD")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "file.c+backing-file.c (fs/overlayfs/file.c): after the patch: fails LEAK" \
        in r.stdout
    _git(repo, "reset", "-q", "--hard", "HEAD~1")
    base = _git(repo, "rev-parse", "HEAD").strip()
    _change(repo, "fs/backing-file.c", "refcount_set(&aio->ref, 2);",
            "refcount_set(&aio->ref, 1);")
    head = _git(repo, "rev-parse", "HEAD").strip()
    line = f"refs/heads/master {head} refs/heads/master {base}\n"
    r = _run(repo, "sh", str(RECIPE / "pre-push"), "origin", "url", stdin=line)
    assert r.returncode == 1 and "fails UAF" in r.stdout


def test_the_workflows_run_the_recipe_and_upload_what_it_writes() -> None:
    gh = (RECIPE / "github-workflow.yml").read_text()
    assert "sh scripts/backing-aio-gate.sh" in gh and "upload-sarif@v4" in gh
    assert "backing-aio-out/backing-aio.sarif" in gh
    gl = (RECIPE / "gitlab-ci.yml").read_text()
    assert "sh scripts/backing-aio-gate.sh" in gl and "junit: backing-aio-out/backing-aio.xml" in gl
    for path in ("fs/backing-file.c", "fs/overlayfs/file.c", "fs/fuse/passthrough.c"):
        assert path in gh and path in gl
