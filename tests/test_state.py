"""The request state: a named tuple in a fixed field order, changed through a Draft."""

from __future__ import annotations

from backing_aio.model.catalogue import catalogue
from backing_aio.model.effects import Change, Effect, net
from backing_aio.model.semantics import BackingAio
from backing_aio.model.state import (
    DONE,
    FIELD_NAMES,
    Draft,
    Req,
    Submitter,
    Wrapper,
    canonical,
    describe_request,
    request_done,
)


def test_field_order_is_the_sort_order() -> None:
    # The order decides which of two requests sorts first, hence the canonical states,
    # the state counts and the counterexamples: it must not change by accident.
    assert FIELD_NAMES[:6] == ("kind", "env", "submitter", "submitter_state", "returned",
                               "lower")
    assert FIELD_NAMES[-2:] == ("shared_refs", "freeze_holder") and len(FIELD_NAMES) == 29
    assert tuple(Draft.__annotations__) == FIELD_NAMES


def test_draft_round_trip_and_sorting() -> None:
    model = BackingAio(catalogue()["seed"])
    read, write = model.new_request("read"), model.new_request("write")
    d = Draft(write)
    assert d.freeze() == write and type(d.freeze()) is Req
    d.wrapper = Wrapper.LIVE
    changed = d.freeze()
    assert changed.wrapper == Wrapper.LIVE and write.wrapper == Wrapper.NONE
    assert canonical((1, write, read, DONE)) == (1, DONE, read, write)
    assert not request_done(read)
    assert request_done(read._replace(submitter_state=Submitter.RETURNED, submitter=()))
    assert describe_request(DONE) == {"done": True}
    assert describe_request(read)["wrapper"] == 0


def test_net_effects() -> None:
    # freeze protection started and ended within one step (vfs_iocb_iter_write, not
    # queued) is no effect; a count changed twice is one change, in Change order
    steps = [Effect(Change.FREEZE, 0, 1), Effect(Change.REF, 2, 1), Effect(Change.REF, 1, 0),
             Effect(Change.FREEZE, 1, 0), Effect(Change.SHARED_FILE_REFS, 2, 1)]
    assert net(steps) == [Effect(Change.SHARED_FILE_REFS, 2, 1), Effect(Change.REF, 2, 0)]
    finished = [Effect(Change.RETURNED, 0, 2), Effect(Change.REQUEST_FINISHED)]
    assert net(finished) == [Effect(Change.REQUEST_FINISHED)]
