"""Bounded model checking with z3 finds what the explorer finds, in as many steps, and
every counterexample it reports replays in the model."""

from __future__ import annotations

from backing_aio.model.catalogue import catalogue
from backing_aio.model.lang import Variant
from backing_aio.model.mutants import mutants
from backing_aio.model.semantics import Action, BackingAio
from backing_aio.verify.bmc import bmc, longest_path
from backing_aio.verify.explorer import explore
from backing_aio.verify.prove import candidate
from backing_aio.verify.symbolic import build


def _replays(v: Variant, rtype: str, prop: str, actions: tuple[Action, ...],
             at_end: bool) -> bool:
    model = BackingAio(v)
    state = (1, model.new_request(rtype))
    for i, a in enumerate(actions):
        nxt = model.apply(state, a)
        if isinstance(nxt, list):
            return i == len(actions) - 1 and prop in {x.prop for x in nxt}
        state = nxt
    return at_end and prop in {x.prop for x in model.final_violations(state)}


def test_the_v56_use_after_free_in_the_explorers_number_of_steps() -> None:
    v = catalogue()["ovl-5.6"]
    system = build(v, "read", within=candidate(v, "read"))
    found = bmc(v, "read", system)
    assert found.decided and set(found.failed) == {"UAF"}
    shortest = explore(v, 1, kinds=["read"]).counterexample("UAF")
    assert found.findings["UAF"].length == len(shortest.actions) == 19
    f = found.findings["UAF"]
    assert _replays(v, "read", "UAF", f.actions, f.at_end)
    assert found.bound == longest_path(system) >= f.length


def test_a_good_variant_has_no_counterexample_at_any_depth() -> None:
    v = catalogue()["mainline"]
    found = bmc(v, "sync-write", build(v, "sync-write", within=candidate(v, "sync-write")))
    assert found.decided and not found.failed and found.queries == 1


def test_an_end_of_run_property_replays_at_the_end() -> None:
    # dropping the submitter's put leaves the wrapper allocated: LEAK, judged at the end
    m = next(m for m in mutants(catalogue()["seed-fixed"])
             if m.name == "seed-fixed:delete:backing_file_read_iter#13(call)")
    found = bmc(m.variant, "read", build(m.variant, "read",
                                         within=candidate(m.variant, "read")))
    assert "LEAK" in found.failed
    f = found.findings["LEAK"]
    assert _replays(m.variant, "read", "LEAK", f.actions, f.at_end)
    shortest = explore(m.variant, 1, kinds=["read"]).counterexample("LEAK")
    assert f.length == len(shortest.actions)


def test_an_unknown_answer_is_never_a_verdict() -> None:
    # one unit of z3's work per query: the search gives up (deterministically), and says so
    v = catalogue()["seed"]
    found = bmc(v, "read", build(v, "read", within=candidate(v, "read")), rlimit=1)
    assert not found.decided and found.unknown and not found.failed
    assert all("unknown" in why for why in found.unknown)
