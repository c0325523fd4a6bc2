"""The explorer (N = 1..3), bounded z3 and the unbounded z3 proof give the same verdict
and the same properties, on the catalogue and on mutants, and what hypothesis's random runs
break the explorer breaks too; the gate's z3 section fails when a variant stops meeting
its verdict or z3 cannot decide."""

from __future__ import annotations

import pytest

from backing_aio.cli.main import main as cli
from backing_aio.model.catalogue import catalogue
from backing_aio.model.mutants import Mutant, mutants
from backing_aio.verify.agree import Verdicts, decide, decide_all, hypothesis_check, selection
from backing_aio.verify.gate import check_z3


def _mutant(name: str) -> Mutant:
    return next(m for v in catalogue().values() for m in mutants(v) if m.name == name)


@pytest.mark.slow  # tens of seconds of z3
def test_a_killed_mutant_is_found_by_all_three_ways_alike() -> None:
    m = _mutant("seed-fixed:delete:backing_file_read_iter#13(call)")
    d = decide(m.variant, lemmas=True)
    assert d.ok, d.problems
    assert "LEAK" in d.explorer[1]
    assert d.bmc_failed == d.proof_failed == d.explorer[1]
    assert d.bmc_lengths == {k: v for k, v in d.explorer_lengths.items()}
    # hypothesis's random runs break a property the explorer breaks too
    assert d.hypothesis and d.hypothesis <= d.explorer_failed


def test_a_hypothesis_finding_the_explorer_lacks_is_a_disagreement() -> None:
    # ovl-5.6 as if the explorer and z3 had found it sound: hypothesis's UAF run (a real
    # run of the model, it replays) must then be reported, never absorbed
    v = catalogue()["ovl-5.6"]
    out = Verdicts(v.name, explorer={1: frozenset(), 2: frozenset(), 3: frozenset()},
                   proved_all_n={"read": True, "write": True})
    hypothesis_check(v, out)
    assert out.hypothesis == {"UAF"} and not out.ok
    assert "hypothesis breaks UAF" in out.problems[0] and "proved it for all N" in out.problems[0]


@pytest.mark.slow  # tens of seconds of z3
def test_the_gate_z3_section_fails_a_variant_that_breaks_its_verdict() -> None:
    m = _mutant("seed-fixed:delete:backing_file_read_iter#13(call)")  # expected: holds
    (row,) = check_z3([m.variant])
    assert not row.ok and "LEAK" in row.proof_failed and row.verdict.text().startswith("fails")
    (good,) = check_z3([catalogue()["mainline"]])
    assert good.ok and good.all_n and good.verdict.text() == "holds for all N"


def test_bad_usage_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["agree", "nonsense"]) == 2
    assert cli(["agree", "mutants", "--every", "0"]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("backing-aio: error: ") for line in lines)


@pytest.mark.slow
def test_explorer_bmc_and_proof_agree_on_the_catalogue_and_a_sample_of_mutants() -> None:
    # the catalogue in full (plain bounded search), and every 100th mutant of the good
    # variants (strengthened with the proved invariant); `make agree` runs every mutant
    variants = selection("catalogue") + selection("mutants")[::100]
    results = decide_all(variants, lemmas=True)
    problems = [f"{r.variant}: {p}" for r in results for p in r.problems]
    assert problems == []
    by_name = {r.variant: r for r in results}
    assert by_name["ovl-5.6"].bmc_failed == by_name["ovl-5.6"].hypothesis == {"UAF"}
    # the seed breaks RESULT_PROPAGATED (IOCB_DIO_CALLER_COMP) and CONTEXT (its read
    # completion calls ovl_file_accessed()): found every way
    assert by_name["seed"].bmc_failed == {"RESULT_PROPAGATED", "CONTEXT"}
    good = ("seed-fixed", "ovl-5.16", "mainline", "ovl-6.12", "fuse-6.12", "loop", "erofs")
    assert not any(by_name[n].hypothesis for n in good)
    assert all(by_name[n].all_n for n in good)
    assert any(r.explorer[1] for r in results[4:]) and len(results) > 8
