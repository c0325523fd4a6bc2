"""The verdict at any N composed from one request of each type (``verify.compose``): it is
the explorer's at every N it can check, it refuses to compose where a request's decisions
depend on the others or a request over-drops, and the bug-hunting mode stops at once."""

from __future__ import annotations

import pytest

from backing_aio.cli.main import main
from backing_aio.model.catalogue import catalogue
from backing_aio.model.lang import Variant, stmt
from backing_aio.model.mutants import mutants
from backing_aio.verify.compose import AnyCount, Undecided, compose
from backing_aio.verify.explorer import explore
from tests.conftest import edit, mutant


def _all_mutants(every: int) -> list[Variant]:
    ms = [m.variant for v in catalogue().values() for m in mutants(v)]
    return ms[::every]


def _same_as_search(v: Variant, ns: tuple[int, ...]) -> None:
    c = compose(v)
    assert c.composed, (v.name, c.reason)
    for n in ns:
        assert explore(v, n).failed == c.failed, (v.name, n)


@pytest.mark.parametrize("name", list(catalogue()))
def test_catalogue_composition_is_the_search_at_every_n(name: str) -> None:
    v = catalogue()[name]
    _same_as_search(v, (1, 2, 3))
    assert compose(v).failed == v.expect


def test_composition_finds_bugs() -> None:
    """A step's finding (ovl-5.6's use after free), a reference left at the end (ovl-6.1's
    leak, which only the whole run's count shows) and a completion that never ends."""
    cat = catalogue()
    assert compose(cat["ovl-5.6"]).failed == {"UAF"}
    assert compose(cat["ovl-6.1"]).failed == {"LEAK"}
    assert compose(cat["seed-fixed"]).failed == frozenset()
    spin = (
        stmt("load_orig", "struct kiocb *orig_iocb = aio_req->orig_iocb;", tag="again"),
        stmt("goto", "goto again; /* waits for a flag nobody sets */", target="again"),
    )
    looping = edit(cat["seed"], "backing_aio_rw_complete", spin, name="seed-spin")
    c = compose(looping)
    assert "TERMINATES" in c.failed
    assert c.failed == explore(looping, 1).failed == explore(looping, 2).failed


def test_over_dropping_request_is_not_composed() -> None:
    v = mutant("seed-fixed:get_file:backing_file_read_iter#9(kiocb_clone)")
    c = compose(v)
    assert not c.composed
    assert "does not hold" in c.reason or "depends on the other requests" in c.reason
    assert c.text().startswith("any N: not composed (")
    assert explore(v, 2).reduction == "dependent"  # the search falls back too


def test_mutants_composition_is_the_search() -> None:
    for v in _all_mutants(every=60):
        if compose(v).composed:
            _same_as_search(v, (1, 2))


@pytest.mark.slow
def test_more_mutants_composition_is_the_search() -> None:
    for v in _all_mutants(every=7):
        if compose(v).composed:
            _same_as_search(v, (1, 2))


def test_any_count_answers_only_what_every_count_answers() -> None:
    two = AnyCount(2)  # the owner's reference and this request's own, plus k others'
    assert two > 1 and two >= 2 and not two <= 1 and not two < 2 and two != 1
    assert (two - 1) + 1 == two
    for question in (lambda: AnyCount(1) == 1, lambda: AnyCount(1) <= 1,
                     lambda: AnyCount(0) < 1, lambda: AnyCount(1) > 1, lambda: int(two)):
        with pytest.raises(Undecided):
            question()


def test_first_stops_at_one_finding() -> None:
    v = mutant("mainline:flip:backing_file_write_iter#6(if_goto)")
    whole = explore(v, 2)
    first = explore(v, 2, first=True)
    assert first.stopped and not whole.stopped
    assert len(first.violations) == 1
    assert first.failed <= whole.failed and first.states < whole.states
    holds = explore(catalogue()["mainline"], 2, first=True)
    assert not holds.stopped and not holds.failed  # nothing to find: the whole search


def test_check_first_and_any_n(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "seed", "--first"]) == 0  # an expected bug: as expected
    out = capsys.readouterr().out
    assert "stopped at the first finding" in out and "any N" not in out
    assert main(["check", "mainline:flip:backing_file_write_iter#6(if_goto)", "--first"]) == 1
    capsys.readouterr()
    assert main(["check", "ovl-6.1"]) == 0
    out = capsys.readouterr().out
    assert "any N: fails LEAK by composition" in out
    assert "steps, shortest]" in out
