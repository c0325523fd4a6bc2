"""What a kernel developer has, as variants: a C file, a kernel tree, or a patch.

- ``FILE.c``: the helpers' file itself (``fs/backing-file.c``, or the seed's
  ``fs/backing_file.c``);
- a directory: a kernel tree, where the helpers' file is found;
- ``FILE.patch`` / ``.diff`` (``git format-patch`` output too): applied in memory to
  ``--tree DIR``, or, for a file the patch creates, reconstructed from the patch alone.

The lifted procedures replace those of the same name in a catalogue variant of the same
API (``like``: ``mainline`` for helpers that take the caller's ``backing_file_ctx``, the
``seed`` for those that take a ``cleanup`` callback), which brings the caller around them
(overlayfs's read_iter/write_iter), the kernel release and the callback contract.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from backing_aio import kapi
from backing_aio.cfront import patch as patches
from backing_aio.cfront.lift import ENTRIES, Lifted, Lifter
from backing_aio.cfront.parse import CError, CFile
from backing_aio.model.catalogue import catalogue
from backing_aio.model.lang import Variant

# Where a tree keeps the helpers: fs/backing-file.c from v6.8, the seed's name before it.
HELPER_FILES: tuple[str, ...] = ("fs/backing-file.c", "fs/backing_file.c")
PATCH_SUFFIXES: tuple[str, ...] = (".patch", ".diff", ".mbox", ".eml", ".txt")


def is_c_input(spec: str) -> bool:
    """Whether ``spec`` names C (a .c file, a patch or a kernel tree), not a variant."""
    return spec.endswith((".c", *PATCH_SUFFIXES)) or Path(spec).is_dir()


@dataclass(frozen=True)
class Options:
    tree: Path | None = None
    callbacks: tuple[tuple[str, str], ...] = ()  # --callback NAME=FUNCTION
    like: str | None = None


def sources(spec: str, opts: Options) -> list[CFile]:
    """The helpers' C files ``spec`` stands for, as they are (after the patch, if one)."""
    path = Path(spec)
    if path.is_dir():
        found = [path / f for f in HELPER_FILES if (path / f).is_file()]
        if not found:
            raise CError(f"{path}: not a kernel tree with the helpers (no "
                         f"{' or '.join(HELPER_FILES)})")
        return [CFile.read(f) for f in found]
    if not path.exists():
        raise CError(f"{path}: no such file or directory")
    if spec.endswith(".c"):
        return [CFile.read(path)]
    changed = patches.files(path, opts.tree, HELPER_FILES)
    helpers = [CFile(name, text) for name, text in changed.items()
               if name in HELPER_FILES]
    if not helpers:
        raise CError(f"{path}: the patch touches none of {', '.join(HELPER_FILES)}")
    return helpers


def lift_file(c: CFile, opts: Options, like: Variant) -> Lifted:
    caller = kapi.caller(like.caller)
    bindings = dict(caller.passes)
    bindings.update(opts.callbacks)
    return Lifter(c, bindings, slots=caller.slots).lift()


def like_of(c: CFile, opts: Options) -> Variant:
    """The catalogue variant whose caller goes around the helpers of ``c``."""
    cat = catalogue()
    name = opts.like
    if name is None:
        entry = next((c.functions[n] for n in ENTRIES if n in c.functions), None)
        takes_ctx = entry is not None and any(
            t.startswith("struct backing_file_ctx") for t, _ in entry.params)
        name = "mainline" if takes_ctx else "seed"
    if name not in cat:
        raise CError(f"--like {name!r}: not a catalogue variant (known: {', '.join(cat)})")
    return cat[name]


# overlayfs's read_iter/write_iter, lifted around the helpers they call (v6.8 and later)
CALLERS: dict[str, tuple[str, dict[str, str], str]] = {
    "overlayfs": ("fs/overlayfs/file.c", {"ovl_read_iter": "read", "ovl_write_iter": "write"},
                  "ovl-6.12"),
    "fuse": ("fs/fuse/passthrough.c", {"fuse_passthrough_read_iter": "read",
                                       "fuse_passthrough_write_iter": "write"}, "fuse-6.12"),
}


def variants(spec: str, opts: Options | None = None) -> list[tuple[Variant, str]]:
    """The variants ``spec`` lifts to, each with the C file it came from; for a kernel
    tree also its callers' file lifted around the helpers (overlayfs's file.c)."""
    opts = opts or Options()
    out = []
    for c in sources(spec, opts):
        like = like_of(c, opts)
        lifted = lift_file(c, opts, like)
        out.append((assemble(lifted, like), c.path))
        if Path(spec).is_dir() and like.name == "mainline":
            out += _callers(Path(spec), lifted, opts)
    return out


def _callers(tree: Path, helpers: Lifted, opts: Options) -> list[tuple[Variant, str]]:
    """The callers in ``tree`` of the lifted helpers, each lifted around them."""
    out = []
    for name, (path, entries, like_name) in CALLERS.items():
        f = tree / path
        if not f.is_file():
            continue
        c = CFile.read(f)
        if not all(e in c.functions for e in entries):
            continue
        like = catalogue()[like_name]
        caller = kapi.caller(name)
        lifted = Lifter(c, dict(opts.callbacks), entries=entries, slots=caller.slots,
                        external=helpers.procs).lift()
        both = Lifted(c.path, {**lifted.procs, **helpers.procs}, lifted.entry,
                      [*lifted.accounts, *helpers.accounts])
        v = assemble(both, like)
        out.append((dataclasses.replace(v, name=f"{Path(path).name}+{Path(helpers.path).name}"),
                    c.path))
    return out


def assemble(lifted: Lifted, like: Variant) -> Variant:
    """``like`` with the lifted procedures in place of those of the same name."""
    missing = [n for n in lifted.procs if n not in like.procs]
    procs = dict(like.procs)
    procs.update(lifted.procs)
    stray = [n for n in like.procs if n not in lifted.procs and _helper_name(n)]
    for name in stray:  # a helper the C no longer has
        del procs[name]
    lines = len(lifted.accounts)
    return dataclasses.replace(
        like, name=Path(lifted.path).name, procs=procs, expect=frozenset(),
        summary=f"lifted from {lifted.path} ({sum(map(len, lifted.procs.values()))} "
        f"statements; {lines} C statements accounted for), around {like.name}'s caller",
        origin=f"{lifted.path}" + (f" (new procedures: {', '.join(missing)})"
                                   if missing else ""),
        notes=())


def _helper_name(name: str) -> bool:
    return name.startswith(("backing_aio", "backing_file"))
