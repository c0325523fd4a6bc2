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
import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class Tree:
    """A kernel tree as the lifter reads it: the files of ``root``, those in ``patched``
    as a patch leaves them. A C file is named by its path as given (``root/fs/...``), or,
    ``relative``, by its path inside the tree, as a patch and a review tool name it."""

    root: Path
    patched: Mapping[str, str] = field(default_factory=dict)
    relative: bool = False

    def has(self, rel: str) -> bool:
        return rel in self.patched or (self.root / rel).is_file()

    def read(self, rel: str) -> CFile:
        name = rel if self.relative else str(self.root / rel)
        if rel in self.patched:
            return CFile(name, self.patched[rel])
        try:
            return CFile(name, (self.root / rel).read_text(errors="replace"))
        except OSError as e:
            raise CError(f"{self.root / rel}: cannot be read ({e.strerror})") from None

    def release(self) -> str | None:
        """VERSION.PATCHLEVEL from the tree's Makefile (``6.12``), if it has one."""
        return release(self.root)


def _helper_files(tree: Tree) -> list[str]:
    """The files of ``tree`` that hold the helpers, or overlayfs's own async IO in a tree
    from before them."""
    found = [f for f in HELPER_FILES if tree.has(f)]
    if not found and tree.has(OVL_FILE) and user_of(tree.read(OVL_FILE)) is not None:
        return [OVL_FILE]
    if not found:
        raise CError(f"{tree.root}: not a kernel tree with the helpers (no "
                     f"{' or '.join(HELPER_FILES)}, nor overlayfs's own async IO in "
                     f"{OVL_FILE})")
    return found


def sources(spec: str, opts: Options) -> list[CFile]:
    """The helpers' C files ``spec`` stands for, as they are (after the patch, if one)."""
    path = Path(spec)
    if path.is_dir():
        tree = Tree(path)
        return [tree.read(f) for f in _helper_files(tree)]
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


@dataclass(frozen=True)
class TreeVariant:
    """A variant lifted from a kernel tree: ``path`` the file it was lifted from (the
    caller's, for a caller lifted around the helpers), ``files`` every file of the tree it
    reads (relative to it), ``lift`` another text of ``path`` lifted the same way (a C
    mutant of it, say)."""

    variant: Variant
    path: str
    files: frozenset[str]
    lift: Callable[[CFile], Variant]


def variants(spec: str, opts: Options | None = None) -> list[tuple[Variant, str]]:
    """The variants ``spec`` lifts to, each with the C file it came from; for a kernel
    tree (or a patch to one, ``--tree``) those of ``lift_tree``."""
    opts = opts or Options()
    path = Path(spec)
    if path.is_dir():
        return [(t.variant, t.path) for t in lift_tree(Tree(path), opts)]
    if opts.tree is not None and not spec.endswith(".c") and path.is_file():
        return [(t.variant, t.path) for t in patched_tree(path, opts)[1]]
    out = []
    for c in sources(spec, opts):
        like = like_of(c, opts)
        out.append((assemble(lift_file(c, opts, like), like), c.path))
    return out


# Every file of a tree lift_tree reads: a patch that touches none of them is not gated.
def lifted_files() -> tuple[str, ...]:
    return (*HELPER_FILES, OVL_FILE, *(path for path, _, _ in CALLERS.values()),
            *(u.path for u in USERS if u.path != OVL_FILE))


def patched_tree(patch: Path, opts: Options) -> tuple[Tree, list[TreeVariant]]:
    """The tree ``opts.tree`` as ``patch`` leaves it (its files named relative to the
    tree), and the variants lifted from it that read a file the patch touches."""
    assert opts.tree is not None
    if not patch.exists():
        raise CError(f"{patch}: no such file or directory")
    if not opts.tree.is_dir():
        raise CError(f"--tree {opts.tree}: not a directory")
    touched = patches.touched(patch) & set(lifted_files())
    if not touched:
        raise CError(f"{patch}: the patch touches none of the files the variants of a "
                     f"tree are lifted from ({', '.join(lifted_files())})")
    after = Tree(opts.tree, patches.files(patch, opts.tree, touched), relative=True)
    lifted = [t for t in lift_tree(after, opts) if t.files & touched]
    if not lifted:
        raise CError(f"{patch}: it changes {', '.join(sorted(touched))}, but "
                     f"{opts.tree} lifts nothing from {'it' if len(touched) == 1 else 'them'}"
                     f" (a user of the pattern is lifted only in a tree of its release)")
    return after, lifted


def lift_tree(tree: Tree, opts: Options) -> list[TreeVariant]:
    """The variants of a kernel tree: its helpers; the callers' files lifted around them
    (overlayfs's file.c, FUSE's passthrough.c); and the other users of the pattern it has
    (the loop driver, erofs), of the release their catalogue entry was written from."""
    out = []
    for rel in _helper_files(tree):
        c = tree.read(rel)
        like = like_of(c, opts)
        lifted = lift_file(c, opts, like)
        out.append(TreeVariant(assemble(lifted, like), c.path, frozenset({rel}),
                               functools.partial(_lift_as, opts=opts, like=like)))
        if like.name == "mainline":
            out += _callers(tree, rel, lifted, opts)
    return out + _users(tree, {f for t in out for f in t.files}, opts)


def _lift_as(c: CFile, opts: Options, like: Variant) -> Variant:
    return assemble(lift_file(c, opts, like), like)


def release(tree: Path) -> str | None:
    """VERSION.PATCHLEVEL from the tree's Makefile (``6.12``), if it has one."""
    try:
        head = (tree / "Makefile").read_text(errors="replace")[:2000]
    except OSError:
        return None
    v = re.search(r"^VERSION\s*=\s*(\d+)", head, re.M)
    p = re.search(r"^PATCHLEVEL\s*=\s*(\d+)", head, re.M)
    return f"{v.group(1)}.{p.group(1)}" if v and p else None


def _users(tree: Tree, done: set[str], opts: Options) -> list[TreeVariant]:
    """The users of the pattern in ``tree`` that are not the helpers' callers, lifted
    around their catalogue entry, where the tree is of that entry's release (another
    release's code may differ in what the entry leaves out)."""
    out = []
    cat = catalogue()
    for user in USERS:
        like = cat[user.like]
        if user.path in done or not tree.has(user.path) or tree.release() != like.kernel:
            continue
        c = tree.read(user.path)
        if user_of(c) is not user:
            continue
        out.append(TreeVariant(_lift_as(c, opts, like), c.path, frozenset({user.path}),
                               functools.partial(_lift_as, opts=opts, like=like)))
    return out


def _callers(tree: Tree, helpers_file: str, helpers: Lifted,
             opts: Options) -> list[TreeVariant]:
    """The callers in ``tree`` of the lifted helpers, each lifted around them."""
    out = []
    for name, (path, entries, like_name) in CALLERS.items():
        if not tree.has(path):
            continue
        c = tree.read(path)
        if not all(e in c.functions for e in entries):
            continue
        lift = functools.partial(_lift_caller, name=name, helpers=helpers, opts=opts,
                                 like=catalogue()[like_name])
        out.append(TreeVariant(lift(c), c.path, frozenset({path, helpers_file}), lift))
    return out


def _lift_caller(c: CFile, name: str, helpers: Lifted, opts: Options,
                 like: Variant) -> Variant:
    """The caller ``name``'s file ``c`` lifted around the lifted helpers."""
    _, entries, _ = CALLERS[name]
    caller = kapi.caller(name)
    lifted = Lifter(c, dict(opts.callbacks), entries=entries, slots=caller.slots,
                    external=helpers.procs, direct=caller.direct_calls,
                    strict=opts.strict, caller=caller).lift()
    both = Lifted(c.path, {**lifted.procs, **helpers.procs}, lifted.entry,
                  [*lifted.accounts, *helpers.accounts])
    v = assemble(both, like)
    return dataclasses.replace(v, name=f"{Path(c.path).name}+{Path(helpers.path).name}")


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
