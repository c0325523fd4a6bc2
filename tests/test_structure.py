"""The typed core's shape, kept: short functions in the model and the verifiers, request
fields read by name outside ``state``, statement kinds told apart by class outside ``lang``.

Each scanner is shown a breach first, so that a scanner that finds nothing cannot pass."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "backing_aio"
MAX_LINES = 60


def long_functions(source: str, limit: int = MAX_LINES) -> list[tuple[str, int]]:
    """Every function (methods and nested ones too) longer than ``limit`` lines."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            if lines > limit:
                out.append((node.name, lines))
    return out


# a request field read through an index constant (R_STATUS, R_POS …), as before the typed core
_INDEX_CONSTANT = re.compile(r"\bR_[A-Z][A-Z_]*\b")


def index_constants(source: str) -> list[str]:
    return _INDEX_CONSTANT.findall(source)


def op_string_comparisons(source: str) -> list[int]:
    """Lines that compare a statement's ``.op`` with something (``st.op == "fput"``,
    ``x.op in (...)``): outside ``lang`` a statement is told by its class."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            sides = [y for x in (node.left, *node.comparators) for y in ast.walk(x)]
            if any(isinstance(x, ast.Attribute) and x.attr == "op" for x in sides):
                out.append(node.lineno)
    return out


def _sources(*folders: str) -> dict[str, str]:
    return {str(p.relative_to(PACKAGE)): p.read_text()
            for f in folders for p in sorted((PACKAGE / f).rglob("*.py"))}


def test_the_scanners_see_a_breach() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    assert long_functions(f"def f():\n{body}\n") == [("f", MAX_LINES + 1)]
    assert long_functions("def f():\n    return 1\n") == []
    assert index_constants("status = r[R_STATUS]") == ["R_STATUS"]
    assert index_constants("r.status") == []
    assert op_string_comparisons("if st.op == 'fput':\n    pass\n") == [1]
    assert op_string_comparisons("if 'fput' in (a.op, b):\n    pass\n") == [1]
    assert op_string_comparisons("if isinstance(st, Fput):\n    pass\n") == []


def test_no_long_function_in_the_model_or_the_verifiers() -> None:
    found = {name: long_functions(src) for name, src in _sources("model", "verify").items()}
    assert {k: v for k, v in found.items() if v} == {}


def test_no_index_constants_outside_state() -> None:
    found = {name: index_constants(src) for name, src in _sources(".").items()
             if name != "model/state.py"}
    assert {k: v for k, v in found.items() if v} == {}


def test_no_comparison_on_statement_ops_outside_lang() -> None:
    found = {name: op_string_comparisons(src) for name, src in _sources(".").items()
             if name != "model/lang.py"}
    assert {k: v for k, v in found.items() if v} == {}
