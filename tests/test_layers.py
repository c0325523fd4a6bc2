"""The layers of ARCHITECTURE.md, as the imports show them: each layer imports only the
layers below it (vocab <- kapi <- model <- verify <- present <- cli; refimpl on vocab and
kapi alone; crosscheck and kernelcheck join refimpl and the running kernel to the model)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "backing_aio"

# What each part of the package may import from the package (besides itself).
ALLOWED: dict[str, frozenset[str]] = {
    "vocab": frozenset(),
    "errors": frozenset(),
    "outputs": frozenset({"errors"}),
    # facts about the kernel (versions, what a function may do), in vocab's names
    "kapi": frozenset({"vocab"}),
    "model": frozenset({"vocab", "kapi", "errors"}),
    # refimpl.probe runs a native probe in a child; z3 is probed the same way
    "verify": frozenset({"vocab", "kapi", "errors", "outputs", "model", "refimpl.probe"}),
    "present": frozenset({"vocab", "kapi", "errors", "outputs", "model", "verify"}),
    # the C front-end: reads C into the model's statements (tree-sitter probed in a child)
    "cfront": frozenset({"vocab", "kapi", "errors", "outputs", "model", "verify",
                         "refimpl.probe"}),
    # the independent side: the shared names and the kernel's facts, not the model
    "refimpl": frozenset({"vocab", "kapi"}),
    "crosscheck": frozenset({"vocab", "kapi", "errors", "outputs", "model", "verify",
                             "refimpl"}),
    "kernelcheck": frozenset({"vocab", "kapi", "errors", "outputs", "model", "verify",
                              "refimpl"}),
}


def part(module: str) -> str:
    """``backing_aio.model.lang`` -> ``model``; top-level modules name themselves."""
    return module.split(".")[1]


def imported(source: str, module: str) -> set[str]:
    """The package's modules ``source`` (the text of ``module``) imports."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("backing_aio."))
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            if node.level:  # relative: resolve against the importing module's package
                base = ".".join([*module.split(".")[:-node.level], node.module])
            if base == "backing_aio":  # from backing_aio import kapi: backing_aio.kapi
                out.update(f"{base}.{a.name}" for a in node.names)
            elif base.startswith("backing_aio."):
                out.add(base)
    return out


def breaches(source: str, module: str) -> list[str]:
    mine = part(module)
    allowed = ALLOWED.get(mine)
    if allowed is None:  # cli: the top, it may use everything
        return []
    bad = []
    for target in sorted(imported(source, module)):
        rest = target.removeprefix("backing_aio.")
        if part(target) == mine or any(rest == a or rest.startswith(a + ".") for a in allowed):
            continue
        bad.append(f"{module} imports {target}")
    return bad


def modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        if name.count(".") >= 1:
            out.append((name, path))
    return out


def test_every_part_has_a_rule() -> None:
    parts = {part(name) for name, _ in modules()} - {"cli", "__main__"}
    assert parts == set(ALLOWED)


def test_each_layer_imports_only_the_layers_below() -> None:
    found = [b for name, path in modules() for b in breaches(path.read_text(), name)]
    assert found == []


def test_a_breach_is_reported() -> None:
    assert breaches("from backing_aio.cli.main import main\n", "backing_aio.verify.gate") == [
        "backing_aio.verify.gate imports backing_aio.cli.main"]
    assert breaches("import backing_aio.model.lang\n", "backing_aio.refimpl.vfs") == [
        "backing_aio.refimpl.vfs imports backing_aio.model.lang"]
    assert breaches("def f():\n    from backing_aio.present import diagrams\n",
                    "backing_aio.model.mutants") == [
        "backing_aio.model.mutants imports backing_aio.present"]
    assert breaches("from backing_aio.model import lang\n", "backing_aio.verify.bmc") == []
    assert breaches("from backing_aio import model\n", "backing_aio.refimpl.vfs") == [
        "backing_aio.refimpl.vfs imports backing_aio.model"]
    assert breaches("from backing_aio import kapi, vocab\n", "backing_aio.refimpl.vfs") == []
    assert breaches("from backing_aio import model\n", "backing_aio.kapi") == [
        "backing_aio.kapi imports backing_aio.model"]
