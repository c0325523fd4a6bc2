"""The broken versions of the helpers (tests/broken.py) are the seed's code with one edit
each: the edit helper makes exactly the edit asked for, or refuses."""

from __future__ import annotations

import difflib
import inspect
import textwrap
from collections.abc import Callable
from typing import Any

import pytest

from backing_aio.model.catalogue import catalogue
from backing_aio.model.mutants import mutants
from backing_aio.refimpl.helpers import Helpers, Seed
from tests.broken import BROKEN, SEED_REF1, Edit, edited


def _lines(fn: Callable[..., Any]) -> list[str]:
    return textwrap.dedent(inspect.getsource(fn)).splitlines()


def _stripped(text: str) -> list[str]:
    return [line.strip() for line in textwrap.dedent(text).strip("\n").splitlines()]


@pytest.mark.parametrize("old", ['step("return_")', "aio_req.ref.set(3)",
                                 'aio_req.ref.set(2)\nstep("call")'])
def test_an_edit_must_match_exactly_once(old: str) -> None:
    """Many times (a ``return_`` step), or never."""
    with pytest.raises(ValueError, match=r"match \d+ times, not once"):
        edited(Seed, Edit("backing_file_read_iter", old, "pass"))


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_broken_version_is_the_seed_but_for_its_edit(name: str) -> None:
    b = BROKEN[name]
    base = b.impl.__mro__[1]  # the version it edits
    assert issubclass(base, Helpers) and b.impl.name == name
    assert name.split(":")[0] == base.name
    assert [m for m in vars(b.impl) if callable(vars(b.impl)[m])] == [b.edit.method]
    seed, broken = getattr(base, b.edit.method), getattr(b.impl, b.edit.method)
    diff = list(difflib.unified_diff(_lines(seed), _lines(broken), n=0, lineterm=""))[2:]
    assert [d[1:].strip() for d in diff if d.startswith("-")] == _stripped(b.edit.old)
    assert [d[1:].strip() for d in diff if d.startswith("+") and d.strip() != "+"] == (
        _stripped(b.edit.new))
    # the lines after the edit keep their numbers in refimpl/helpers.py; the seed is as it was
    assert len(_lines(seed)) == len(_lines(broken))
    assert broken.__code__.co_firstlineno == seed.__code__.co_firstlineno
    assert seed.__code__.co_filename.endswith("helpers.py")


def test_the_edited_code_is_what_runs() -> None:
    assert "aio_req.ref.set(1)  # BROKEN: was 2" in _stripped(
        inspect.getsource(SEED_REF1.impl.backing_file_read_iter))
    assert SEED_REF1.impl.backing_file_read_iter.__code__.co_consts != (
        Seed.backing_file_read_iter.__code__.co_consts)


def test_each_broken_version_names_a_mutant_of_its_version() -> None:
    cat = catalogue()
    versions = {b.impl.__mro__[1].name for b in BROKEN.values()}
    assert versions == {"seed-fixed", "ovl-6.12", "loop", "erofs"}
    names = {m.name for v in versions for m in mutants(cat[v])}
    assert set(BROKEN) <= names
    assert {b.expect for b in BROKEN.values()} == {"LEAK", "UAF", "CLEANUP_ONCE",
                                                   "COMPLETE_IFF_QUEUED"}
