"""A patch (unified diff, or ``git format-patch`` output) applied in memory.

A file the patch creates is reconstructed from the patch alone (its added lines); a file
it changes needs the tree it applies to, and each hunk must find its context there (at the
line it names, or the nearest place its old lines stand, as ``patch`` allows an offset).
A hunk that finds no such place is bad input: "PATCH: hunk 2 of fs/backing-file.c does not
apply (at line 214)".
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from backing_aio.cfront.parse import CError

_HUNK = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass(frozen=True)
class Hunk:
    old_start: int
    lines: tuple[str, ...]  # each with its ' ', '-' or '+' prefix

    @property
    def old(self) -> list[str]:
        return [x[1:] for x in self.lines if x[:1] in (" ", "-")]

    @property
    def new(self) -> list[str]:
        return [x[1:] for x in self.lines if x[:1] in (" ", "+")]


@dataclass(frozen=True)
class FilePatch:
    old: str | None  # the path before (None: the patch creates the file)
    new: str | None  # the path after (None: the patch deletes it)
    hunks: tuple[Hunk, ...]

    @property
    def path(self) -> str:
        got = self.new or self.old
        assert got is not None
        return got


def _path(spec: str) -> str | None:
    spec = spec.split("\t")[0].strip()
    if spec == "/dev/null":
        return None
    return spec[2:] if spec[:2] in ("a/", "b/") else spec


def parse(text: str, name: str) -> list[FilePatch]:
    """The files of a patch, in order; CError if there is none or a hunk is cut short."""
    lines = text.splitlines()
    out: list[FilePatch] = []
    i = 0
    while i < len(lines):
        if not (lines[i].startswith("--- ") and i + 1 < len(lines)
                and lines[i + 1].startswith("+++ ")):
            i += 1
            continue
        old, new = _path(lines[i][4:]), _path(lines[i + 1][4:])
        i += 2
        hunks = []
        while i < len(lines) and lines[i].startswith("@@"):
            m = _HUNK.match(lines[i])
            if m is None:
                raise CError(f"{name}:{i + 1}: a hunk header that cannot be read")
            old_len = int(m.group(2) or 1)
            new_len = int(m.group(4) or 1)
            body: list[str] = []
            i += 1
            while (old_len > 0 or new_len > 0) and i < len(lines):
                line = lines[i] if lines[i] else " "
                if line.startswith("\\"):  # "\ No newline at end of file"
                    i += 1
                    continue
                tag = line[:1]
                if tag not in (" ", "-", "+"):
                    break
                old_len -= tag in (" ", "-")
                new_len -= tag in (" ", "+")
                body.append(line)
                i += 1
            if old_len > 0 or new_len > 0:
                raise CError(f"{name}:{i}: a hunk of {new or old} is cut short")
            hunks.append(Hunk(int(m.group(1)), tuple(body)))
        out.append(FilePatch(old, new, tuple(hunks)))
    if not out:
        raise CError(f"{name}: no file in this patch (not a unified diff)")
    return out


def created(fp: FilePatch) -> str:
    """A file the patch creates: its text is the patch's added lines."""
    return "".join(line + "\n" for h in fp.hunks for line in h.new)


def apply(fp: FilePatch, original: str, name: str) -> str:
    """``original`` with the patch's hunks for this file applied, in order."""
    text = original.splitlines()
    shift = 0
    for n, h in enumerate(fp.hunks, 1):
        old = h.old
        want = h.old_start - 1 + shift
        at = _find(text, old, want)
        if at is None:
            raise CError(f"{name}: hunk {n} of {fp.path} does not apply (at line "
                         f"{h.old_start})")
        text[at:at + len(old)] = h.new
        shift += len(h.new) - len(old)
    return "".join(line + "\n" for line in text)


def _find(text: list[str], old: list[str], want: int) -> int | None:
    """Where ``old`` stands in ``text``: at ``want``, or the nearest offset from it."""
    for delta in range(len(text) + 1):
        for at in (want - delta, want + delta) if delta else (want,):
            if 0 <= at <= len(text) - len(old) and text[at:at + len(old)] == old:
                return at
    return None


def touched(patch: Path) -> set[str]:
    """The paths of the files the patch changes or creates."""
    try:
        text = patch.read_text(errors="replace")
    except OSError as e:
        raise CError(f"{patch}: cannot be read ({e.strerror})") from None
    return {fp.path for fp in parse(text, str(patch)) if fp.new is not None}


def files(patch: Path, tree: Path | None, only: Collection[str] | None = None) -> dict[str, str]:
    """The C files of the patch (those in ``only``, if given) as they are after it:
    created ones from the patch alone, changed ones from ``tree`` (CError without a tree,
    or if a hunk does not apply)."""
    try:
        text = patch.read_text(errors="replace")
    except OSError as e:
        raise CError(f"{patch}: cannot be read ({e.strerror})") from None
    out = {}
    for fp in parse(text, str(patch)):
        if fp.new is None or not fp.path.endswith(".c") or (only is not None
                                                               and fp.path not in only):
            continue
        if fp.old is None:
            out[fp.path] = created(fp)
            continue
        if tree is None:
            raise CError(f"{patch}: it changes {fp.path}, which needs the tree it applies to "
                         "(--tree DIR)")
        source = tree / fp.old
        try:
            original = source.read_text(errors="replace")
        except OSError:
            raise CError(f"{patch}: {fp.old} is not in {tree}") from None
        out[fp.path] = apply(fp, original, str(patch))
    return out
