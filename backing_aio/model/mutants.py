"""Systematic single edits of a variant (mutation adequacy of the properties).

Each operator makes one edit of the kind a refactor makes by mistake: delete, duplicate or
swap statements (dropping a flag clear is a deletion); set the reference count to one
less or one more; flip a branch; clone with or without get_file; point the completion or
the work item at another procedure; read a callback from the caller's ctx instead of the
wrapper; run another of the caller's callbacks; queue the work on the backing file's
superblock; let an error path jump past its
cleanup (an fdput, a put, a callback) straight to the return;
move an obligation (ending freeze protection, the position update, the caller's callback)
into another procedure. A mutant that does not form a valid
variant (a jump left with nowhere to land, an entry procedure without its return) is not
generated: it would not compile.

Every mutant must be killed, that is, break some property, or be listed in ``EQUIVALENT``
with the reason it behaves like the original.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from backing_aio.model.lang import (
    END,
    Assign,
    Callback,
    Goto,
    IfGoto,
    KCall,
    KiocbClone,
    KiocbEndWrite,
    KiocbStartWrite,
    QueueWork,
    RefcountSet,
    Return,
    SetKiComplete,
    Stmt,
    UpdatePos,
    Variant,
    VariantError,
)


@dataclass(frozen=True)
class Mutant:
    name: str  # stable: variant:operator:procedure#index(op)
    description: str
    variant: Variant


# Obligations a refactor moves between caller, callee and callback.
MOVABLE = (KiocbEndWrite, KiocbStartWrite, UpdatePos, Callback, KCall)


def _name(v: Variant, op: str, proc: str, i: int, s: Stmt, extra: str = "") -> str:
    return f"{v.name}:{op}:{proc}#{i}({s.op}{extra})"


Procs = dict[str, tuple[Stmt, ...]]
Edit = tuple[str, str, Procs]  # name, description, the procedures after the edit


def _with(procs: Procs, proc: str, body: list[Stmt]) -> Procs:
    return {**procs, proc: tuple(body)}


def _edits(v: Variant) -> Iterator[Edit]:
    procs: Procs = {k: tuple(b) for k, b in v.procs.items()}
    for proc, body in procs.items():
        for i in range(len(body)):
            yield from _statement_edits(v, procs, proc, i)
            yield from _argument_edits(v, procs, proc, i)
            yield from _moves(v, procs, proc, i)


def _statement_edits(v: Variant, procs: Procs, proc: str, i: int) -> Iterator[Edit]:
    """Delete, duplicate, or swap statement ``i`` of ``proc`` with the next."""
    body = list(procs[proc])
    s = body[i]
    # delete: a tag moves to the statement that now stands in its place
    nb = body[:i] + body[i + 1:]
    if s.tag is None or (i < len(nb) and nb[i].tag is None):
        if s.tag is not None:
            nb[i] = replace(nb[i], tag=s.tag)
        yield (_name(v, "delete", proc, i, s), f"delete {s.label!r} from {proc}",
               _with(procs, proc, nb))
    # duplicate
    nb = [*body[: i + 1], replace(s, tag=None), *body[i + 1:]]
    yield (_name(v, "duplicate", proc, i, s), f"run {s.label!r} twice in {proc}",
           _with(procs, proc, nb))
    # swap with the next statement; labels (tags) stay where they are
    if i + 1 < len(body):
        t = body[i + 1]
        nb = list(body)
        nb[i] = replace(t, tag=s.tag)
        nb[i + 1] = replace(s, tag=t.tag)
        yield (_name(v, "swap", proc, i, s, f",{t.op}"),
               f"swap {s.label!r} and {t.label!r} in {proc}", _with(procs, proc, nb))


def _argument_edits(v: Variant, procs: Procs, proc: str, i: int) -> Iterator[Edit]:
    """Statement ``i`` of ``proc`` with one argument changed."""
    body = procs[proc]
    s = body[i]

    def edited(new: Stmt) -> Procs:
        return _with(procs, proc, [*body[:i], new, *body[i + 1:]])

    if isinstance(s, RefcountSet):
        for n in (s.n - 1, s.n + 1):
            if n >= 0:
                yield (_name(v, f"ref{n}", proc, i, s), f"refcount_set to {n} in {proc}",
                       edited(replace(s, n=n)))
    if isinstance(s, IfGoto):
        yield (_name(v, "flip", proc, i, s), f"flip {s.label!r} in {proc}",
               edited(replace(s, cond=s.condition if s.negated else "!" + s.cond)))
    if isinstance(s, IfGoto | Goto) and s.target != END:
        skip = _past_cleanup(body, s.target)
        if skip is not None:
            k, tag, label = skip
            nb = list(body)
            if nb[k].tag is None:
                nb[k] = replace(nb[k], tag=tag)
            nb[i] = replace(s, target=tag)
            yield (_name(v, "skip-cleanup", proc, i, s),
                   f"{s.label!r} jumps past the cleanup at {s.target} to {label!r} in {proc}",
                   _with(procs, proc, nb))
    if isinstance(s, KiocbClone):
        what = "without" if s.get_file else "with"
        yield (_name(v, "get_file", proc, i, s), f"clone {what} get_file in {proc}",
               edited(replace(s, get_file=not s.get_file)))
    if isinstance(s, Callback) and s.via == "wrapper":
        # read the callback from the caller's ctx instead of the copy in the wrapper: the
        # ctx lives on the caller's stack, gone once the call returned
        yield (_name(v, "via-ctx", proc, i, s), f"{s.label!r} reads the caller's ctx in {proc}",
               edited(replace(s, via="ctx")))
    if isinstance(s, Callback):
        # run another of the caller's callbacks here (the write's end_write after a read)
        others = sorted({st.fn for b in procs.values() for st in b
                         if isinstance(st, Callback) and st.fn != s.fn})
        for fn in others:
            yield (_name(v, f"fn>{fn}", proc, i, s), f"{s.label!r} runs {fn} in {proc}",
                   edited(replace(s, fn=fn)))
    if isinstance(s, QueueWork) and s.sb == "upper":
        yield (_name(v, "sb-lower", proc, i, s),
               f"{s.label!r} queues on the backing file's superblock in {proc}",
               edited(replace(s, sb="lower")))
    if isinstance(s, SetKiComplete | QueueWork):
        # point the completion (or the work item) at another procedure, e.g. complete
        # writes directly instead of punting them to the workqueue
        entries = set(v.entry.values())
        for other in procs:
            if other in entries or other == s.proc:
                continue
            yield (_name(v, f"retarget>{other}", proc, i, s),
                   f"{s.label!r} names {other} instead in {proc}",
                   edited(replace(s, proc=other)))


def _past_cleanup(body: tuple[Stmt, ...], target: str) -> tuple[int, str, str] | None:
    """The first return at or after ``target``, when statements that do something (not
    jumps or assignments) stand between: its index, its tag (a fresh one if it has none)
    and its label."""
    j = next(i for i, st in enumerate(body) if st.tag == target)
    k = next((i for i in range(j, len(body)) if isinstance(body[i], Return)), None)
    if k is None or not any(not isinstance(st, IfGoto | Goto | Assign) for st in body[j:k]):
        return None
    tags = {st.tag for st in body}
    tag = body[k].tag or next(t for n in range(len(body)) if (t := f"skip{n}") not in tags)
    return k, tag, body[k].label


def _moves(v: Variant, procs: Procs, proc: str, i: int) -> Iterator[Edit]:
    """An obligation (statement ``i`` of ``proc``) moved to the start of another
    procedure."""
    body = procs[proc]
    s = body[i]
    if not isinstance(s, MOVABLE) or s.tag is not None:
        return
    entries = set(v.entry.values())
    for other in procs:
        if other == proc or other in entries:
            continue
        out = dict(procs)
        out[proc] = body[:i] + body[i + 1:]
        out[other] = (s, *procs[other])
        yield (_name(v, f"move>{other}", proc, i, s),
               f"move {s.label!r} from {proc} to the start of {other}", out)


def mutants(v: Variant) -> list[Mutant]:
    """Every single-edit mutant of ``v`` that forms a valid variant."""
    out: list[Mutant] = []
    seen: set[str] = set()
    for name, description, procs in _edits(v):
        if name in seen:  # pragma: no cover - names are unique by construction
            raise AssertionError(name)
        seen.add(name)
        try:
            mv = v.with_procs(procs, name=name, expect=frozenset(), notes=())
        except VariantError:
            continue  # does not compile
        out.append(Mutant(name, description, mv))
    return out
