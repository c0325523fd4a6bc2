"""Every command's ``--json`` output has the shape docs/json.md documents: each is
validated against its JSON Schema in docs/schemas/ with a maintained validator."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest

import backing_aio.cli.main

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "docs" / "schemas"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot is missing")


@cache
def validator(name: str) -> Callable[[Any], Any]:
    return fastjsonschema.compile(json.loads((SCHEMAS / f"{name}.schema.json").read_text()))


def _json(main: Callable[[list[str]], int], args: list[str], code: int,
          capsys: pytest.CaptureFixture[str]) -> Any:
    assert main(args) == code
    out = capsys.readouterr().out
    return json.loads(out)


def test_every_schema_is_documented() -> None:
    text = (ROOT / "docs" / "json.md").read_text()
    for p in SCHEMAS.glob("*.schema.json"):
        name = p.name.removesuffix(".schema.json")
        # the format the schema pins, with the shape's version
        [shape] = set(re.findall(rf'"(backing-aio-{name}/\d+)"', p.read_text()))
        assert f"`{shape}`" in text and f"schemas/{p.name}" in text, name


@pytest.mark.parametrize(("args", "code"), [
    (["list", "--json"], 0),
    (["check", "ovl-5.6", "seed", "-n", "1", "--json"], 0),
    (["check", "seed-fixed", "-n", "1", "--types", "sync-write", "--json"], 0),
    (["explain", "ovl-5.6", "-p", "UAF", "--json"], 1),
    (["explain", "seed", "-p", "UAF", "--json"], 0),
    (["gate", "--no-mutants", "--no-proofs", "--max-requests", "1", "--json"], 0),
    (["diff", "ovl-5.16", "ovl-6.1", "--json"], 1),
    (["diff", "mainline", "mainline", "--json"], 0),
], ids=lambda a: " ".join(a) if isinstance(a, list) else str(a))
def test_backing_aio_json(args: list[str], code: int,
                          capsys: pytest.CaptureFixture[str]) -> None:
    doc = _json(backing_aio.cli.main.main, args, code, capsys)
    validator(args[0])(doc)
    assert doc["format"] == f"backing-aio-{args[0]}/1"


@pytest.mark.cparse
def test_lift_json_of_the_loop_driver(capsys: pytest.CaptureFixture[str]) -> None:
    """The accounts of code with branches the model leaves out keep the documented shape."""
    loop = ROOT / ".cache/kernel/linux-source-6.12/drivers/block/loop.c"
    if not loop.is_file():
        pytest.skip("no Debian linux-source-6.12 in .cache/kernel: run make kernel-sources")
    doc = _json(backing_aio.cli.main.main, ["lift", str(loop), "--json"], 0, capsys)
    validator("lift")(doc)
    assert any(a["how"].startswith("outside the model (") for a in doc["accounts"])


def test_replay_json_both_ways(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert backing_aio.cli.main.main(["check", "ovl-5.6", "-n", "1", "--save", str(tmp_path)]) == 0
    capsys.readouterr()
    saved = next(tmp_path.glob("*.json"))
    doc = _json(backing_aio.cli.main.main, ["replay", str(saved), "--json"], 1, capsys)
    validator("replay")(doc)
    assert doc["reproduces"] and doc["breaks"] == "UAF"
    # the same steps on the fixed version: a user's file that names it ovl-5.6
    fixed = tmp_path / "fixed.py"
    fixed.write_text("from backing_aio.model.catalogue import catalogue\n"
                     "v = catalogue()['ovl-5.16']\n"
                     "VARIANTS = [v.with_procs(dict(v.procs), name='ovl-5.6')]\n")
    doc = _json(backing_aio.cli.main.main, ["replay", str(saved), "--variant-file", str(fixed),
                                  "--json"], 0, capsys)
    validator("replay")(doc)
    assert not doc["reproduces"] and doc["why"]


@pytest.mark.z3
def test_prove_json(capsys: pytest.CaptureFixture[str]) -> None:
    doc = _json(backing_aio.cli.main.main,
                ["prove", "ovl-5.6", "--types", "read", "--bmc", "--json"], 0, capsys)
    validator("prove")(doc)


def test_an_error_with_json_is_the_error_shape(capsys: pytest.CaptureFixture[str]) -> None:
    assert backing_aio.cli.main.main(["check", "nope", "--json"]) == 2
    validator("error")(json.loads(capsys.readouterr().err))


@needs_dot
def test_diagrams_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = _json(backing_aio.cli.main.main, ["diagrams", "lifecycle", "seed", "--out",
                                            str(tmp_path), "--json"], 0, capsys)
    validator("diagrams")(doc)
    assert all(Path(f).parent == tmp_path for f in doc["files"])


@needs_dot
def test_report_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.html"
    doc = _json(backing_aio.cli.main.main,
                ["report", "--out", str(out), "--no-mutants", "--max-requests", "1", "--json"],
                0, capsys)
    validator("report")(doc)
    assert doc["file"] == str(out) and out.stat().st_size == doc["bytes"]


def test_kernelcheck_predict_json(capsys: pytest.CaptureFixture[str]) -> None:
    doc = _json(backing_aio.cli.main.main, ["kernel", "predict", "--json"], 0, capsys)
    validator("kernelcheck")(doc)
    assert {k["kind"] for k in doc["kinds"]} == {"read", "write"}


def test_a_schema_refuses_a_wrong_shape() -> None:
    """The validator is not a rubber stamp: a result without its verdict fails."""
    with pytest.raises(fastjsonschema.JsonSchemaException):
        validator("check")({"format": "backing-aio-check/1", "results": []})
