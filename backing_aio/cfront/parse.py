"""A C file as tree-sitter sees it, without the preprocessor: its functions and structs.

The kernel's macros are left as they are written (``WARN_ON_ONCE(...)`` is a call, an
``EXPORT_SYMBOL_GPL`` line a declaration the parser may mark as an error); a function whose
own body does not parse is refused by the lifter, the rest of the file does not matter.
The one exception is a macro that takes a statement after it (``kapi.STATEMENT_MACROS``: an
iteration such as ``rq_for_each_bvec(bv, rq, iter) stmt``, a scope such as
``scoped_with_creds(cred) stmt``), which C can only parse as a loop: it is read as ``for
(rq_for_each_bvec(bv, rq, iter);;) stmt`` (on the same line, so every line number stays),
and shown as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backing_aio.errors import UsageError
from backing_aio.kapi import STATEMENT_MACROS

if TYPE_CHECKING:
    from tree_sitter import Node, Parser


class CError(UsageError):
    """The C cannot be read or lifted: one line, naming file:line and the problem."""


@cache
def _parser() -> Parser:
    from backing_aio.cfront.probe import unavailable

    why = unavailable()
    if why is not None:
        raise CError(why)
    import tree_sitter
    import tree_sitter_c

    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_c.language()))


def text(node: Node) -> str:
    raw = node.text
    return raw.decode() if raw is not None else ""


def flat(node: Node) -> str:
    """The node's text on one line, runs of blanks made one space (an iteration macro as
    written, not as parsed)."""
    return _AS_LOOP.sub(r"\1", " ".join(text(node).split()))


_NAMES = "|".join(map(re.escape, sorted(STATEMENT_MACROS)))
_ITERATOR = re.compile(rf"^([ \t]*)((?:{_NAMES})\s*\()", re.M)
_AS_LOOP = re.compile(rf"for \(((?:{_NAMES})\s*\([^;]*\));;\)")


def as_loops(source: str) -> str:
    """``source`` with each iteration macro that starts a statement read as a ``for``."""
    out, at = [], 0
    for m in _ITERATOR.finditer(source):
        depth, i = 0, m.end(2) - 1
        while i < len(source):
            depth += {"(": 1, ")": -1}.get(source[i], 0)
            if depth == 0:
                break
            i += 1
        if i >= len(source) or source[i + 1:].lstrip().startswith(";"):
            continue  # unbalanced, or a call statement of that name: not a loop
        out += [source[at:m.start(2)], "for (", source[m.start(2):i + 1], ";;)"]
        at = i + 1
    return "".join(out) + source[at:]


@dataclass(frozen=True)
class Function:
    name: str
    node: Any  # the function_definition (tree_sitter.Node)
    params: tuple[tuple[str, str], ...]  # (type as written, name), in order
    static: bool

    @property
    def body(self) -> Any:
        return self.node.child_by_field_name("body")


class CFile:
    """One C file: its text, its syntax tree, its functions and the structs it defines."""

    def __init__(self, path: str, source: str) -> None:
        self.path = path
        self.source = as_loops(source)  # what is parsed: edits (C mutants) are made on it
        self.tree = _parser().parse(self.source.encode())
        self.functions: dict[str, Function] = {}
        self.structs: dict[str, list[tuple[str, str]]] = {}
        for node in self.tree.root_node.children:
            if node.type == "function_definition":
                fn = _function(node)
                if fn is not None:
                    self.functions[fn.name] = fn
            elif node.type in ("struct_specifier", "declaration"):
                self._struct(node)

    @classmethod
    def read(cls, path: Path) -> CFile:
        try:
            return cls(str(path), path.read_text(errors="replace"))
        except OSError as e:
            raise CError(f"{path}: cannot be read ({e.strerror})") from None

    def where(self, node: Node) -> str:
        return f"{self.path}:{node.start_point[0] + 1}"

    def line(self, node: Node) -> int:
        return int(node.start_point[0]) + 1

    def _struct(self, node: Node) -> None:
        spec = node if node.type == "struct_specifier" else next(
            (c for c in node.children if c.type == "struct_specifier"), None)
        if spec is None:
            return
        name = spec.child_by_field_name("name")
        body = spec.child_by_field_name("body")
        if name is None or body is None:
            return
        members = []
        for field in body.children:
            if field.type != "field_declaration":
                continue
            typ = field.child_by_field_name("type")
            decl = field.child_by_field_name("declarator")
            if typ is not None and decl is not None:
                members.append((flat(typ), _declared_name(decl)))
        self.structs[text(name)] = members


def _declared_name(decl: Node) -> str:
    """The identifier a declarator declares (``*iocb`` -> iocb, ``(*cleanup)(...)`` -> cleanup)."""
    while decl.type not in ("identifier", "field_identifier"):
        inner = decl.child_by_field_name("declarator")
        if inner is None:
            named = [c for c in decl.children if c.type in ("identifier", "field_identifier")]
            if named:
                return text(named[0])
            paren = [c for c in decl.children if c.is_named]
            if not paren:
                return text(decl)
            inner = paren[0]
        decl = inner
    return text(decl)


def _function(node: Node) -> Function | None:
    decl = node.child_by_field_name("declarator")
    while decl is not None and decl.type != "function_declarator":
        decl = decl.child_by_field_name("declarator")
    if decl is None:
        return None
    name_node = decl.child_by_field_name("declarator")
    if name_node is None:
        return None
    params = []
    plist = decl.child_by_field_name("parameters")
    for p in plist.children if plist is not None else ():
        if p.type != "parameter_declaration":
            continue
        typ = p.child_by_field_name("type")
        d = p.child_by_field_name("declarator")
        if typ is None or d is None:
            continue
        if d.type == "function_declarator":  # void (*cleanup)(struct kiocb *, long)
            params.append((flat(typ) + "(*)", _declared_name(d)))
            continue
        stars = "*" if text(d).lstrip().startswith("*") else ""
        params.append((flat(typ) + stars, _declared_name(d)))
    static = any(c.type == "storage_class_specifier" and text(c) == "static"
                 for c in node.children)
    return Function(text(name_node), node, tuple(params), static)
