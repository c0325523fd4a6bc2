"""JUnit XML out of the gate, read back with a maintained JUnit parser (junitparser)."""

from __future__ import annotations

from pathlib import Path

import pytest
from junitparser import Failure, JUnitXml, Skipped

from backing_aio.cfront.cmutants import Score
from backing_aio.cli.gate_junit import cases
from backing_aio.cli.main import main as cli
from backing_aio.model.catalogue import catalogue
from backing_aio.model.equivalents import EQUIVALENT
from backing_aio.present.junit import Case, render
from backing_aio.verify.compose import compose
from backing_aio.verify.explorer import explore
from backing_aio.verify.gate import ComposedRow, MutantOutcome, MutationReport, Row
from tests.conftest import mutant


def _read(path: Path) -> dict[str, dict[str, str]]:
    """suite -> case -> "passed", "failure: MESSAGE" or "skipped: MESSAGE"."""
    out: dict[str, dict[str, str]] = {}
    for suite in JUnitXml.fromfile(str(path)):
        got = out.setdefault(str(suite.name), {})
        for case in suite:
            results = list(case.result)
            if not results:
                got[str(case.name)] = "passed"
            elif isinstance(results[0], Failure):
                got[str(case.name)] = f"failure: {results[0].message}"
            else:
                assert isinstance(results[0], Skipped)
                got[str(case.name)] = f"skipped: {results[0].message}"
    return out


def test_the_gate_writes_a_case_per_catalogue_row(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "gate.xml"
    assert cli(["gate", "--no-mutants", "--no-proofs", "--max-requests", "2",
                "--junit", str(f)]) == 0
    capsys.readouterr()
    got = _read(f)
    names = [f"{v} {n}" for v in catalogue() for n in ("N=1", "N=2", "any N")]
    assert list(got) == ["catalogue"] and sorted(got["catalogue"]) == sorted(names)
    assert set(got["catalogue"].values()) == {"passed"}


def test_failures_and_unjudged_checks_are_what_they_are(tmp_path: Path) -> None:
    """The format can fail: a row whose verdict is not the expected one is a failure, a
    mutant listed as equivalent is skipped with its reason, a survivor not listed is a
    failure; a C mutant not lifted is skipped, a stale equivalence a failure."""
    v = catalogue()["mainline"]
    wrong = Row("mainline", 1, frozenset({"UAF"}), explore(v, 1))
    right = Row("mainline", 2, frozenset(), explore(v, 2))
    equivalent = next(iter(EQUIVALENT))
    report = MutationReport([
        MutantOutcome("m:killed", "dropped a put", frozenset({"LEAK"}), 1),
        MutantOutcome(equivalent, "a store twice", frozenset(), 3),
        MutantOutcome("m:survivor", "nobody explained it", frozenset(), 3)])
    sc = Score("backing-file.c", total=3, killed={"c:killed": frozenset({"UAF"})},
               not_lifted={"c:nl": "a condition the kernel-API table does not know"},
               stale=["c:stale"])
    f = tmp_path / "r.xml"
    composed = [ComposedRow("mainline", frozenset({"UAF"}), frozenset(), 2, compose(v)),
                ComposedRow("over", frozenset(), frozenset(), 2, compose(
                    mutant("seed-fixed:get_file:backing_file_read_iter#9(kiocb_clone)")))]
    f.write_text(render(cases([wrong, right], [], report, ["m:stale"], (sc, "6.12.118-1"),
                              composed)))
    got = _read(f)
    assert got["catalogue"] == {"mainline N=1": "failure: expected fails UAF, found holds",
                                "mainline N=2": "passed",
                                "mainline any N": "failure: expected fails UAF, composed holds",
                                "over any N": got["catalogue"]["over any N"]}
    assert got["catalogue"]["over any N"].startswith("skipped: not composed: ")
    assert got["mutants"]["m:killed"] == "passed"
    assert got["mutants"][equivalent].startswith("skipped: equivalent: ")
    assert got["mutants"]["m:survivor"].startswith("failure: survives, not listed")
    assert got["mutants"]["m:stale"].startswith("failure: listed as equivalent")
    c = got["c_mutants backing-file.c (6.12.118-1)"]
    assert c == {"c:killed": "passed",
                 "c:nl": "skipped: not lifted: a condition the kernel-API table does not know",
                 "c:stale": "failure: listed as equivalent, but killed or no longer made"}
    suites = {str(s.name): s for s in JUnitXml.fromfile(str(f))}
    assert (suites["mutants"].tests, suites["mutants"].failures,
            suites["mutants"].skipped) == (4, 2, 1)


def test_a_case_cannot_both_fail_and_be_skipped() -> None:
    with pytest.raises(ValueError, match="fails or is skipped"):
        Case("s", "n", failure="x", skipped="y")
