"""Mutants of the kernel's C itself: systematic edits of the helpers' C text, each lifted
and checked like the C it came from.

The operators edit the functions the lifter lifts, one edit each:

- ``delete``: a statement (an expression statement, or an ``if`` with its body);
- ``swap``: two adjacent expression statements of one block;
- ``refcount``: ``refcount_set``'s count, one less and one more;
- ``invert``: the ``-EIOCBQUEUED`` test (``!=`` and ``==`` exchanged);
- ``get_file``: ``get_file(file)`` handed on as ``file``;
- ``move``: a callback the submitter runs through the caller's ctx (``if (ctx->accessed)
  ctx->accessed(...)``) moved into the completion, the way such a refactor would write it:
  the wrapper keeps the ctx (a member ``ctx``, stored after ``orig_iocb``) and the
  completion calls ``aio->ctx->accessed(...)`` first thing.

(Dropping a put, an ``fput`` or the flag clear is a ``delete``; moving the ``fput`` before
the last use is a ``swap``.) A mutant's name is stable while the C is: the file, the
operator, the function, the statement's ordinal in it and the statement's text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from backing_aio.cfront.parse import CError, CFile, flat
from backing_aio.model.equivalents import REASONS as MODEL_REASONS
from backing_aio.model.lang import Variant, VariantError

if TYPE_CHECKING:
    from tree_sitter import Node

_SIMPLE = ("expression_statement",)
_DELETABLE = ("expression_statement", "if_statement")


@dataclass(frozen=True)
class CMutant:
    name: str
    line: int  # the C line the edit is on
    text: str  # the whole edited file


def _statements(body: Node) -> Iterator[tuple[Node, Node]]:
    """Every statement of a function body with the block it stands in, in source order."""
    stack = [body]
    while stack:
        block = stack.pop(0)
        for c in block.children:
            if c.type in ("compound_statement",):
                stack.append(c)
            elif c.is_named and c.type not in ("comment",):
                yield c, block
                for inner in ("consequence", "alternative", "body"):
                    got = c.child_by_field_name(inner)
                    if got is not None:
                        stack.append(got)
                if c.type == "else_clause":
                    stack.extend(x for x in c.children if x.is_named)


def mutants(c: CFile, functions: list[str]) -> list[CMutant]:
    """Every single edit of ``functions`` (the lifted ones) in ``c``."""
    src = c.source.encode()
    out: list[CMutant] = []

    def edit(start: int, end: int, new: bytes, name: str, node: Node) -> None:
        text = (src[:start] + new + src[end:]).decode()
        out.append(CMutant(name, c.line(node), text))

    for fname in functions:
        fn = c.functions[fname]
        stmts = list(_statements(fn.body))
        for k, (node, block) in enumerate(stmts):
            short = flat(node)[:48]

            def tag(op: str, k: int = k, short: str = short, fname: str = fname) -> str:
                return f"{Path(c.path).name}:{op}:{fname}#{k}({short})"

            if node.type in _DELETABLE:
                edit(node.start_byte, node.end_byte, b"", tag("delete"), node)
            sib = node.next_named_sibling
            if (node.type in _SIMPLE and sib is not None and sib.type in _SIMPLE
                    and sib.parent == block):
                a = src[node.start_byte:node.end_byte]
                b = src[sib.start_byte:sib.end_byte]
                gap = src[node.end_byte:sib.start_byte]
                edit(node.start_byte, sib.end_byte, b + gap + a, tag("swap"), node)
            text = src[node.start_byte:node.end_byte]
            if node.type in _SIMPLE and b"refcount_set(" in text:
                for n in (b"1", b"3"):
                    new = text.replace(b", 2)", b", " + n + b")")
                    if new != text:
                        edit(node.start_byte, node.end_byte, new,
                             tag(f"refcount{n.decode()}"), node)
            if node.type == "if_statement":
                cond = node.child_by_field_name("condition")
                ctext = src[cond.start_byte:cond.end_byte] if cond is not None else b""
                for a, b in ((b"!= -EIOCBQUEUED", b"== -EIOCBQUEUED"),
                             (b"== -EIOCBQUEUED", b"!= -EIOCBQUEUED")):
                    if cond is not None and a in ctext:
                        edit(cond.start_byte, cond.end_byte, ctext.replace(a, b),
                             tag("invert"), node)
            if node.type in _SIMPLE and b"get_file(" in text:
                new = text.replace(b"get_file(file)", b"file")
                if new != text:
                    edit(node.start_byte, node.end_byte, new, tag("get_file"), node)
            moved = _moved_into_completion(c, src, fname, node)
            if moved is not None:
                out.append(CMutant(tag("move"), c.line(node), moved))
    return out


_CTX_CALLBACK = re.compile(rb"if \(ctx->(\w+)\)\s*ctx->\1\(")


def _moved_into_completion(c: CFile, src: bytes, fname: str, node: Node) -> str | None:
    """``src`` with the guarded ctx callback ``node`` of ``fname`` moved into the
    completion ``fname`` sets as ki_complete (None: no such callback, or no such
    completion): the wrapper gains a ``ctx`` member, ``fname`` stores its ctx in it after
    ``orig_iocb``, and the completion calls the callback through it after its
    declarations."""
    text = src[node.start_byte:node.end_byte]
    if node.type != "if_statement" or not _CTX_CALLBACK.match(b" ".join(text.split())):
        return None
    body = src[c.functions[fname].body.start_byte:c.functions[fname].body.end_byte]
    store = re.search(rb"\n(\s*)(\w+)->orig_iocb = iocb;\n", body)
    completion = re.search(rb"->iocb\.ki_complete = (\w+);", body)
    if store is None or completion is None or completion.group(1).decode() not in c.functions:
        return None
    aio = store.group(2)
    target = c.functions[completion.group(1).decode()]
    decls = [n for n in target.body.children if n.type == "declaration"]
    struct = re.search(rb"\nstruct (\w+) \{\n(?:[^}]*\n)*?\tstruct kiocb iocb;", src)
    if not decls or struct is None:
        return None
    end_of_struct = src.index(b"\n};", struct.end())
    mine = re.search(rb"struct \w+ \*(\w+) =\s*container_of", src[target.body.start_byte:
                                                               target.body.end_byte])
    own = mine.group(1) if mine is not None else aio  # the completion's name for it
    indent = store.group(1).lstrip(b"\n")
    edits = [
        (end_of_struct, end_of_struct, b"\n\tstruct backing_file_ctx *ctx;"),
        (node.start_byte, node.end_byte, b""),
        (c.functions[fname].body.start_byte + store.end(), c.functions[fname].body.start_byte
         + store.end(), indent + aio + b"->ctx = ctx;\n"),
        (decls[-1].end_byte, decls[-1].end_byte,
         b"\n\n\t" + text.replace(b"ctx->", own + b"->ctx->")),
    ]
    for start, end, new in sorted(edits, reverse=True):
        src = src[:start] + new + src[end:]
    return src.decode()


# Reasons a C mutant behaves like the C it came from, beside the model mutants' reasons.
REASONS: Final[dict[str, str]] = {
    **MODEL_REASONS,
    "CREDS": (
        "outside the model: the credentials the IO runs with; without override_creds() "
        "old_cred is left unset and revert_creds() is handed it, which the model does not "
        "see"
    ),
    "ASSIGN_ORDER": (
        "ret = -ENOMEM is stored on either side of the allocation, before its test: the "
        "failure path returns the same value"
    ),
}

# The C mutants of Debian's 6.12.118 fs/backing-file.c that behave like it, each with its
# reason (a key of REASONS). Reviewed against the C: the gate fails on a survivor that is
# not here, and on an entry here that is killed or no longer generated.
EQUIVALENT: Final[dict[str, str]] = {
    "backing-file.c:delete:backing_file_read_iter#3(if (WARN_ON_ONCE(!(file->f_mode & "
    "FMODE_BACKING))": "WARN_BACKING",
    "backing-file.c:delete:backing_file_read_iter#4(if (!iov_iter_count(iter)) return 0;)":
        "ZERO_LENGTH",
    "backing-file.c:delete:backing_file_read_iter#5(if (iocb->ki_flags & IOCB_DIRECT && "
    "!(file->f_mo)": "ODIRECT",
    "backing-file.c:delete:backing_file_read_iter#6(old_cred = override_creds(ctx->cred);)":
        "CREDS",
    "backing-file.c:swap:backing_file_read_iter#17(ret = -ENOMEM;)": "ASSIGN_ORDER",
    "backing-file.c:swap:backing_file_read_iter#20(aio->orig_iocb = iocb;)":
        "INDEPENDENT_STORES",
    "backing-file.c:swap:backing_file_read_iter#21(kiocb_clone(&aio->iocb, iocb, "
    "get_file(file));)": "NO_KI_COMPLETE",
    "backing-file.c:delete:backing_file_read_iter#22(aio->iocb.ki_complete = "
    "backing_aio_rw_complete;)": "NO_KI_COMPLETE",
    "backing-file.c:swap:backing_file_read_iter#22(aio->iocb.ki_complete = "
    "backing_aio_rw_complete;)": "INDEPENDENT_STORES",
    "backing-file.c:delete:backing_file_write_iter#2(if (WARN_ON_ONCE(!(file->f_mode & "
    "FMODE_BACKING))": "WARN_BACKING",
    "backing-file.c:delete:backing_file_write_iter#3(if (!iov_iter_count(iter)) return 0;)":
        "ZERO_LENGTH",
    "backing-file.c:delete:backing_file_write_iter#4(ret = file_remove_privs(ctx->user_file)"
    ";)": "PRIVS",
    "backing-file.c:delete:backing_file_write_iter#5(if (ret) return ret;)": "PRIVS",
    "backing-file.c:delete:backing_file_write_iter#6(if (iocb->ki_flags & IOCB_DIRECT && "
    "!(file->f_mo)": "ODIRECT",
    "backing-file.c:swap:backing_file_write_iter#7(flags &= ~IOCB_DIO_CALLER_COMP;)":
        "FLAG_CLEAR_ORDER",
    "backing-file.c:delete:backing_file_write_iter#8(old_cred = override_creds(ctx->cred);)":
        "CREDS",
    "backing-file.c:swap:backing_file_write_iter#23(ret = -ENOMEM;)": "ASSIGN_ORDER",
    "backing-file.c:swap:backing_file_write_iter#26(aio->orig_iocb = iocb;)":
        "INDEPENDENT_STORES",
    "backing-file.c:swap:backing_file_write_iter#27(aio->is_write = true;)":
        "INDEPENDENT_STORES",
    "backing-file.c:swap:backing_file_write_iter#28(aio->end_write = ctx->end_write;)":
        "INDEPENDENT_STORES",
    "backing-file.c:swap:backing_file_write_iter#30(aio->iocb.ki_flags = flags;)":
        "INDEPENDENT_STORES",
    "backing-file.c:delete:backing_file_write_iter#31(aio->iocb.ki_complete = "
    "backing_aio_queue_comple)": "NO_KI_COMPLETE",
    "backing-file.c:swap:backing_file_write_iter#31(aio->iocb.ki_complete = "
    "backing_aio_queue_comple)": "INDEPENDENT_STORES",
}


@dataclass
class Score:
    """The C mutants of one file: each killed (with the properties), equivalent (with its
    reason), not lifted (with the front-end's one line), or a survivor nobody explained."""

    source: str
    total: int = 0
    killed: dict[str, frozenset[str]] = field(default_factory=dict)
    equivalent: dict[str, str] = field(default_factory=dict)
    not_lifted: dict[str, str] = field(default_factory=dict)
    unexplained: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)  # listed equivalent, but killed or gone

    @property
    def score(self) -> float:
        judged = self.total - len(self.equivalent) - len(self.not_lifted)
        return len(self.killed) / judged if judged else 1.0

    @property
    def ok(self) -> bool:
        return not self.unexplained and not self.stale


def score(c: CFile, lift: Callable[[CFile], Variant],
          failed: Callable[[Variant, frozenset[str]], frozenset[str]],
          equivalent: dict[str, str] = EQUIVALENT,
          functions: Collection[str] | None = None) -> Score:
    """Every C mutant of ``c`` (of ``functions`` only, if given): lifted with ``lift``,
    judged by ``failed(v, before)`` (the properties it breaks beyond ``before``, those the
    C it came from breaks)."""
    base = lift(c)
    before = failed(base, frozenset())
    stem = Path(c.path).name
    out = Score(c.path)
    seen: set[str] = set()
    names = [n for n in _lifted_names(base, c) if functions is None or n in functions]
    for m in mutants(c, names):
        name = m.name
        seen.add(name)
        out.total += 1
        try:
            v = lift(CFile(c.path, m.text))
        except (CError, VariantError) as e:
            out.not_lifted[name] = str(e).split(": ", 1)[-1]
            continue
        new = failed(v, before)
        if new:
            out.killed[name] = frozenset(new)
            if name in equivalent:
                out.stale.append(name)
        elif name in equivalent:
            out.equivalent[name] = equivalent[name]
        else:
            out.unexplained.append(name)
    if functions is None:  # a partial run cannot tell a stale entry from one not made
        out.stale += [n for n in equivalent if n.startswith(stem + ":") and n not in seen]
    return out


def _lifted_names(v: Variant, c: CFile) -> list[str]:
    """The functions of ``c`` that became procedures of ``v``."""
    return [n for n in v.procs if n in c.functions]


# Where `make kernel-sources` puts Debian's 6.12 tree, and the version EQUIVALENT was
# reviewed against: another version's mutants are scored, but its survivors are reported
# as what they are (another text), not checked against this table.
TREE_612: Final = Path(".cache/kernel/linux-source-6.12")
REVIEWED_612: Final = "6.12.118-1"


def gate_612(max_requests: int, tree: Path = TREE_612) -> tuple[Score, str] | None:
    """The C mutants of the 6.12 helpers, as the gate runs them (None: no sources here)."""
    from backing_aio.cfront.inputs import Options, assemble, lift_file, like_of
    from backing_aio.verify.explorer import smallest_failure

    version_file = tree / ".version"
    source = tree / "fs/backing-file.c"
    if not version_file.is_file() or not source.is_file():
        return None
    version = version_file.read_text().strip()
    opts = Options()
    c = CFile("backing-file.c", source.read_text(errors="replace"))
    like = like_of(c, opts)

    def lift(f: CFile) -> Variant:
        return assemble(lift_file(f, opts, like), like)

    def failed(v: Variant, before: frozenset[str]) -> frozenset[str]:
        return smallest_failure(v, max_requests)[0] - before

    table = EQUIVALENT if version == REVIEWED_612 else {}
    return score(c, lift, failed, table), version
