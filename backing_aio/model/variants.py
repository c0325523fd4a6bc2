"""The one way every command names a variant: a built-in name, a generated mutant's stable
name (``seed-fixed:delete:backing_aio_cleanup#2(update_pos)``), ``FILE.py`` (every variant the
file defines) or ``FILE.py:NAME``. A name that resolves to nothing is bad input (exit 2,
one line listing what there is)."""

from __future__ import annotations

from pathlib import Path

from backing_aio.errors import BadInput
from backing_aio.model.catalogue import catalogue
from backing_aio.model.lang import Variant
from backing_aio.model.mutants import mutants
from backing_aio.model.userfile import load_variants


class UnknownVariant(BadInput, ValueError):
    """No variant of that name (a ValueError too: library callers of ``named`` catch it)."""


def named(name: str) -> Variant:
    """A catalogue variant, or a generated mutant of one by its stable name."""
    cat = catalogue()
    if name in cat:
        return cat[name]
    base = name.split(":")[0]
    if base in cat and name != base:
        for m in mutants(cat[base]):
            if m.name == name:
                return m.variant
        raise UnknownVariant(f"unknown variant {name!r}: {base} has no mutant of that name")
    raise UnknownVariant(f"unknown variant {name!r} (built-in: {', '.join(cat)}; a mutant "
                         "of one by its name; or give FILE.py)")


def resolve(spec: str) -> list[tuple[Variant, str]]:
    """``spec`` -> (variant, source file or "" for a built-in one), in file order."""
    path_part, _, name = spec.partition(".py:")
    if spec.endswith(".py") or name:
        path = Path(spec if spec.endswith(".py") else path_part + ".py")
        found = load_variants(path)
        if name:
            if name not in found:
                raise UnknownVariant(f"{path} defines no variant {name!r} "
                                     f"(it defines: {', '.join(found)})")
            return [(found[name], str(path))]
        return [(v, str(path)) for v in found.values()]
    return [(named(spec), "")]


def resolve_one(spec: str) -> tuple[Variant, str]:
    """Exactly one variant: a file that defines several must be narrowed with FILE.py:NAME."""
    found = resolve(spec)
    if len(found) != 1:
        raise UnknownVariant(f"{spec} defines several variants: name one with FILE.py:NAME")
    return found[0]
