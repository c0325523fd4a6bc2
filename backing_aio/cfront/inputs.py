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
import re
from dataclasses import dataclass
from pathlib import Path

from backing_aio import kapi
from backing_aio.cfront import patch as patches
from backing_aio.cfront.lift import ENTRIES, USERS, Lifted, Lifter, user_of
from backing_aio.cfront.parse import CError, CFile
from backing_aio.model.catalogue import catalogue
from backing_aio.model.lang import Variant

# Where a tree keeps the helpers: fs/backing-file.c from v6.8, the seed's name before it.
HELPER_FILES: tuple[str, ...] = ("fs/backing-file.c", "fs/backing_file.c")
# Before the helpers (up to v6.5), overlayfs's file.c held its own async IO.
OVL_FILE = "fs/overlayfs/file.c"
PATCH_SUFFIXES: tuple[str, ...] = (".patch", ".diff", ".mbox", ".eml", ".txt")


def is_c_input(spec: str) -> bool:
    """Whether ``spec`` names C (a .c file, a patch or a kernel tree), not a variant."""
    return spec.endswith((".c", *PATCH_SUFFIXES)) or Path(spec).is_dir()


@dataclass(frozen=True)
class Options:
    tree: Path | None = None
    callbacks: tuple[tuple[str, str], ...] = ()  # --callback NAME=FUNCTION
    like: str | None = None
    strict: bool = False  # a call the table does not know is refused, whatever it is handed


def sources(spec: str, opts: Options) -> list[CFile]:
    """The helpers' C files ``spec`` stands for, as they are (after the patch, if one)."""
    path = Path(spec)
    if path.is_dir():
        found = [path / f for f in HELPER_FILES if (path / f).is_file()]
        if not found and (path / OVL_FILE).is_file():
            ovl = CFile.read(path / OVL_FILE)
            if user_of(ovl) is not None:  # a tree from before the helpers
                return [ovl]
        if not found:
            raise CError(f"{path}: not a kernel tree with the helpers (no "
                         f"{' or '.join(HELPER_FILES)}, nor overlayfs's own async IO in "
                         f"{OVL_FILE})")
        return [CFile.read(f) for f in found]
    if not path.exists():
        raise CError(f"{path}: no such file or directory")
    if spec.endswith(".c"):
        return [CFile.read(path)]
    changed = patches.files(path, opts.tree, HELPER_FILES)
    helpers = [CFile(name, text) for name, text in changed.items()]
    if not helpers and OVL_FILE in patches.touched(path):
        own = [CFile(n, t) for n, t in patches.files(path, opts.tree, (OVL_FILE,)).items()]
        if own and user_of(own[0]) is not None:
            return own  # overlayfs's own async IO, in a tree from before the helpers
    if not helpers:
        raise CError(f"{path}: the patch touches none of {', '.join(HELPER_FILES)}"
                     f" (nor overlayfs's own async IO in {OVL_FILE})")
    return helpers


def lift_file(c: CFile, opts: Options, like: Variant) -> Lifted:
    caller = kapi.caller(like.caller)
    bindings = dict(caller.passes)
    bindings.update(opts.callbacks)
    return Lifter(c, bindings, slots=caller.slots, direct=caller.direct_calls,
                  strict=opts.strict).lift()


def like_of(c: CFile, opts: Options) -> Variant:
    """The catalogue variant whose caller goes around the helpers of ``c``."""
    cat = catalogue()
    name = opts.like
    user = user_of(c)
    if name is None and not any(n in c.functions for n in ENTRIES) and user is not None:
        name = user.like
    if name is None:
        entry = next((c.functions[n] for n in ENTRIES if n in c.functions), None)
        takes_ctx = entry is not None and any(
            t.startswith("struct backing_file_ctx") for t, _ in entry.params)
        name = "mainline" if takes_ctx else "seed"
    if name not in cat:
        raise CError(f"--like {name!r}: not a catalogue variant (known: {', '.join(cat)})")
    return cat[name]


# overlayfs's read_iter/write_iter, lifted around the helpers they call (v6.8 and later)
CALLERS: dict[str, tuple[str, dict[str, tuple[str, ...]], str]] = {
    "overlayfs": ("fs/overlayfs/file.c", {"ovl_read_iter": ("read",),
                                          "ovl_write_iter": ("write",)}, "ovl-6.12"),
    "fuse": ("fs/fuse/passthrough.c", {"fuse_passthrough_read_iter": ("read",),
                                       "fuse_passthrough_write_iter": ("write",)}, "fuse-6.12"),
}


def variants(spec: str, opts: Options | None = None) -> list[tuple[Variant, str]]:
    """The variants ``spec`` lifts to, each with the C file it came from; for a kernel
    tree also its callers' file lifted around the helpers (overlayfs's file.c), and the
    other users of the pattern it has (the loop driver) of the release their catalogue
    entry was written from."""
    opts = opts or Options()
    out = []
    for c in sources(spec, opts):
        like = like_of(c, opts)
        lifted = lift_file(c, opts, like)
        out.append((assemble(lifted, like), c.path))
        if Path(spec).is_dir() and like.name == "mainline":
            out += _callers(Path(spec), lifted, opts)
    if Path(spec).is_dir():
        out += _users(Path(spec), {path for _, path in out}, opts)
    return out


def release(tree: Path) -> str | None:
    """VERSION.PATCHLEVEL from the tree's Makefile (``6.12``), if it has one."""
    try:
        head = (tree / "Makefile").read_text(errors="replace")[:2000]
    except OSError:
        return None
    v = re.search(r"^VERSION\s*=\s*(\d+)", head, re.M)
    p = re.search(r"^PATCHLEVEL\s*=\s*(\d+)", head, re.M)
    return f"{v.group(1)}.{p.group(1)}" if v and p else None


def _users(tree: Path, done: set[str], opts: Options) -> list[tuple[Variant, str]]:
    """The users of the pattern in ``tree`` that are not the helpers' callers, lifted
    around their catalogue entry, where the tree is of that entry's release (another
    release's code may differ in what the entry leaves out)."""
    out = []
    cat = catalogue()
    for user in USERS:
        f = tree / user.path
        like = cat[user.like]
        if str(f) in done or not f.is_file() or release(tree) != like.kernel:
            continue
        c = CFile.read(f)
        if user_of(c) is not user:
            continue
        out.append((assemble(lift_file(c, opts, like), like), c.path))
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
                        external=helpers.procs, direct=caller.direct_calls,
                        strict=opts.strict).lift()
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
