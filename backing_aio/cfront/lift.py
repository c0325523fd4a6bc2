"""Lifting the helpers' C into the statement language.

Each C statement of a lifted function becomes one model statement, is known to have no
effect on the lifecycle (credentials, flag arithmetic: ``kapi.API`` says so), or is refused
with one line naming file:line. Nothing is dropped silently: ``Lifted.accounts`` lists what
became of every C statement.

The request's objects are told apart by their *roles*, found from the code itself:

- ``W``: the wrapper, a pointer to the file's struct that embeds ``struct kiocb iocb``
  (``struct backing_aio``); ``CLONE``: its kiocb (``&aio->iocb``, a completion's
  ``container_of`` argument); ``ORIG``: the original kiocb (an entry's ``struct kiocb *``
  parameter, ``aio->orig_iocb``); ``FILE``: the backing file an entry is handed;
  ``RET``: the return value ``ret``; ``CTX``: the caller's ``struct backing_file_ctx``;
  ``FD``: overlayfs's ``struct fd real`` (its ``real.file`` / ``fd_file(real)`` is FILE).

A condition is looked up by its text with the objects named by role
(``kapi.CONDITIONS``). The layout follows the model's conventions, which the hand-written
catalogue follows too: an ``if`` that returns jumps to its ``return`` placed after the
procedure's body; a ``goto`` straight to a ``return`` is that ``return``; an allocation and
the test of its result are one statement (``kmem_cache_zalloc`` with ``on_fail``), as are a
guarded callback (``if (ctx->accessed) ctx->accessed(...)``) and ``INIT_WORK`` with the
``queue_work`` after it; a local copy of ``aio->orig_iocb`` is a step of its own only where
the wrapper may be gone before its last use (after a call), or where ``ki_complete`` calls
through it.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from backing_aio import kapi
from backing_aio.cfront.parse import CError, CFile, Function, flat, text
from backing_aio.model.lang import (
    OPS,
    VALUE_SPELLING,
    Call,
    Goto,
    KiComplete,
    LoadOrig,
    Return,
    Stmt,
    VariantError,
    stmt,
)

if TYPE_CHECKING:
    from tree_sitter import Node

END = "END"
# the entry points of the helpers, by the name the kernel gives them
ENTRIES: dict[str, tuple[str, ...]] = {"backing_file_read_iter": ("read",),
                                       "backing_file_write_iter": ("write",)}


@dataclass(frozen=True)
class User:
    """Code with the pattern of its own, not the helpers: told apart by the struct that
    embeds its kiocb; its entry points and the kinds each serves; the catalogue entry
    written by hand from it (which brings the kernel, the caller and the contract); where
    a kernel tree keeps it."""

    struct: str
    entries: dict[str, tuple[str, ...]]
    like: str
    path: str


USERS: Final[tuple[User, ...]] = (
    # overlayfs's own async IO before the helpers (v5.6 to v6.7), as 6.1 has it
    User("ovl_aio_req", {"ovl_read_iter": ("read",), "ovl_write_iter": ("write",)},
         "ovl-6.1", "fs/overlayfs/file.c"),
    # the loop driver's direct IO: one entry for both kinds (rw is ITER_SOURCE for a write)
    User("loop_cmd", {"lo_rw_aio": ("read", "write")}, "loop", "drivers/block/loop.c"),
    # erofs's file-backed reads: the reads that allocate a request and submit it are the
    # environment (the catalogue entry's erofs_fileio_read); these two are lifted
    User("erofs_fileio_rq", {"erofs_fileio_rq_alloc": (), "erofs_fileio_rq_submit": ()},
         "erofs", "fs/erofs/fileio.c"),
)


def user_of(c: CFile) -> User | None:
    """The user of the pattern whose code ``c`` holds, if any."""
    return next((u for u in USERS if u.struct in c.structs
                 and all(e in c.functions for e in u.entries)), None)
# The helpers' own functions whose whole effect is one statement of the model: the table
# knows their body (spaces removed), and a different body is refused, not trusted.
FOLDED: dict[str, tuple[str, str]] = {
    "backing_aio_init_wq": (
        "init_wq",
        "{structsuper_block*sb=file_inode(iocb->ki_filp)->i_sb;if(sb->s_dio_done_wq)return0;"
        "returnsb_init_dio_done_wq(sb);}",
    ),
}


@dataclass(frozen=True)
class Account:
    """What became of one C statement: ``lifted`` (to ``op``), ``no effect`` (a call the
    table knows has none) or ``assumed`` (a call of unknown effect on no lifecycle object)."""

    where: str
    c: str
    how: str
    op: str | None = None


@dataclass
class Lifted:
    """Procedures lifted from one C file, and what became of each C statement."""

    path: str
    procs: dict[str, tuple[Stmt, ...]]
    entry: dict[str, str]
    accounts: list[Account]


class _Label:
    """A jump target while a body is lowered; bound to a statement index, or END."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name
        self.index: int | None = None


@dataclass
class _Pending:
    """A statement being built: its class (``op`` while it is built), label, arguments
    and jump targets not resolved yet."""

    op: str
    label: str
    args: dict[str, Any]
    jumps: dict[str, _Label] = field(default_factory=dict)
    line: int = 0
    reads_orig_local: bool = False
    folded: bool = False
    from_local: bool = False  # a load_orig a local's declaration stands for (may fold)

    @property
    def cls(self) -> type[Stmt]:
        return OPS[self.op]


class _Body:
    """One function being lowered: its roles, its statements, its labels."""

    def __init__(self, lifter: Lifter, fn: Function) -> None:
        self.lifter = lifter
        self.c = lifter.c
        self.fn = fn
        self.out: list[_Pending] = []
        self.pending_labels: list[_Label] = []
        self.labels: dict[str, _Label] = {}
        self.tails: list[tuple[_Label, Node]] = []  # out-of-line returns
        self.roles: dict[str, str] = {}
        self.orig_local: str | None = None
        # a caller's own callback textually after the IO (or in a function the completion
        # reaches) is the post-IO callback the contract counts; before it, a plain call
        self.after_io = fn.name not in lifter.entries
        wrapper = lifter.wrapper
        for typ, name in fn.params:
            base = typ.replace("const ", "")
            if wrapper and base == f"struct {wrapper}*":
                self.roles[name] = "W"
            elif base == "struct kiocb*":
                self.roles[name] = "ORIG"
            elif base == "struct file*" and fn.name in lifter.entries:
                self.roles[name] = "FILE"
            elif base == "struct backing_file_ctx*":
                self.roles[name] = "CTX"
            elif typ.endswith("(*)"):
                self.roles[name] = "FNPTR"
        for name in ("ret",):
            self.roles.setdefault(name, "RET")
        # container_of(param, struct W, iocb): that parameter is the wrapper's kiocb
        for node in _walk(fn.body):
            if node.type == "call_expression" and _callee(node) == "container_of":
                args = _args(node)
                if args and text(args[0]) in self.roles and len(args) == 3 \
                        and text(args[2]) == "iocb":
                    self.roles[text(args[0])] = "CLONE"

    # -- rendering ------------------------------------------------------------------
    def render(self, node: Node) -> str:
        """The node's text, spaces removed, the request's objects named by role."""
        src = node.text or b""
        base = node.start_byte
        parts, at = [], 0
        for n in _walk(node):
            if n.type == "identifier" and text(n) in self.roles:
                parts.append(src[at:n.start_byte - base].decode())
                parts.append(self.roles[text(n)])
                at = n.end_byte - base
        parts.append(src[at:].decode())
        out = re.sub(r"\s+", "", "".join(parts))
        out = out.replace("&W->iocb", "CLONE").replace("W->iocb.", "CLONE->")
        out = out.replace("fd_file(FD)", "FILE").replace("FD.file", "FILE")
        return out.replace("W->orig_iocb", "ORIG")

    def where(self, node: Node) -> str:
        return self.c.where(node)

    def label_of(self, node: Node) -> str:
        return f"{_head(node)} ({self.c.path}:{self.c.line(node)})"

    def account(self, node: Node, how: str, op: str | None = None) -> None:
        self.lifter.accounts.append(Account(self.where(node), _head(node), how, op))

    # -- emitting -------------------------------------------------------------------
    def emit(self, op: str, node: Node, jumps: dict[str, _Label] | None = None,
             **args: Any) -> _Pending:
        p = _Pending(op, self.label_of(node), args, jumps or {}, self.c.line(node))
        if self.orig_local and re.search(rf"\b{self.orig_local}\b", text(node)):
            p.reads_orig_local = True
        for lab in self.pending_labels:
            lab.index = len(self.out)
        self.pending_labels = []
        self.out.append(p)
        if op in ("vfs_iter", "vfs_iocb_iter"):
            self.after_io = True
        self.account(node, "lifted", op)
        return p

    def bind(self, lab: _Label) -> None:
        self.pending_labels.append(lab)

    def named(self, name: str) -> _Label:
        return self.labels.setdefault(name, _Label(name))

    def refuse(self, node: Node, problem: str) -> CError:
        return CError(f"{self.where(node)}: {problem}: {flat(node)[:80]}")

    # -- statements -----------------------------------------------------------------
    def block(self, nodes: list[Node]) -> None:
        i = 0
        while i < len(nodes):
            node = nodes[i]
            nxt = nodes[i + 1] if i + 1 < len(nodes) else None
            if self.fused(node, nxt):
                i += 2
                continue
            # an allocation, a constant stored in ret, then the allocation's test: the store
            # comes first (it touches no shared state), the allocation and its test fuse
            after = nodes[i + 2] if i + 2 < len(nodes) else None
            if nxt is not None and self._stores_constant(nxt) and self.fused(node, after,
                                                                             before=nxt):
                i += 3
                continue
            self.statement(node)
            i += 1

    def _stores_constant(self, node: Node) -> bool:
        expr = next((c for c in node.children if c.is_named), None)
        return (node.type == "expression_statement" and expr is not None
                and expr.type == "assignment_expression"
                and self.render(_field(expr, "left")) == "RET"
                and self.render(_field(expr, "right")) in VALUE_SPELLING)

    def statement(self, node: Node) -> None:
        t = node.type
        if t in ("comment", ";", "{", "}"):
            return
        if t == "compound_statement":
            self.block([c for c in node.children if c.is_named])
        elif t == "labeled_statement":
            self.bind(self.named(text(_field(node, "label"))))
            inner = [c for c in node.children if c.is_named][1:]
            self.block(inner)
        elif t == "declaration":
            self.declaration(node)
        elif t == "expression_statement":
            expr = next((c for c in node.children if c.is_named), None)
            if expr is not None:
                self.expression(expr, node)
        elif t == "if_statement":
            self.if_statement(node)
        elif t == "return_statement":
            self.return_(node)
        elif t == "goto_statement":
            self.emit("goto", node, {"target": self.named(text(
                _field(node, "label")))})
        elif t == "for_statement":
            self.loop(node)
        else:
            raise self.refuse(node, f"no statement of the model for a C {t}")

    def loop(self, node: Node) -> None:
        """An iteration macro of kapi.ITERATORS (read as a ``for``) whose body has no
        effect on the lifecycle: listed as such; a scope of kapi.SCOPES: its statement,
        lifted. Any other loop is refused."""
        init = node.child_by_field_name("initializer")
        name = _callee(init) if init is not None and init.type == "call_expression" else None
        if name in kapi.SCOPES:  # run once: its statement is lifted where it stands
            self.account(node, "no effect", None)
            self.statement(_field(node, "body"))
            return
        if name not in kapi.ITERATORS:
            raise self.refuse(node, "a loop the model does not unroll")
        if not self._no_effect(_field(node, "body")):
            raise self.refuse(node, f"a {name}() loop whose body touches the lifecycle")
        self.account_all(node, "no effect")

    def ctx_slots(self, value: Node) -> None:
        """The callbacks a caller's ``struct backing_file_ctx`` initializer hands over must
        be those the kernel-API table gives it for this entry's kinds: the model takes a
        caller's callbacks from the table (kapi.CALLERS), so another set is refused rather
        than checked as if it were the table's."""
        caller = self.lifter.caller
        kinds = self.lifter.entries.get(self.fn.name)
        if caller is None or not kinds:
            return
        want = {slot: fn for slot, fn in caller.slots.items()
                if any(slot in caller.per_kind.get(k, ()) for k in kinds)}
        got = {}
        for pair in value.children:
            field_ = pair.child_by_field_name("designator")
            given = pair.child_by_field_name("value")
            if pair.type != "initializer_pair" or field_ is None or given is None:
                continue
            slot = text(field_).lstrip(".")
            if slot in caller.slots and text(given) != "NULL":
                got[slot] = text(given)
        if got != want:
            def shown(d: dict[str, str]) -> str:
                return ", ".join(f".{k} = {v}" for k, v in sorted(d.items())) or "none"

            raise CError(f"{self.where(value)}: {self.fn.name}() hands over the callbacks "
                         f"{{{shown(got)}}}, but the model knows {caller.name}'s for a "
                         f"{'/'.join(kinds)} as {{{shown(want)}}} (kapi.CALLERS): a change "
                         "to the callbacks a caller hands over is not lifted")

    def declaration(self, node: Node) -> None:
        before = len(self.lifter.accounts)
        self._declaration(node)
        if len(self.lifter.accounts) == before:
            self.account(node, "no effect", None)  # locals declared, nothing assigned

    def _declaration(self, node: Node) -> None:
        typ = node.child_by_field_name("type")
        wrapper = typ is not None and flat(typ) == f"struct {self.lifter.wrapper}"
        ctx = typ is not None and flat(typ) == "struct backing_file_ctx"
        if typ is not None and flat(typ) == "struct fd":
            for d in node.children:
                if d.type == "identifier":
                    self.roles[text(d)] = "FD"  # struct fd real;
        for d in node.children:
            if d.type == "pointer_declarator" and wrapper:
                self.roles[_declared_name_of(d)] = "W"
            if d.type != "init_declarator":
                continue
            name = _declared(d)
            if wrapper and text(d).lstrip().startswith("*"):
                self.roles[name] = "W"
            value = d.child_by_field_name("value")
            if value is None:
                continue
            v = self.render(value)
            if ctx:  # the caller's backing_file_ctx, on its stack: its slots are known
                self.roles[name] = "CTXVAL"
                self.ctx_slots(value)
                self.account(node, "no effect", None)
            elif v == "iov_iter_count(iter)":  # size_t count = iov_iter_count(iter);
                self.roles[name] = "COUNT"
                self.account(node, "no effect", None)
            elif v == "ORIG->ki_flags":  # int ifl = iocb->ki_flags: the flags passed down
                self.roles[name] = "FLAGS"
                self.account(node, "no effect", None)
            elif value.type == "call_expression" and _callee(value) == "container_of":
                self.roles[name] = "W"
                self.account(node, "no effect", None)
            elif v == "CLONE":
                self.roles[name] = "CLONE"
                self.account(node, "no effect", None)
            elif v in kapi.BACKING_FILES:  # struct file *file = lo->lo_backing_file;
                self.roles[name] = "FILE"
                self.account(node, "no effect", None)
            elif v == "ORIG":
                self.roles[name] = "ORIG"
                self.orig_local = name
                self.emit("load_orig", node).from_local = True
            elif v in ("NULL", "0") or value.type in ("number_literal", "null"):
                self.account(node, "no effect", None)
            elif value.type == "call_expression":
                self.call(value, node, assigned=name)
            elif not any(n.type == "call_expression" for n in _walk(value)):
                self.account(node, "no effect", None)  # a local copy of a value
            else:
                self.account(node, "assumed", None)

    def expression(self, expr: Node, stmt_node: Node) -> None:
        if expr.type == "call_expression":
            self.call(expr, stmt_node)
        elif expr.type == "assignment_expression":
            self.assignment(expr, stmt_node)
        elif expr.type == "update_expression" and _root(self.render(expr).strip("+-")) \
                not in _ROLES:
            self.account(stmt_node, "no effect", None)  # nr_bvec++: a local count
        else:
            raise self.refuse(stmt_node, f"no statement of the model for a C {expr.type}")

    def assignment(self, expr: Node, node: Node) -> None:
        left = _field(expr, "left")
        right = _field(expr, "right")
        op = text(_field(expr, "operator"))
        lhs, rhs = self.render(left), self.render(right)
        if op == "&=" and rhs.startswith("~"):
            flag = rhs.lstrip("~").strip("()")
            holder = {"flags": "flags", "FLAGS": "flags", "CLONE->ki_flags": "clone"}.get(lhs)
            if holder is None:
                raise self.refuse(node, "a flag cleared in neither the flags passed down "
                                  "nor the clone")
            if flag in ("IOCB_DIO_CALLER_COMP", "IOCB_WRITE"):
                self.emit("clear_ki_flag", node, flag=flag, of=holder)
            else:
                self.account(node, "no effect", None)  # flags no rule depends on
            return
        if op != "=":
            raise self.refuse(node, f"no statement of the model for {op}")
        if right.type == "call_expression":
            self.call(right, node, assigned=lhs)
        elif lhs == "RET" and rhs in VALUE_SPELLING:
            self.emit("assign", node, value=rhs)
        elif lhs == "ORIG":
            self.emit("init_orig_iocb", node)
        elif lhs == "FD.flags" and rhs == "0":
            self.emit("fd_clear_flags", node)  # fdput() will no longer drop the file
        elif lhs == "CLONE->ki_complete":
            self.emit("set_ki_complete", node, proc=self.lifter.want(rhs, node))
        elif lhs == "CLONE->ki_filp":  # a kiocb of the code's own, not a clone
            self.emit("init_kiocb", node)
        elif lhs == "CLONE->ki_flags" and rhs in _FLAGS_NO_RULE_READS:
            self.account(node, "no effect", None)  # IOCB_DIRECT: no rule depends on it
        elif lhs == "CLONE->ki_flags":
            self.emit("set_ki_flags", node)
        elif lhs in ("CLONE->ki_pos", "CLONE->ki_ioprio") and not _calls(right):
            self.account(node, "no effect", None)  # its own kiocb's position, priority
        elif lhs == "ORIG->ki_pos" and rhs == "CLONE->ki_pos":
            self.emit("update_pos", node)
        elif lhs in ("W->res", "W->ret"):
            self.emit("store_res", node)
        elif lhs == "W->is_write" and rhs == "true":
            self.emit("init_is_write", node)
        elif lhs.startswith("W->") and lhs[3:] in self.lifter.callback_fields:
            # what the field will call: the caller's slot, or what a parameter is bound to
            if rhs.startswith("CTX->"):
                self.lifter.bindings.setdefault(lhs[3:], rhs[5:])
            elif self.roles.get(text(right)) == "FNPTR":
                self.lifter.bindings.setdefault(lhs[3:], self.lifter.bound(text(right), node))
            self.emit("init_callback", node)
        elif lhs.startswith("W->") and lhs[3:] not in self.lifter.callback_fields and \
                lhs[3:] not in _TRACKED_FIELDS and not _calls(right):
            self.account(node, "no effect", None)  # cmd->bvec = NULL, rq->sb = ...: data
        elif _root(lhs) not in _ROLES and not _calls(right):
            self.account(node, "no effect", None)  # a local's member: iter.iov_offset = ...
        else:
            raise self.refuse(node, "no statement of the model for this assignment")

    def call(self, expr: Node, node: Node, assigned: str | None = None) -> None:
        name = _callee(expr)
        args = _args(expr)
        fn = _field(expr, "function")
        callee = self.render(fn)
        if callee == "ORIG->ki_complete":
            self.emit("ki_complete", node)
            return
        if callee in ("FILE->f_op->write_iter", "FILE->f_op->read_iter"):
            self.emit("f_op_iter", node)  # straight to the backing filesystem's method
            return
        if name in FOLDED:
            raise self.refuse(node, f"{name}() without the test of its error right after it")
        if name in self.lifter.external:
            self.emit("call", node, proc=name)  # lifted from the helpers' own file
            return
        if name in self.lifter.c.functions and name not in kapi.API:
            proc = self.lifter.want(name, node)
            if any(self.render(a) == "W->res" for a in args):
                self.emit("load_res", node)
            self.emit("call", node, proc=proc)
            return
        api = kapi.API.get(name or "")
        if api is None:
            touched = [self.render(a) for a in args
                       if re.search(r"\b(W|CLONE|ORIG|FILE)\b", self.render(a))]
            if touched or callee.startswith(("W->", "CTX->")) or self.roles.get(callee):
                raise self.refuse(node, f"{name or callee}() is not in the kernel-API table "
                                  "and is handed a lifecycle object")
            if self.lifter.strict:
                raise self.refuse(node, f"{name or callee}() is not in the kernel-API table "
                                  "(--strict)")
            self.account(node, "assumed", None)
            return
        if api.lifts is None:
            self.account(node, "no effect", None)
            return
        self.api_call(api, args, node, assigned)

    def api_call(self, api: kapi.Api, args: list[Node], node: Node,
                 assigned: str | None) -> None:
        op = api.lifts
        assert op is not None
        rendered = [self.render(a) for a in args]
        if api.reads_res:
            self.emit("load_res", node)
        if api.reads_orig:
            self.emit("load_orig", node)
        if op == "load_orig":
            if assigned is None:
                raise self.refuse(node, f"{api.name}() whose value is not kept")
            self.roles[assigned] = "ORIG"
            self.orig_local = assigned
            self.emit(op, node).from_local = True
        elif op == "kmem_cache_free" and rendered and rendered[-1] != "W":
            if not rendered[-1].startswith("W->"):
                raise self.refuse(node, "a free of something that is not the wrapper")
            self.account(node, "no effect", None)  # kfree(cmd->bvec): a buffer it owns
        elif op == "kiocb_clone":
            self.emit(op, node, get_file=len(rendered) == 3 and rendered[2].startswith(
                "get_file("))
        elif op == "refcount_set":
            self.emit(op, node, n=int(rendered[1]))
        elif op == "fput_clone":
            if rendered[0] != "CLONE->ki_filp":
                raise self.refuse(node, "an fput of a file other than the clone's")
            self.emit(op, node)
        elif op in ("kmem_cache_zalloc", "kzalloc_nofail"):
            if "__GFP_NOFAIL" in "".join(rendered):
                self.emit("kzalloc_nofail", node)
            else:
                raise self.refuse(node, "an allocation whose failure is not tested right "
                                  "after it")
        elif op == "queue_work" and api.name == "INIT_WORK":
            raise self.refuse(node, "INIT_WORK without queue_work right after it")
        elif op == "queue_work":
            raise self.refuse(node, "queue_work without INIT_WORK right before it")
        elif op == "refcount_dec_and_test":
            raise self.refuse(node, "a reference dropped outside an if")
        elif op == "kcall" and self.after_io and api.name in self.lifter.direct:
            self.emit("callback", node, fn=api.name, via="direct")
        elif op == "kcall":
            self.emit(op, node, fn=api.context or api.name)
        elif api.name == "__sb_writers_acquired":
            raise self.refuse(node, "__sb_writers_acquired() without file_end_write() right "
                              "after it")
        else:
            self.emit(op, node)

    def fused(self, node: Node, nxt: Node | None, before: Node | None = None) -> bool:
        """Two C statements that are one step of the model: an allocation and the test of
        its result; INIT_WORK and queue_work; a call and the test of its error. ``before``:
        a statement between the two, lowered first (a constant stored in ret)."""
        if nxt is None or node.type != "expression_statement":
            return False
        if before is not None:
            expr = next((c for c in node.children if c.is_named), None)
            right = expr.child_by_field_name("right") if expr is not None else None
            if right is None or _callee(right) != "kmem_cache_zalloc" or \
                    _failure_test(nxt, self.render(_field(expr, "left")), self,  # type: ignore[arg-type]
                                  probe=True) is None:
                return False
            self.statement(before)
        expr = next((c for c in node.children if c.is_named), None)
        if expr is None:
            return False
        call = _field(expr, "right") if expr.type == "assignment_expression" \
            else expr
        if call is None or call.type != "call_expression":
            return False
        name = _callee(call)
        if name == "__sb_writers_acquired" and _callee_of(nxt) == "file_end_write":
            # lockdep told the protection is the completion's, then it is ended: what
            # kiocb_end_write() does, open-coded (overlayfs up to v6.5)
            self.emit("kiocb_end_write", node)
            self.account(nxt, "lifted", "kiocb_end_write")
            return True
        if name == "INIT_WORK" and nxt.type == "expression_statement":
            nexpr = next((c for c in nxt.children if c.is_named), None)
            if nexpr is not None and nexpr.type == "call_expression" \
                    and _callee(nexpr) == "queue_work":
                work_fn = text(_args(call)[1])
                wq = self.render(_args(nexpr)[0])
                sb = "lower" if "CLONE->ki_filp" in wq else "upper"
                self.emit("queue_work", node, proc=self.lifter.want(work_fn, node), sb=sb)
                self.account(nxt, "lifted", "queue_work")
                return True
        if name in ("kmem_cache_zalloc",) and expr.type == "assignment_expression":
            var = self.render(_field(expr, "left"))
            fail = _failure_test(nxt, var, self)
            if fail is None:
                return False
            self.emit("kmem_cache_zalloc", node, {"on_fail": fail})
            self.account(nxt, "lifted", "kmem_cache_zalloc")
            return True
        if name in FOLDED and expr.type == "assignment_expression":
            fail = _failure_test(nxt, "RET", self, negated=False)
            if fail is None:
                return False
            op, body = FOLDED[name]
            self.lifter.check_folded(name, body, node)
            self.emit(op, node, {"on_fail": fail})
            self.account(nxt, "lifted", op)
            return True
        return False

    def if_statement(self, node: Node) -> None:
        cond_node = _unparen(_field(node, "condition"))
        then = _field(node, "consequence")
        other = node.child_by_field_name("alternative")
        cond = self.render(cond_node)
        # a reference dropped: if (refcount_dec_and_test(&aio->ref)) { ... }
        drop = re.fullmatch(r"(!?)(refcount_dec_and_test|atomic_dec_and_test)\(&W->ref\)",
                            cond)
        if drop:
            if other is not None:
                raise self.refuse(node, "a reference drop with an else branch")
            after = _Label()
            if drop.group(1):  # if (!atomic_dec_and_test(&cmd->ref)) return;
                if not _is_return(then) or _return_value(then) is not None:
                    raise self.refuse(node, "a failed reference drop that does not return")
                self.emit("refcount_dec_and_test", node, {"else_goto": _Label(END)})
                self._account_jump(node, _only(then))  # the return the failed drop takes
                return
            self.emit("refcount_dec_and_test", node, {"else_goto": after})
            self.statement(then)
            self.bind(after)
            return
        assumed = kapi.ASSUMED.get(cond)
        if assumed is not None and assumed.holds_in(self.fn.name):
            self.assumed(node, assumed, then, other)
            return
        # a guarded callback: if (ctx->accessed) ctx->accessed(...);
        guarded = _sole_call(then)
        if other is None and guarded is not None and self.render(
                _field(guarded, "function")) == cond:
            self.callback(guarded, node, cond,
                          text(_field(guarded, "function")))
            return
        if other is None and cond not in kapi.CONDITIONS and self._no_effect(then):
            self.account_all(node, "no effect")  # e.g. if (!ovl_should_sync()) ifl &= ...
            return
        name = self.condition(cond, cond_node)
        if other is None and _is_return(then):
            value = _return_value(then)
            target = _Label(END) if value is None else _Label()
            if value is not None:
                self.tails.append((target, then))
            self.emit("if_goto", node, {"target": target}, cond=name)
            return
        if other is None and _is_goto(then):
            lab = self.named(text(_field(_goto_of(then), "label")))
            self.emit("if_goto", node, {"target": lab}, cond=name)
            self._account_jump(node, _goto_of(then))
            return
        otherwise, after = _Label(), _Label()
        self.emit("if_goto", node, {"target": otherwise if other is not None else after},
                  cond=_negate(name))
        self.statement(then)
        if other is not None:
            body = next(c for c in other.children if c.is_named) if other.type == \
                "else_clause" else other
            self.emit("goto", other, {"target": after})
            self.bind(otherwise)
            self.statement(body)
        self.bind(after)

    def assumed(self, node: Node, a: kapi.Assumption, then: Node, other: Node | None) -> None:
        """A condition the model does not branch on (kapi.ASSUMED): the branch the pattern
        always takes is lifted, the other listed as not taken; a branch on data outside
        the lifecycle is listed whole."""
        short = a.why.split(":")[0].split(" (")[0]
        if a.taken is None:
            self.account_all(node, f"outside the model ({short})")
            return
        self.account(node, f"assumed {'taken' if a.taken else 'not taken'} ({short})", None)
        taken, skipped = (then, other) if a.taken else (other, then)
        if skipped is not None:
            self.account_all(skipped, f"not taken ({short})")
        if taken is not None:
            self.statement(next(c for c in taken.children if c.is_named)
                           if taken.type == "else_clause" else taken)

    def account_all(self, node: Node, how: str) -> None:
        """``node`` and every statement in it, accounted as ``how`` (none is lifted)."""
        for n in _walk(node):
            if n.type in _STATEMENTS or n.type == "else_clause":
                self.account(n, how, None)

    def _no_effect(self, body: Node) -> bool:
        """Whether ``body`` lowers to no statement at all (only effects the model leaves
        out), tried on a copy: nothing is recorded."""
        trial = _Body(self.lifter, self.fn)
        trial.roles = dict(self.roles)
        kept = len(self.lifter.accounts)
        try:
            trial.statement(body)
        except CError:
            return False
        finally:
            del self.lifter.accounts[kept:]
        return not trial.out and not trial.tails

    def _account_jump(self, node: Node, goto: Node) -> None:
        if goto.start_point[0] != node.start_point[0]:
            self.account(goto, "lifted", "if_goto")  # the goto the if takes

    def condition(self, cond: str, node: Node) -> str:
        negated = False
        while cond.startswith("!(") and cond.endswith(")") and _balanced(cond[2:-1]):
            cond, negated = cond[2:-1], not negated
        name = kapi.CONDITIONS.get(cond)
        if name is None and cond.startswith("!"):
            name = kapi.CONDITIONS.get(cond[1:])
            negated = not negated if name else negated
        if name is None:
            raise self.refuse(node, "a condition the kernel-API table does not know")
        return _negate(name) if negated else name

    def callback(self, call: Node, node: Node, callee: str, raw: str) -> None:
        args = [self.render(a) for a in _args(call)]
        if callee.startswith("CTX->"):
            fn, via = callee[5:], "ctx"
        elif callee.startswith("W->ctx->"):  # the caller's ctx, kept in the wrapper
            fn, via = callee[len("W->ctx->"):], "ctx"
        elif callee.startswith("W->"):
            fn, via = self.lifter.bound(callee[3:], node), "wrapper"
        elif self.roles.get(raw) == "FNPTR":
            fn, via = self.lifter.bound(raw, node), "direct"
        else:
            raise self.refuse(node, "a call through a pointer the model does not know")
        reads_pos = any(a == "ORIG" or a.startswith("ORIG->ki_pos") for a in args)
        passes = any(a in ("res", "RET") for a in args)
        self.emit("callback", node, fn=fn, via=via, reads_pos=reads_pos, passes_result=passes)
        if call.start_point[0] != node.start_point[0]:
            self.account(call, "lifted", "callback")  # the call the if guards

    def return_(self, node: Node) -> None:
        value = _return_value(node)
        if value is None:
            self.emit("return_", node)
            return
        v = self.render(value)
        if v == "W" and node == self.fn.body.children[-2]:
            # return rq; as an allocator's last statement: its end, the wrapper handed back
            self.account(node, "no effect", None)
            return
        self.emit("return_", node, value="ret" if v == "RET" else self.value(v, node))

    def value(self, v: str, node: Node) -> str:
        if v not in VALUE_SPELLING:
            raise self.refuse(node, f"a value the model does not know ({v})")
        return v

    # -- the end ----------------------------------------------------------------------
    def finish(self) -> tuple[Stmt, ...]:
        for lab, ret in self.tails:
            self.bind(lab)
            self.return_(ret)
        for lab in self.pending_labels:
            lab.index = None  # falls off the end
        self.pending_labels = []
        body = self.out
        # a goto straight to a return is that return
        for p in body:
            if p.cls is Goto:
                t = p.jumps["target"]
                if t.index is not None and t.index < len(body) and body[t.index].cls is Return:
                    to = body[t.index]
                    p.op, p.args, p.jumps, p.label = "return_", dict(to.args), {}, to.label
        # a local copy of aio->orig_iocb is a step only if a call comes before a use
        keep = True
        loads = [i for i, p in enumerate(body) if p.cls is LoadOrig and p.from_local]
        for i in loads:
            later = body[i + 1:]
            last_use = max((j for j, p in enumerate(later) if p.reads_orig_local), default=-1)
            # ki_complete calls through the local itself; another use reads the field
            keep = last_use >= 0 and (any(p.cls is Call for p in later[:last_use]) or any(
                p.cls is KiComplete and p.reads_orig_local for p in later))
            if not keep:
                body[i].folded = True  # into its uses
                self.lifter.accounts.append(Account(
                    f"{self.c.path}:{body[i].line}", body[i].label, "folded into its uses"))
        return self._resolve([p for p in body if not p.folded])

    def _resolve(self, body: list[_Pending]) -> tuple[Stmt, ...]:
        index = {id(p): i for i, p in enumerate(body)}
        original = self.out
        tags: dict[int, str] = {}
        targets: list[tuple[_Pending, str, int | None]] = []
        for p in body:
            for arg, lab in p.jumps.items():
                at: int | None = None
                if lab.name != END and lab.index is not None:
                    # the statement it was bound to, or the next one kept
                    k = lab.index
                    while k < len(original) and id(original[k]) not in index:
                        k += 1
                    at = index.get(id(original[k])) if k < len(original) else None
                targets.append((p, arg, at))
                if at is not None and at not in tags:
                    tags[at] = lab.name or f"L{body[at].line}"
        used: set[str] = set()
        for i in sorted(tags):
            name = tags[i]
            n = 2
            while name in used:
                name, n = f"{tags[i]}_{n}", n + 1
            used.add(name)
            tags[i] = name
        for p, arg, at in targets:
            p.args[arg] = END if at is None else tags[at]
        out = []
        for i, p in enumerate(body):
            args = {k: v for k, v in p.args.items() if not k.startswith("_")}
            try:
                out.append(stmt(p.op, p.label, tag=tags.get(i), **args))
            except VariantError as e:
                raise CError(f"{self.c.path}:{p.line}: {e}") from None
        return tuple(out)


class Lifter:
    """Lifts the functions of one C file reachable from its entries."""

    def __init__(self, c: CFile, bindings: dict[str, str] | None = None,
                 entries: dict[str, tuple[str, ...]] | None = None,
                 slots: Collection[str] = (), external: Collection[str] = (),
                 direct: Collection[str] = (), strict: bool = False,
                 caller: kapi.Caller | None = None) -> None:
        self.c = c
        # the caller whose read_iter/write_iter are lifted: its ctx is checked against it
        self.caller = caller
        self.strict = strict
        # the caller's own functions it calls after the IO (ovl_copyattr, v5.6 to v6.7)
        self.direct = frozenset(direct)
        # functions lifted from another file (the helpers, for their callers' file)
        self.external = frozenset(external)
        self.bindings = bindings or {}
        self.slots = frozenset(slots)
        self.entries = entries or {n: k for n, k in ENTRIES.items() if n in c.functions}
        user = user_of(c)
        if not self.entries and user is not None:
            self.entries = dict(user.entries)
        self.accounts: list[Account] = []
        self.wrapper = next((name for name, members in c.structs.items()
                             if ("struct kiocb", "iocb") in members), None)
        members = c.structs.get(self.wrapper or "", [])
        self.callback_fields = {m for t, m in members if t.startswith("void")}
        self.procs: dict[str, tuple[Stmt, ...]] = {}
        self._todo: list[str] = []

    def lift(self) -> Lifted:
        if not self.entries:
            others = "; ".join(f"{', '.join(u.entries)} with struct {u.struct}" for u in USERS)
            raise CError(f"{self.c.path}: none of {', '.join(ENTRIES)} is defined here "
                         f"(nor {others})")
        for name in self.entries:
            if name not in self.c.functions:
                raise CError(f"{self.c.path}: {name}() is not defined here")
        for name in self.entries:
            self.want(name, None)
        while self._todo:
            name = self._todo.pop(0)
            fn = self.c.functions[name]
            if fn.body is None or _has_error(fn.body):
                raise CError(f"{self.c.where(fn.node)}: {name}() does not parse")
            b = _Body(self, fn)
            b.block([c for c in fn.body.children if c.is_named])
            body = b.finish()
            if not body:  # nothing left to do: the function returns at once
                closing = fn.body.children[-1]
                body = (stmt("return_", f"}} ({self.c.path}:{self.c.line(closing)})"),)
            self.procs[name] = body
        return Lifted(self.c.path, dict(self.procs),
                      {k: n for n, kinds in self.entries.items() for k in kinds},
                      self.accounts)

    def want(self, name: str, node: Node | None) -> str:
        """``name`` is a procedure of the variant: lift it too (a function of this file)."""
        if name not in self.c.functions:
            where = self.c.where(node) if node is not None else self.c.path
            raise CError(f"{where}: {name}() is not defined in {self.c.path}")
        if name not in self.procs and name not in self._todo:
            self._todo.append(name)
            self.procs[name] = ()
        return name

    def bound(self, param: str, node: Node) -> str:
        """The caller's function a callback parameter or wrapper field stands for (a field
        named like one of the caller's slots is that slot)."""
        got = self.bindings.get(param) or (param if param in self.slots else None)
        if got is None:
            raise CError(f"{self.c.where(node)}: the callback {param!r} is the caller's: "
                         f"name what the caller passes (--callback {param}=FUNCTION)")
        return got

    def check_folded(self, name: str, body: str, node: Node) -> None:
        fn = self.c.functions.get(name)
        if fn is None or fn.body is None:
            raise CError(f"{self.c.where(node)}: {name}() is not defined here")
        if re.sub(r"\s+", "", text(fn.body)) != body:
            raise CError(f"{self.c.where(fn.node)}: {name}() is not the body the kernel-API "
                         "table knows; it cannot be folded into one statement")
        self.accounts.append(Account(self.c.where(fn.node), f"{name}()", "folded"))


def lift(c: CFile, bindings: dict[str, str] | None = None) -> Lifted:
    return Lifter(c, bindings).lift()


# ---- syntax helpers ----------------------------------------------------------------------

def _walk(node: Node) -> list[Node]:
    out, stack = [], [node]
    while stack:
        n = stack.pop()
        out.append(n)
        stack.extend(reversed(n.children))
    return out


# Macros that take a type as an argument, which a C parser reads as an error there.
_TYPE_MACROS = frozenset({"container_of", "sizeof", "offsetof", "list_entry"})


def _has_error(node: Node) -> bool:
    """A syntax error in ``node``, other than a type handed to a macro as an argument."""
    for n in _walk(node):
        if n.type != "ERROR" and not n.is_missing:
            continue
        up = n.parent
        while up is not None and not (up.type == "call_expression"
                                       and _callee(up) in _TYPE_MACROS):
            up = up.parent
        if up is None:
            return True
    return False


def _head(node: Node) -> str:
    """The C a statement's label shows: an ``if`` up to its body (with the call it guards,
    if that is all it does), an ``else`` as such, anything else whole, on one line."""
    if node.type == "if_statement":
        cond = flat(_field(node, "condition"))
        then = _field(node, "consequence")
        if node.child_by_field_name("alternative") is None and _only(then).type != \
                "compound_statement":
            return f"if {cond} {flat(_only(then))}"
        return f"if {cond} {{"
    if node.type == "else_clause":
        return "} else {"
    return flat(node)


def _field(node: Node, name: str) -> Node:
    """A child the grammar always gives this kind of node."""
    got = node.child_by_field_name(name)
    if got is None:  # pragma: no cover - the grammar guarantees it
        raise CError(f"line {node.start_point[0] + 1}: a {node.type} without its {name}")
    return got


_STATEMENTS: Final = frozenset({"expression_statement", "declaration", "if_statement",
                                "return_statement", "goto_statement", "for_statement"})
# The roles a lifted statement may touch (a local with none is the function's own data).
_ROLES: Final = frozenset({"W", "CLONE", "ORIG", "FILE", "RET", "CTX", "CTXVAL", "FD", "FLAGS",
                           "COUNT", "FNPTR"})
# Wrapper fields the model tracks: a store to any other is data, not the lifecycle.
_TRACKED_FIELDS: Final = frozenset({"ref", "orig_iocb", "iocb", "res", "ret", "is_write",
                                    "fd", "work"})
# Flag values a kiocb of the code's own may be set to that no rule of the model reads.
_FLAGS_NO_RULE_READS: Final = frozenset({"IOCB_DIRECT", "0"})


def _root(expr: str) -> str:
    m = re.match(r"[A-Za-z_]\w*", expr)
    return m.group(0) if m else expr


def _calls(node: Node) -> bool:
    return any(n.type == "call_expression" for n in _walk(node))


def _callee_of(node: Node) -> str | None:
    """The function an expression statement calls, if it is a call."""
    expr = next((c for c in node.children if c.is_named), None)
    if node.type != "expression_statement" or expr is None or expr.type != "call_expression":
        return None
    return _callee(expr)


def _callee(call: Node) -> str | None:
    fn = call.child_by_field_name("function")
    return text(fn) if fn is not None and fn.type == "identifier" else None


def _args(call: Node) -> list[Node]:
    """The arguments, one node each (of a type handed to a macro, its last word)."""
    a = call.child_by_field_name("arguments")
    if a is None:
        return []
    groups: list[list[Node]] = [[]]
    for c in a.children:
        if c.type == ",":
            groups.append([])
        elif c.is_named and c.type != "comment":
            groups[-1].append(c)
    return [g[-1] for g in groups if g]


def _declared(d: Node) -> str:
    decl = d.child_by_field_name("declarator")
    while decl is not None and decl.type != "identifier":
        decl = decl.child_by_field_name("declarator")
    return text(decl) if decl is not None else ""


def _declared_name_of(d: Node) -> str:
    while d.type != "identifier":
        inner = d.child_by_field_name("declarator")
        if inner is None:
            return text(d)
        d = inner
    return text(d)


def _unparen(node: Node) -> Node:
    while node.type == "parenthesized_expression":
        inner = [c for c in node.children if c.is_named]
        if len(inner) != 1:
            break
        node = inner[0]
    return node


def _only(node: Node) -> Node:
    while node.type == "compound_statement":
        inner = [c for c in node.children if c.is_named and c.type != "comment"]
        if len(inner) != 1:
            return node
        node = inner[0]
    return node


def _is_return(node: Node) -> bool:
    return _only(node).type == "return_statement"


def _is_goto(node: Node) -> bool:
    return _only(node).type == "goto_statement"


def _goto_of(node: Node) -> Node:
    return _only(node)


def _return_value(node: Node) -> Node | None:
    ret = _only(node)
    named = [c for c in ret.children if c.is_named]
    return named[0] if named else None


def _sole_call(node: Node) -> Node | None:
    one = _only(node)
    if one.type != "expression_statement":
        return None
    expr = next((c for c in one.children if c.is_named), None)
    return expr if expr is not None and expr.type == "call_expression" else None


def _failure_test(nxt: Node, var: str, body: _Body, negated: bool = True,
                  probe: bool = False) -> _Label | None:
    """``if (!var) goto L;`` / ``return V;`` (``if (ret) ...`` for ``negated=False``): the
    label the failure jumps to, or None if the next statement is no such test (``probe``:
    only whether it is, nothing recorded)."""
    if nxt.type != "if_statement" or nxt.child_by_field_name("alternative") is not None:
        return None
    cond = body.render(_unparen(_field(nxt, "condition")))
    if cond != (f"!{var}" if negated else var):
        return None
    then = _field(nxt, "consequence")
    if _is_goto(then):
        if probe:
            return _Label()
        body._account_jump(nxt, _goto_of(then))
        return body.named(text(_field(_goto_of(then), "label")))
    if _is_return(then):
        lab = _Label()
        if not probe:
            body.tails.append((lab, then))
        return lab
    return None


def _negate(name: str) -> str:
    return name[1:] if name.startswith("!") else f"!{name}"


def _balanced(s: str) -> bool:
    depth = 0
    for ch in s:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0
