"""Systematic single edits of a variant (mutation adequacy of the properties).

Each operator makes one edit of the kind a refactor makes by mistake: delete, duplicate or
swap statements; set the reference count to one less or one more; flip a branch; clone
with or without get_file; point the completion or the work item at another procedure;
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

from backing_aio.model.lang import Stmt, Variant, VariantError


@dataclass(frozen=True)
class Mutant:
    name: str  # stable: variant:operator:procedure#index(op)
    description: str
    variant: Variant


# Obligations a refactor moves between caller, callee and callback.
MOVABLE = ("kiocb_end_write", "kiocb_start_write", "update_pos", "callback")


def _name(v: Variant, op: str, proc: str, i: int, s: Stmt, extra: str = "") -> str:
    return f"{v.name}:{op}:{proc}#{i}({s.op}{extra})"


def _retag(body: list[Stmt], i: int, tag: str | None) -> None:
    body[i] = replace(body[i], tag=tag)


def _edits(v: Variant) -> Iterator[tuple[str, str, dict[str, tuple[Stmt, ...]]]]:
    procs = {k: list(b) for k, b in v.procs.items()}

    def with_body(proc: str, body: list[Stmt]) -> dict[str, tuple[Stmt, ...]]:
        out = {k: tuple(b) for k, b in procs.items()}
        out[proc] = tuple(body)
        return out

    for proc, body in procs.items():
        for i, s in enumerate(body):
            # delete: a tag moves to the statement that now stands in its place
            nb = body[:i] + body[i + 1:]
            if s.tag is not None:
                if i < len(nb) and nb[i].tag is None:
                    _retag(nb, i, s.tag)
                    yield (_name(v, "delete", proc, i, s), f"delete {s.label!r} from {proc}",
                           with_body(proc, nb))
            else:
                yield (_name(v, "delete", proc, i, s), f"delete {s.label!r} from {proc}",
                       with_body(proc, nb))
            # duplicate
            nb = [*body[: i + 1], replace(s, tag=None), *body[i + 1:]]
            yield (_name(v, "duplicate", proc, i, s), f"run {s.label!r} twice in {proc}",
                   with_body(proc, nb))
            # swap with the next statement; labels (tags) stay where they are
            if i + 1 < len(body):
                t = body[i + 1]
                nb = list(body)
                nb[i] = replace(t, tag=s.tag)
                nb[i + 1] = replace(s, tag=t.tag)
                yield (_name(v, "swap", proc, i, s, f",{t.op}"),
                       f"swap {s.label!r} and {t.label!r} in {proc}", with_body(proc, nb))
            if s.op == "refcount_set":
                for n in (s.arg("n") - 1, s.arg("n") + 1):
                    if n >= 0:
                        nb = list(body)
                        nb[i] = replace(s, args=(("n", n),))
                        yield (_name(v, f"ref{n}", proc, i, s), f"refcount_set to {n} in {proc}",
                               with_body(proc, nb))
            if s.op == "if_goto":
                cond = s.arg("cond")
                flipped = cond[1:] if cond.startswith("!") else "!" + cond
                nb = list(body)
                nb[i] = replace(s, args=(("cond", flipped), ("target", s.arg("target"))))
                yield (_name(v, "flip", proc, i, s), f"flip {s.label!r} in {proc}",
                       with_body(proc, nb))
            if s.op == "kiocb_clone":
                nb = list(body)
                nb[i] = replace(s, args=(("get_file", not s.arg("get_file")),))
                what = "without" if s.arg("get_file") else "with"
                yield (_name(v, "get_file", proc, i, s), f"clone {what} get_file in {proc}",
                       with_body(proc, nb))
            if s.op in ("set_ki_complete", "queue_work"):
                # point the completion (or the work item) at another procedure, e.g.
                # complete writes directly instead of punting them to the workqueue
                entries = set(v.entry.values())
                for other in procs:
                    if other in entries or other == s.arg("proc"):
                        continue
                    nb = list(body)
                    nb[i] = replace(s, args=(("proc", other),))
                    yield (_name(v, f"retarget>{other}", proc, i, s),
                           f"{s.label!r} names {other} instead in {proc}", with_body(proc, nb))
            if s.op in MOVABLE and s.tag is None:
                entries = set(v.entry.values())
                for other in procs:
                    if other == proc or other in entries:
                        continue
                    out = {k: tuple(b) for k, b in procs.items()}
                    out[proc] = tuple(body[:i] + body[i + 1:])
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
