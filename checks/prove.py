"""Unbounded proofs over the symbolic rules of ``checks.symbolic``, for one request and for
any number of requests.

The invariant is found by exploration and checked by z3 against the rules (which are the
model's own step function run symbolically):

1. Candidate: at each control location, the data vectors the explorer reached there.
2. Inductive: it holds initially, and for every rule one query asks whether a state inside
   the invariant at the rule's source, taking the rule, lands outside the invariant at its
   target. None can: the invariant is closed under the semantics, with no depth bound.
3. Safe: for every rule that breaks a property, one query asks whether its guard can hold
   inside the invariant at its location. None can: the property holds for every run.
4. Any N: requests share only the backing file's count. For every rule, z3 checks that the
   shared count moves exactly as the request's own share of it (a commutative counter),
   and that the rule behaves the same for any larger shared count (other requests' holds);
   with the invariant's shared_refs >= 0 and shared == 1 + shared_refs, and shared_refs == 0
   when the request has finished, every property proved for one request holds for any
   number of requests, and the file's count ends at 1.

Every query is labelled with its rule (location, actor, choice) and property.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import z3

from checks.symbolic import DATA_NAMES, Control, Rule, System, build, split
from model.backing_aio import DONE, Action, BackingAio
from model.lang import Variant

SHARED = DATA_NAMES.index("shared")
SHREF = DATA_NAMES.index("shared_refs")


@dataclass
class Proof:
    variant: str
    rtype: str
    invariant: dict[Control, set[tuple[int, ...]]]
    queries: int = 0
    not_inductive: list[str] = field(default_factory=list)
    failures: list[tuple[Rule, str]] = field(default_factory=list)  # (rule, property)
    all_n: list[str] = field(default_factory=list)  # why the any-N argument fails
    unknown: list[str] = field(default_factory=list)
    seconds: float = 0.0
    locations: int = 0
    rules: int = 0

    @property
    def proved(self) -> bool:
        return not (self.not_inductive or self.failures or self.unknown)

    @property
    def proved_all_n(self) -> bool:
        return self.proved and not self.all_n

    @property
    def failed(self) -> frozenset[str]:
        return frozenset(p for _, p in self.failures)


def _reachable(system: System) -> dict[Control, set[tuple[int, ...]]]:
    model = BackingAio(system.variant)
    start = (1, model.new_request(system.rtype))
    inv: dict[Control, set[tuple[int, ...]]] = {}
    seen = {start}
    todo = [start]
    while todo:
        state = todo.pop()
        c, data = split(state[0], state[1])
        inv.setdefault(c, set()).add(tuple(int(d) for d in data))
        if state[1] == DONE:
            continue
        for actor in model.enabled_actors(state[1]):
            for choice in model.choices(state[1], actor):
                nxt = model.apply(state, Action(0, actor, choice))
                if isinstance(nxt, list) or nxt in seen:
                    continue
                seen.add(nxt)
                todo.append(nxt)
    return inv


def _holds(xs: tuple[z3.BitVecRef, ...], vectors: set[tuple[int, ...]] | None) -> z3.BoolRef:
    if not vectors:
        return z3.BoolVal(False)
    return z3.Or(*(z3.And(*(x == v for x, v in zip(xs, vec, strict=True)))
                   for vec in sorted(vectors)))


def _check(solver: z3.Solver, proof: Proof, label: str) -> z3.CheckSatResult:
    proof.queries += 1
    result = solver.check()
    if result == z3.unknown:
        proof.unknown.append(f"{label}: z3 answered unknown ({solver.reason_unknown()})")
    return result


def prove(variant: Variant, rtype: str, system: System | None = None,
          timeout_ms: int = 10_000) -> Proof:
    started = time.perf_counter()
    system = system or build(variant, rtype)
    xs = system.variables
    inv = _reachable(system)
    proof = Proof(variant.name, rtype, inv, locations=len(system.controls),
                  rules=len(system.rules))
    solver = z3.Solver()
    solver.set("timeout", timeout_ms)
    if system.init_data not in inv.get(system.init_control, set()):
        proof.not_inductive.append("the initial state is outside the invariant")
    for rule in system.rules:
        if rule.src not in inv:
            continue  # no reachable state is there: the invariant excludes the location
        label = f"{describe_location(system, rule.src)} / {rule.actor} {rule.choice!r}"
        solver.push()
        solver.add(_holds(xs, inv[rule.src]), rule.guard)
        if rule.violation is not None:
            if _check(solver, proof, f"{label} / {rule.violation.prop}") == z3.sat:
                proof.failures.append((rule, rule.violation.prop))
        else:
            assert rule.update is not None and rule.dst is not None
            solver.add(z3.Not(_holds(rule.update, inv.get(rule.dst))))
            if _check(solver, proof, f"{label} / inductive") == z3.sat:
                proof.not_inductive.append(f"{label}: leaves the invariant")
        solver.pop()
    if proof.proved:
        _all_n(system, proof, solver)
    proof.seconds = time.perf_counter() - started
    return proof


def _all_n(system: System, proof: Proof, solver: z3.Solver) -> None:
    """The any-N argument (see the module docstring), one query per rule."""
    xs = system.variables
    for c, vectors in proof.invariant.items():
        for vec in vectors:
            if vec[SHREF] < 0 or vec[SHARED] != 1 + vec[SHREF]:
                proof.all_n.append(f"{describe_location(system, c)}: shared={vec[SHARED]}, "
                                   f"shared_refs={vec[SHREF]}")
                return
            if c == ("DONE",) and vec[SHREF] != 0:
                proof.all_n.append("a finished request still holds shared-file references")
                return
    more = z3.BitVec("shared_with_others", xs[SHARED].size())
    for rule in system.rules:
        if rule.src not in proof.invariant:
            continue
        label = f"{describe_location(system, rule.src)} / {rule.actor} {rule.choice!r}"
        # the same rule with other requests holding references: shared = own + others >= own
        moved = [(xs[SHARED], more)]
        same_guard = rule.guard == z3.substitute(rule.guard, *moved)
        solver.push()
        solver.add(_holds(xs, proof.invariant[rule.src]), more >= xs[SHARED], more <= 12)
        claims = [same_guard]
        if rule.update is not None:
            for k, u in enumerate(rule.update):
                u2 = z3.substitute(u, *moved)
                if k == SHARED:
                    claims.append(u2 - more == u - xs[SHARED])
                    claims.append(u - xs[SHARED] == rule.update[SHREF] - xs[SHREF])
                else:
                    claims.append(u2 == u)
        solver.add(z3.Not(z3.And(*claims)))
        if _check(solver, proof, f"{label} / any N") == z3.sat:
            proof.all_n.append(f"{label}: depends on other requests' share of the file")
        solver.pop()


def describe_location(system: System, c: Control) -> str:
    """A control location in words: where each actor is."""
    if c == ("DONE",):
        return "request finished"
    names = BackingAio(system.variant).compiled.proc_names
    kind, subst, lower, compst, workst, sub, comp, work = c
    del kind

    def frames(stack: tuple[tuple[int, int], ...]) -> str:
        return " > ".join(f"{names[p]}:{pc}" for p, pc in stack) or "-"

    sub_text = {0: frames(sub), 1: f"{frames(sub)} (inside submit)", 2: "returned"}[subst]
    parts = [f"submitter {sub_text}"]
    if lower == 1:
        parts.append("lower fs holds the clone")
    if compst:
        parts.append("completion " + {1: "armed", 2: frames(comp), 3: "done"}[compst])
    if workst:
        parts.append("worker " + {1: "pending", 2: frames(work), 3: "done"}[workst])
    return "; ".join(parts)


def invariant_text(proof: Proof, system: System) -> list[str]:
    """The invariant in words: the reference count as a function of where the actors are
    (when it is one), and the facts that carry the any-N argument."""
    ref = DATA_NAMES.index("ref")
    wrapper = DATA_NAMES.index("wrapper")
    by_ref: dict[str, list[str]] = {}
    for c in system.controls:
        vectors = proof.invariant.get(c)
        if not vectors:
            continue
        live = {v[ref] for v in vectors if v[wrapper] == 1}
        states = {v[wrapper] for v in vectors}
        if live:
            key = f"wrapper live, ref = {' or '.join(map(str, sorted(live)))}"
        else:
            key = " or ".join({0: "no wrapper", 2: "wrapper freed"}[w] for w in sorted(states))
        by_ref.setdefault(key, []).append(describe_location(system, c))
    lines = []
    for key in sorted(by_ref):
        places = by_ref[key]
        shown = "; ".join(places[:3]) + (f"; and {len(places) - 3} more" if len(places) > 3
                                         else "")
        lines.append(f"{key} at {len(places)} location(s): {shown}")
    lines.append("everywhere: shared == 1 + shared_refs, shared_refs >= 0; finished: "
                 "shared_refs == 0")
    return lines
