"""The explorer benchmark's z3 table (``backing_aio.verify.bench``) shows the one verdict."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import backing_aio.model.catalogue as catalogue_module
import backing_aio.verify.bmc as bmc_module
import backing_aio.verify.prove as prove_module
import backing_aio.verify.symbolic as symbolic_module
from backing_aio.verify import bench
from backing_aio.verify.bmc import BmcResult
from backing_aio.verify.prove import Proof


def _proof_table(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, proof: Proof) -> str:
    """The bench's proof table for seed, with z3's answers replaced by ``proof`` (and a
    bounded search that finds nothing)."""
    seed = catalogue_module.catalogue()["seed"]
    monkeypatch.setattr(catalogue_module, "catalogue", lambda: {"seed": seed})
    monkeypatch.setattr(symbolic_module, "build", lambda *a, **k: SimpleNamespace(rules=[]))
    monkeypatch.setattr(prove_module, "candidate", lambda *a, **k: {})
    monkeypatch.setattr(prove_module, "prove", lambda *a, **k: proof)

    def no_finding(v: Any, rtype: str, *a: Any, **k: Any) -> BmcResult:
        return BmcResult(v.name, rtype, 10)

    monkeypatch.setattr(bmc_module, "bmc", no_finding)
    out = tmp_path / "proofs.txt"
    bench._proof_times(out)
    return out.read_text()


def test_a_proof_that_is_not_inductive_is_not_shown_as_failing(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    p = Proof("seed", "read", {}, not_inductive=["submit: leaves the invariant"])
    table = _proof_table(monkeypatch, tmp_path, p)
    rows = [line for line in table.splitlines() if line.startswith("seed ")]
    assert len(rows) == 4  # one per request type
    for row in rows:
        assert row.endswith("NOT DECIDED (invariant not inductive)"), row
        assert "fails" not in row


def test_a_proof_for_one_request_only_is_not_shown_as_failing(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    p = Proof("seed", "read", {}, all_n=["r: depends on other requests' share of the file"])
    table = _proof_table(monkeypatch, tmp_path, p)
    rows = [line for line in table.splitlines() if line.startswith("seed ")]
    assert rows and all(row.endswith("holds for one request") for row in rows), rows


def _git_head() -> str | None:
    import subprocess

    out = subprocess.run(["git", "-C", str(bench.ROOT), "rev-parse", "HEAD"],
                         capture_output=True, text=True, check=False)
    return out.stdout.strip() if out.returncode == 0 else None


def test_the_benchmark_runs_a_baseline_revision_beside_this_tree(tmp_path: Path) -> None:
    """Each search also runs on the revision's own code (the child reports which package
    it imported, and the bench refuses a run of the wrong one)."""
    head = _git_head()
    if head is None:
        pytest.skip("not a git checkout: no revision to extract")
    out = tmp_path / "explorer.txt"
    bench.run(["erofs"], 2, 1, out, None, baseline=head)
    text = out.read_text()
    assert f"beside revision {head}" in text
    rows = [line.split() for line in text.splitlines()
            if line.startswith("erofs ") and " N=" not in line]
    # N = 1, 2 reduced, N = 1, 2 unreduced, each with the baseline's figures; composed
    assert [r[1] for r in rows] == ["1", "2", "1", "2", "any"]
    assert all(r[-2].endswith("x") for r in rows[:4]) and rows[4][-1] == "holds"


def test_a_bad_baseline_is_bad_input(tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    from backing_aio.cli.main import main

    with pytest.raises(ValueError, match="no-such-revision"):
        bench.baseline_tree("no-such-revision", tmp_path)
    assert main(["bench", "--variant", "erofs", "--max-requests", "1", "--repeat", "1",
                 "--baseline", "no-such-revision", "--out", str(tmp_path / "b.txt")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no-such-revision" in err[0]
