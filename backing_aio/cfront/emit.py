"""A variant as a Python variant file: readable, editable, and checkable like any user's
file (``backing-aio check FILE.py``). ``backing-aio lift`` prints it."""

from __future__ import annotations

import dataclasses

from backing_aio.model.lang import Stmt, Variant


def statement(st: Stmt) -> str:
    """``S("op", "label", tag=..., arg=...)``: the statement as ``stmt()`` builds it."""
    parts = [repr(st.op), repr(st.label)]
    if st.tag is not None:
        parts.append(f"tag={st.tag!r}")
    for f in dataclasses.fields(st):
        if f.name in ("label", "tag"):
            continue
        value = getattr(st, f.name)
        if value != f.default:
            parts.append(f"{f.name}={value!r}")
    return f"S({', '.join(parts)})"


def variant_file(v: Variant, source: str) -> str:
    """A Python file that defines ``v`` (and only ``v``) with the statement language."""
    out = [
        f'"""{v.name}: lifted from {source} by backing-aio lift.',
        "",
        "Each statement's label is the C it was lifted from, with its file and line.",
        '"""',
        "",
        "from backing_aio.model.lang import Variant",
        "from backing_aio.model.lang import stmt as S",
        "",
        "VARIANT = Variant(",
        f"    name={v.name!r},",
        f"    summary={v.summary!r},",
        f"    origin={v.origin!r},",
        "    procs={",
    ]
    for name, body in v.procs.items():
        out.append(f"        {name!r}: (")
        out.extend(f"            {statement(st)}," for st in body)
        out.append("        ),")
    out += [
        "    },",
        f"    entry={dict(v.entry)!r},",
        f"    kernel={v.kernel!r},",
        f"    caller={v.caller!r},",
        f"    callbacks={ {k: dict(t) for k, t in v.callbacks.items()}!r},",
    ]
    if v.at_mount:
        out.append(f"    at_mount=frozenset({sorted(v.at_mount)!r}),")
    if v.shape != "stacked":
        out.append(f"    shape={str(v.shape)!r},")
    out += [f"    kinds={tuple(str(k) for k in v.kinds)!r},", ")", "", "VARIANTS = [VARIANT]", ""]
    return "\n".join(out)
