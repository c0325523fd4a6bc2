"""The one z3 verdict (backing_aio.verify.verdict): decided from a proof and its bounded
search, combined over request types, rendered as text and JSON."""

from __future__ import annotations

import pytest

from backing_aio.verify.bmc import BmcResult, Finding
from backing_aio.verify.prove import Proof
from backing_aio.verify.verdict import Decision, Verdict, combine, of_proof


def proof(**kw: list[str]) -> Proof:
    p = Proof("v", "read", {})
    for name, values in kw.items():
        getattr(p, name).extend(values)
    return p


def failing(*props: str) -> Proof:
    p = proof()
    p.failures.extend((None, prop) for prop in props)  # the rule is not looked at
    return p


def bmc_of(*props: str, **kw: list[str]) -> BmcResult:
    found = BmcResult("v", "read", 10, **kw)
    for prop in props:
        found.findings[prop] = Finding(prop, "", (), False, "")
    return found


def test_a_proof_that_is_not_inductive_is_undecided_not_failing() -> None:
    v = of_proof(proof(not_inductive=["submit / inductive: leaves the invariant"]))
    assert v.decision is Decision.NOT_INDUCTIVE and not v.decided and not v.failed
    assert v.text() == "NOT DECIDED (invariant not inductive)"
    assert "fails" not in v.text()
    assert v.reasons == ("submit / inductive: leaves the invariant",)


def test_unknown_wins_over_everything_else() -> None:
    p = failing("UAF")
    p.unknown.append("q: z3 answered unknown (rlimit)")
    p.not_inductive.append("x")
    v = of_proof(p)
    assert v.decision is Decision.UNKNOWN and v.text() == "NOT DECIDED (z3 unknown)"
    assert v.reasons == ("q: z3 answered unknown (rlimit)",)
    # the bounded search's unknowns and replay errors count, and say where they are from
    w = of_proof(failing("UAF"), bmc_of("UAF", replay_errors=["step 3 differs"]))
    assert w.decision is Decision.UNKNOWN and w.reasons == ("bmc: step 3 differs",)


def test_fails_names_the_properties_in_their_stable_order() -> None:
    v = of_proof(failing("LEAK", "UAF", "LEAK"))
    assert v.decision is Decision.FAILS and v.failed == ("UAF", "LEAK")
    assert v.text() == "fails UAF,LEAK"


def test_holds_for_one_request_or_for_all_n() -> None:
    assert of_proof(proof()).text() == "holds for all N"
    one = of_proof(proof(all_n=["rule r: depends on other requests' share of the file"]))
    assert one.decision is Decision.HOLDS_FOR_ONE and one.decided
    assert one.text() == "holds for one request" and not one.holds_for_all_n
    assert one.reasons == ("rule r: depends on other requests' share of the file",)


def test_a_bounded_search_that_disagrees_leaves_it_undecided() -> None:
    v = of_proof(failing("UAF"), bmc_of("UAF", "LEAK"))
    assert v.decision is Decision.DISAGREE and not v.decided
    assert v.text() == "NOT DECIDED (the checks disagree)"
    assert v.reasons == ("bmc breaks UAF,LEAK, the proof UAF",)
    assert of_proof(failing("UAF"), bmc_of("UAF")).text() == "fails UAF"


def test_combined_over_request_types() -> None:
    holds = Verdict(Decision.HOLDS_FOR_ALL_N)
    one = Verdict(Decision.HOLDS_FOR_ONE, reasons=("gap",))
    uaf, leak = Verdict.fails(["UAF"]), Verdict.fails(["LEAK"])
    unknown = Verdict(Decision.UNKNOWN, reasons=("q",))
    assert combine([holds, holds]).text() == "holds for all N"
    assert combine([holds, one]) == one
    assert combine([]).decision is Decision.HOLDS_FOR_ONE  # nothing proved for all N
    assert combine([leak, holds, uaf]).text() == "fails UAF,LEAK"
    assert combine([uaf, unknown]) == unknown
    # the caller's own findings (disagreements with the explorer) undecide it
    d = combine([uaf], ["read: explorer LEAK, proof UAF"])
    assert d.decision is Decision.DISAGREE and d.reasons == ("read: explorer LEAK, proof UAF",)
    assert combine([unknown], ["read: q"]).reasons == ("read: q",)


def test_the_json_rendering() -> None:
    assert Verdict.fails(["UAF"]).as_json() == {
        "text": "fails UAF", "decision": "fails", "decided": True, "failed": ["UAF"],
        "reasons": []}
    assert Verdict(Decision.NOT_INDUCTIVE, reasons=("x",)).as_json() == {
        "text": "NOT DECIDED (invariant not inductive)", "decision": "not_inductive",
        "decided": False, "failed": [], "reasons": ["x"]}


def test_failed_properties_go_with_fails_only() -> None:
    with pytest.raises(ValueError):
        Verdict(Decision.FAILS)
    with pytest.raises(ValueError):
        Verdict(Decision.UNKNOWN, failed=("UAF",))
