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
