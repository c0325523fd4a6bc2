"""Deliberately broken versions of the helpers: the mistakes a refactor makes.

Each is a version's code (seed-fixed's, backing_aio.refimpl.helpers.SeedFixed; v6.12's
Ovl612; the loop driver's; erofs's) with one edit, the same edit as one of the model's
mutants (backing_aio.model.mutants), whose stable name is the class's ``name``. So each
can be checked two ways: the runtime checks must catch it (``expect``, the finding's
property), and its runs must be runs of that mutant (backing_aio.crosscheck.conformance
with the mutant's variant). The read path carries the edit (the mutants edit one
procedure); ``SEED_NO_FPUT`` edits the put both paths share.

The edit is made on the version's own source text (``edited``), so a broken version is
that code but for the edited lines, and follows it when it changes; an edit that no
longer matches exactly once fails when this module is imported.
"""

from __future__ import annotations

import inspect
import linecache
import sys
import textwrap
from dataclasses import dataclass
from typing import Any

from backing_aio.refimpl.helpers import Erofs, Helpers, Loop, Ovl612, SeedFixed


@dataclass(frozen=True)
class Edit:
    """Replace the lines ``old`` of ``method`` by ``new``. Both are written dedented; they
    are matched (and ``new`` is put) at the indentation of the place they match."""

    method: str
    old: str
    new: str


def edited_source(cls: type[Helpers], edit: Edit) -> str:
    """The source of ``cls.<edit.method>`` with the edit made; ValueError unless ``old``
    matches exactly once. Where the edit removes lines, blank lines take their place: the
    lines after it keep their numbers in the original file."""
    lines = textwrap.dedent(inspect.getsource(getattr(cls, edit.method))).splitlines()
    old = textwrap.dedent(edit.old).strip("\n").splitlines()
    new = textwrap.dedent(edit.new).strip("\n").splitlines()
    at: list[tuple[int, str]] = []
    for i, line in enumerate(lines):
        indent = line[:len(line) - len(line.lstrip())]
        if lines[i:i + len(old)] == [indent + o if o else o for o in old]:
            at.append((i, indent))
    if len(at) != 1:
        raise ValueError(f"{cls.__name__}.{edit.method}: the lines to edit match {len(at)} "
                         f"times, not once: {old}")
    i, indent = at[0]
    put = [indent + n if n else n for n in new] + [""] * (len(old) - len(new))
    return "\n".join([*lines[:i], *put, *lines[i + len(old):]]) + "\n"


def edited(cls: type[Helpers], edit: Edit, **attrs: Any) -> type[Helpers]:
    """A subclass of ``cls`` whose ``edit.method`` is the edited source, compiled in the
    namespace of the module that defines ``cls`` (so it calls what the original calls),
    with the class attributes ``attrs``."""
    original = getattr(cls, edit.method)
    source = edited_source(cls, edit)
    if "super()" in source:
        raise ValueError(f"{edit.method}: a method using super() cannot be recompiled alone")
    name = attrs.pop("__qualname__", f"{cls.__name__}Edited")
    # The edited text under a name of its own, at the original's line numbers: tracebacks,
    # inspect.getsource and the sites a finding names show the code that ran.
    filename = f"<{name}.{edit.method}>"
    first = inspect.getsourcelines(original)[1]
    text = "\n" * (first - 1) + source
    linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
    module = sys.modules[original.__module__]
    made: dict[str, Any] = {}
    exec(compile(text, filename, "exec"), vars(module), made)
    fn = made[edit.method]
    fn.__qualname__ = f"{name}.{edit.method}"
    return type(name, (cls,), {edit.method: fn, "__module__": __name__, **attrs})


@dataclass(frozen=True)
class BrokenCopy:
    """A broken version of the helpers: ``impl.name`` is the model mutant it implements,
    ``expect`` the property the runtime checks must find, ``edit`` what makes it."""

    impl: type[Helpers]
    expect: str
    edit: Edit


def broken(cls: type[Helpers], mutant: str, expect: str, edit: Edit, why: str,
           qualname: str) -> BrokenCopy:
    return BrokenCopy(edited(cls, edit, name=mutant, __doc__=why, __qualname__=qualname),
                      expect, edit)


SEED_NO_PUT_AFTER_SUBMIT = broken(
    SeedFixed, "seed-fixed:delete:backing_file_read_iter#13(call)", "LEAK",
    Edit("backing_file_read_iter",
         """
         step("call")
         self.backing_aio_put(aio_req)
         """,
         "# BROKEN: backing_aio_put(aio_req) is gone"),
    "The submitter forgets its put after submit: the wrapper and its file reference "
    "outlive the request (LEAK).",
    "SeedNoPutAfterSubmit")

SEED_REF1 = broken(
    SeedFixed, "seed-fixed:ref1:backing_file_read_iter#11(refcount_set)", "UAF",
    Edit("backing_file_read_iter",
         "aio_req.ref.set(2)",
         "aio_req.ref.set(1)  # BROKEN: was 2"),
    "The count starts at 1: whoever puts first frees the wrapper under the other (UAF).",
    "SeedRef1")

SEED_CLEANUP_ALSO_QUEUED = broken(
    SeedFixed, "seed-fixed:delete:backing_file_read_iter#14(if_goto)", "CLEANUP_ONCE",
    Edit("backing_file_read_iter",
         """
         step("if_goto")
         if ret != -EIOCBQUEUED:
             step("call")
             self.backing_aio_cleanup(aio_req, ret)
         """,
         """
         # BROKEN: "if (ret != -EIOCBQUEUED)" is gone
         step("call")
         self.backing_aio_cleanup(aio_req, ret)
         """),
    "The submitter cleans up even when the IO was queued: the completion cleans up too "
    "(the callback runs twice, the count is put three times, ...).",
    "SeedCleanupAlsoQueued")

SEED_NO_FPUT = broken(
    SeedFixed, "seed-fixed:delete:backing_aio_put#1(fput_clone)", "LEAK",
    Edit("backing_aio_put",
         """
         step("fput_clone")
         fput(aio_req.iocb.ki_filp)
         """,
         "# BROKEN: fput(aio_req->iocb.ki_filp) is gone"),
    "The last put frees the wrapper but forgets the clone's file reference (LEAK).",
    "SeedNoFput")

# Today's helpers under v6.12's overlayfs, whose struct fd may hold a file it opened on
# the fly and drops with fdput as soon as the helper returns (issue: the owner's file).
OVL612_NO_GET_FILE = broken(
    Ovl612, "ovl-6.12:get_file:backing_file_read_iter#9(kiocb_clone)", "UAF",
    Edit("backing_file_read_iter",
         "kiocb_clone(aio.iocb, iocb, get_file(file))",
         "kiocb_clone(aio.iocb, iocb, file)  # BROKEN: no get_file(file)"),
    "The clone borrows the caller's file without a reference of its own: the caller's "
    "fdput drops a file it opened on the fly while the IO is queued, and the last put's "
    "fput drops a reference it never took (UAF).",
    "Ovl612NoGetFile")

# The same pattern under another upper side: the loop driver's pdu and erofs's bio wrapper.
LOOP_REF1 = broken(
    Loop, "loop:ref1:lo_rw_aio#0(refcount_set)", "UAF",
    Edit("lo_rw_aio", "cmd.ref.set(2)", "cmd.ref.set(1)  # BROKEN: was 2"),
    "The command's count starts at 1: whoever drops it first completes the request and "
    "hands the pdu back to blk-mq under the other (UAF).",
    "LoopRef1")

EROFS_NO_BIO_ENDIO = broken(
    Erofs, "erofs:delete:erofs_fileio_ki_complete#1(ki_complete)", "COMPLETE_IFF_QUEUED",
    Edit("erofs_fileio_ki_complete",
         """
         step("ki_complete")
         bio.ki_complete(bio, ret)  # bio_endio(&rq->bio)
         """,
         "# BROKEN: bio_endio(&rq->bio) is gone"),
    "The completion frees the wrapper but never ends the bio: the read it serves never "
    "completes (COMPLETE_IFF_QUEUED).",
    "ErofsNoBioEndio")

BROKEN: dict[str, BrokenCopy] = {
    b.impl.name: b
    for b in (SEED_NO_PUT_AFTER_SUBMIT, SEED_REF1, SEED_CLEANUP_ALSO_QUEUED, SEED_NO_FPUT,
              OVL612_NO_GET_FILE, LOOP_REF1, EROFS_NO_BIO_ENDIO)
}
