"""Unbounded proofs over the symbolic rules of ``backing_aio.verify.symbolic``, for one request and
for any number of requests.

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
   number of requests, and the file's count ends at 1. z3 checks shared counts up to
   ``SHARED_TOP``; a cutoff carries the argument beyond: each rule may test the count only
   by comparing it (plus a constant) with a constant, which ``_cutoff`` checks on the
   rule's terms, and every such test answers the same from some count below the top on.

TERMINATES is "some rule can be taken at every location of the invariant", which means
every run can end because control is acyclic (each step moves forward); a cyclic control
graph leaves it undecided. An unknown answer while the rules were derived leaves the proof
undecided too: the rules may be incomplete.

Every query is labelled with its rule (location, actor, choice) and property, and bounded
by a count of z3's own steps (``backing_aio.verify.symbolic.RLIMIT``), not by time: the same query
decides, or not, on any machine under any load.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import z3

from backing_aio.model.lang import Variant
from backing_aio.model.semantics import Action, BackingAio
from backing_aio.model.state import DONE, Completion, Lower, State, Submitter, Worker, Wrapper
from backing_aio.verify.graph import Order, walk
from backing_aio.verify.symbolic import (
    DATA_NAMES,
    END_ACTOR,
    FINISHED,
    RLIMIT,
    SHARED_TOP,
    STACKS,
    Candidate,
    Control,
    CyclicControl,
    Location,
    Rule,
    System,
    build,
    limit,
    split,
    topological,
)

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
    stuck: list[Control] = field(default_factory=list)  # TERMINATES: no rule can be taken
    all_n: list[str] = field(default_factory=list)  # why the any-N argument fails
    unknown: list[str] = field(default_factory=list)
    seconds: float = 0.0
    locations: int = 0
    rules: int = 0

    @property
    def proved(self) -> bool:
        return not (self.not_inductive or self.failures or self.stuck or self.unknown)

    @property
    def proved_all_n(self) -> bool:
        return self.proved and not self.all_n

    @property
    def failed(self) -> frozenset[str]:
        return frozenset([p for _, p in self.failures]
                         + (["TERMINATES"] if self.stuck else []))


def _reachable(system: System) -> dict[Control, set[tuple[int, ...]]]:
    model = BackingAio(system.variant)
    inv: dict[Control, set[tuple[int, ...]]] = {}

    def successors(_: int, state: State) -> Iterator[tuple[Action, State]]:
        c, data = split(state[0], state[1])
        inv.setdefault(c, set()).add(tuple(int(d) for d in data))
        if state[1] == DONE:
            return
        for actor in model.enabled_actors(state[1]):
            for choice in model.choices(state[1], actor):
                action = Action(0, actor, choice)
                nxt = model.apply(state, action)
                if not isinstance(nxt, list):
                    yield action, nxt

    # depth first: the order locations are met in is the order of the proof's text
    walk([(1, model.new_request(system.rtype))], successors, order=Order.DEPTH)
    return inv


def holds(xs: tuple[z3.BitVecRef, ...], vectors: set[tuple[int, ...]] | None) -> z3.BoolRef:
    """``xs`` is one of ``vectors``. The fields they agree on are one equality, the others
    one equality per vector, each between the fields concatenated and a constant: small
    formulas, quick to build (every location's is built once)."""
    if not vectors:
        return z3.BoolVal(False)
    ordered = sorted(vectors)
    n = len(xs)
    same = [j for j in range(n) if all(v[j] == ordered[0][j] for v in ordered)]
    rest = [j for j in range(n) if j not in same]
    parts = []
    if same:
        parts.append(_packed(xs, same) == _constant(ordered[0], same, xs))
    if rest:
        packed = _packed(xs, rest)
        parts.append(z3.Or(*(packed == _constant(vec, rest, xs) for vec in ordered)))
    return z3.And(*parts)


def _packed(xs: tuple[z3.BitVecRef, ...], fields: list[int]) -> z3.BitVecRef:
    return xs[fields[0]] if len(fields) == 1 else z3.Concat(*(xs[j] for j in fields))


def _constant(vec: tuple[int, ...], fields: list[int], xs: tuple[z3.BitVecRef, ...]
              ) -> z3.BitVecRef:
    value = 0
    width = 0
    for j in fields:
        w = xs[j].size()
        value = (value << w) | (vec[j] & ((1 << w) - 1))
        width += w
    return z3.BitVecVal(value, width)


class _Invariant:
    """The candidate as z3 formulas over the current and the next state, built once per
    location."""

    def __init__(self, system: System, vectors: Candidate) -> None:
        self.vectors = vectors
        self.xs = system.variables
        self.ys = tuple(z3.BitVec(f"next.{x}", x.size()) for x in self.xs)
        self._now: dict[Control, z3.BoolRef] = {}
        self._next: dict[Control, z3.BoolRef] = {}

    def now(self, c: Control) -> z3.BoolRef:
        if c not in self._now:
            self._now[c] = holds(self.xs, self.vectors.get(c))
        return self._now[c]

    def next(self, c: Control) -> z3.BoolRef:
        if c not in self._next:
            self._next[c] = holds(self.ys, self.vectors.get(c))
        return self._next[c]


def _check(solver: z3.Solver, proof: Proof, label: str) -> z3.CheckSatResult:
    proof.queries += 1
    result = solver.check()
    if result == z3.unknown:
        proof.unknown.append(f"{label}: z3 answered unknown ({solver.reason_unknown()})")
    return result


def candidate(variant: Variant, rtype: str) -> Candidate:
    """The candidate invariant: the data vectors the model reaches at each control
    location, for one request of ``rtype``."""
    model = BackingAio(variant)
    init_c, init_d = split(1, model.new_request(rtype))
    return _reachable(System(variant, rtype, (), init_c, tuple(int(x) for x in init_d)))


def prove(variant: Variant, rtype: str, system: System | None = None, *,
          rlimit: int = RLIMIT, timeout_ms: int | None = None) -> Proof:
    """Check the candidate invariant against the rules: inductive, and no rule that breaks
    a property (nor a stuck location) inside it. Without ``system`` the rules are derived
    on the candidate alone (``build(..., within=...)``), which is all the check needs.

    Each query is bounded by ``rlimit`` units of z3's work and, only when it is given, by
    ``timeout_ms`` of wall-clock time (``backing_aio.verify.symbolic.limit``); an answer of unknown
    goes to ``Proof.unknown`` and nothing is proved."""
    started = time.perf_counter()
    inv = candidate(variant, rtype)
    system = system or build(variant, rtype, within=inv, rlimit=rlimit, timeout_ms=timeout_ms)
    proof = Proof(variant.name, rtype, inv, locations=len(system.controls),
                  rules=len(system.rules))
    f = _Invariant(system, inv)
    solver = limit(z3.Solver(), rlimit, timeout_ms)
    proof.unknown.extend(system.unknown)
    try:
        topological(system)
    except CyclicControl:
        # "some rule can be taken everywhere" shows every run can end only when every
        # step moves forward (the location is then a ranking function); with a cycle a
        # run may go round for ever, which this proof cannot rule out
        proof.unknown.append("TERMINATES: the control graph has a cycle, so no step "
                             "measure shows that every run ends; not proved")
    if system.init_data not in inv.get(system.init_control, set()):
        proof.not_inductive.append("the initial state is outside the invariant")
    at: dict[Control, list[Rule]] = {}
    for rule in system.rules:
        at.setdefault(rule.src, []).append(rule)
        if rule.src not in inv:
            continue  # no reachable state is there: the invariant excludes the location
        label = f"{describe_location(system, rule.src)} / {rule.actor} {rule.choice!r}"
        solver.push()
        solver.add(f.now(rule.src), rule.guard)
        if rule.violation is not None:
            if _check(solver, proof, f"{label} / {rule.violation.prop}") == z3.sat:
                proof.failures.append((rule, rule.violation.prop))
        else:
            assert rule.update is not None and rule.dst is not None
            # the target's invariant with the update in place of the next state: one
            # substitution instead of an equality per field
            solver.add(z3.Not(z3.substitute(f.next(rule.dst),
                                            *zip(f.ys, rule.update, strict=True))))
            if _check(solver, proof, f"{label} / inductive") == z3.sat:
                proof.not_inductive.append(f"{label}: leaves the invariant")
        solver.pop()
    for c in inv:  # TERMINATES: inside the invariant some rule can always be taken
        if c == FINISHED:
            continue
        solver.push()
        solver.add(f.now(c), z3.Not(z3.Or(*(r.guard for r in at.get(c, [])))))
        if _check(solver, proof, f"{describe_location(system, c)} / TERMINATES") == z3.sat:
            proof.stuck.append(c)
        solver.pop()
    if proof.proved:
        _all_n(system, proof, solver, f)
    proof.seconds = time.perf_counter() - started
    return proof


def _all_n(system: System, proof: Proof, solver: z3.Solver, f: _Invariant) -> None:
    """The any-N argument (see the module docstring), one query per rule."""
    xs = system.variables
    for c, vectors in proof.invariant.items():
        for vec in vectors:
            if vec[SHREF] < 0 or vec[SHARED] != 1 + vec[SHREF]:
                proof.all_n.append(f"{describe_location(system, c)}: shared={vec[SHARED]}, "
                                   f"shared_refs={vec[SHREF]}")
                return
            if c == FINISHED and vec[SHREF] != 0:
                proof.all_n.append("a finished request still holds shared-file references")
                return
    more = z3.BitVec("shared_with_others", xs[SHARED].size())
    for rule in system.rules:
        if rule.src not in proof.invariant or rule.actor == END_ACTOR:
            continue  # the final judgement is of the total count, argued above
        label = f"{describe_location(system, rule.src)} / {rule.actor} {rule.choice!r}"
        # Beyond the checked counts, by a cutoff: every test of the count must compare
        # it (plus a constant) with a constant, so from some count on each test answers
        # the same; below SHARED_TOP z3 checks every count, above it nothing changes.
        cutoff = _cutoff(rule, xs[SHARED])
        if cutoff is None:
            proof.all_n.append(f"{label}: uses the shared count other than by comparing "
                               "it with a constant: no cutoff, not proved for all N")
            continue
        if cutoff > SHARED_TOP:
            proof.all_n.append(f"{label}: tests the shared count against {cutoff - 1}, "
                               f"beyond the {SHARED_TOP} the rules were derived for")
            continue
        # the same rule with other requests holding references: shared = own + others >= own
        moved = [(xs[SHARED], more)]
        same_guard = rule.guard == z3.substitute(rule.guard, *moved)
        solver.push()
        solver.add(f.now(rule.src), more >= xs[SHARED], more <= SHARED_TOP)
        claims = [same_guard]
        if rule.update is not None:
            u = rule.update
            claims.append(z3.substitute(u[SHARED], *moved) - more == u[SHARED] - xs[SHARED])
            claims.append(u[SHARED] - xs[SHARED] == u[SHREF] - xs[SHREF])
            # every other field moves the same: one substitution over them all at once
            rest = z3.Concat(*(t for k, t in enumerate(u) if k != SHARED))
            claims.append(z3.substitute(rest, *moved) == rest)
        solver.add(z3.Not(z3.And(*claims)))
        if _check(solver, proof, f"{label} / any N") == z3.sat:
            proof.all_n.append(f"{label}: depends on other requests' share of the file")
        solver.pop()


# the signed comparisons and (in)equality: the tests whose answer settles for large counts
_COMPARE: frozenset[int] = frozenset({z3.Z3_OP_SLEQ, z3.Z3_OP_SLT, z3.Z3_OP_SGEQ,
                                      z3.Z3_OP_SGT, z3.Z3_OP_EQ, z3.Z3_OP_DISTINCT})


def _mentions(e: z3.ExprRef, x: z3.ExprRef) -> bool:
    return any(z3.eq(v, x) for v in z3.z3util.get_vars(e))


def _offset(e: z3.ExprRef, x: z3.ExprRef) -> int | None:
    """``e`` as ``x + k``: k; None for any other shape."""
    if z3.eq(e, x):
        return 0
    if z3.is_app_of(e, z3.Z3_OP_BADD) and e.num_args() == 2:
        a, b = e.children()
        if z3.eq(a, x) and z3.is_bv_value(b):
            return int(b.as_signed_long())
        if z3.eq(b, x) and z3.is_bv_value(a):
            return int(a.as_signed_long())
    return None


def _tests(e: z3.ExprRef, x: z3.ExprRef, out: list[int]) -> bool:
    """Collect, for each test of ``x`` in ``e`` (``x + k`` compared with a constant c,
    signed), the count c - k + 1 from which its answer no longer changes. False when
    ``x`` occurs in ``e`` anywhere else."""
    if not _mentions(e, x):
        return True
    if not z3.is_app(e) or z3.eq(e, x):
        return False
    if e.decl().kind() in _COMPARE and e.num_args() == 2:
        a, b = e.children()
        if _mentions(a, x) == _mentions(b, x):
            return False
        term, const = (a, b) if _mentions(a, x) else (b, a)
        k = _offset(term, x)
        if k is None or not z3.is_bv_value(const):
            return False
        out.append(int(const.as_signed_long()) - k + 1)
        return True
    return all(_tests(c, x, out) for c in e.children())


def _moves(e: z3.ExprRef, x: z3.ExprRef, out: list[int]) -> bool:
    """The new count: ``x + k``, or a choice between such by tests (``_tests``)."""
    if _offset(e, x) is not None or not _mentions(e, x):
        return True
    if z3.is_app_of(e, z3.Z3_OP_ITE):
        c, a, b = e.children()
        return _tests(c, x, out) and _moves(a, x, out) and _moves(b, x, out)
    return False


def _cutoff(rule: Rule, x: z3.ExprRef) -> int | None:
    """The count from which the rule's every test of the shared count ``x`` gives the
    same answer (so the rule behaves the same for every larger count), or None when the
    rule uses the count in another way."""
    out: list[int] = []
    ok = _tests(rule.guard, x, out)
    if rule.update is not None:
        ok = ok and _moves(rule.update[SHARED], x, out) and all(
            _tests(u, x, out) for k, u in enumerate(rule.update) if k != SHARED)
    return max(out, default=0) if ok else None


def describe_location(system: System, c: Control) -> str:
    """A control location in words: where each actor is."""
    if c == FINISHED:
        return "request finished"
    names = BackingAio(system.variant).compiled.proc_names
    loc = Location(*c)

    def frames(stack: tuple[tuple[int, int], ...]) -> str:
        return " > ".join(f"{names[p]}:{pc}" for p, pc in stack) or "-"

    sub_text = {Submitter.RUNNING: frames(loc.submitter),
                Submitter.IN_SUBMIT: f"{frames(loc.submitter)} (inside submit)",
                Submitter.RETURNED: "returned"}[loc.submitter_state]
    parts = [f"submitter {sub_text}"]
    if loc.lower == Lower.HOLDS_CLONE:
        parts.append("lower fs holds the clone")
    if loc.completion_state != Completion.UNARMED:
        parts.append("completion " + {Completion.ARMED: "armed",
                                      Completion.RUNNING: frames(loc.completion),
                                      Completion.DONE: "done"}[loc.completion_state])
    if loc.worker_state != Worker.IDLE:
        parts.append("worker " + {Worker.PENDING: "pending", Worker.RUNNING: frames(loc.worker),
                                  Worker.DONE: "done"}[loc.worker_state])
    return "; ".join(parts)


def _put_sites(proof: Proof, system: System) -> dict[int, str]:
    """The rules (by index) that drop a live wrapper's reference, found on the invariant's
    own states, each named by the procedure that calls the put (its site)."""
    xs = system.variables
    ref, wrapper = DATA_NAMES.index("ref"), DATA_NAMES.index("wrapper")
    names = BackingAio(system.variant).compiled.proc_names
    sites: dict[int, str] = {}
    for k, rule in enumerate(system.rules):
        if rule.update is None or rule.actor not in STACKS:
            continue
        for vec in proof.invariant.get(rule.src, ()):
            if vec[wrapper] != Wrapper.LIVE:
                continue
            subst = [(x, z3.BitVecVal(v, x.size())) for x, v in zip(xs, vec, strict=True)]
            if not z3.is_true(z3.simplify(z3.substitute(rule.guard, *subst))):
                continue
            after = z3.simplify(z3.substitute(rule.update[ref], *subst))
            if int(after.as_signed_long()) < vec[ref]:
                stack = getattr(Location(*rule.src), rule.actor)
                frame = stack[-2] if len(stack) >= 2 else stack[-1]
                sites[k] = names[frame[0]]
                break
    return sites


def relational_invariant(proof: Proof, system: System, rlimit: int = RLIMIT
                         ) -> str | None:
    """The reference count as a sum over put sites: ``ref = [put in P still to come] +
    ...`` wherever the wrapper is live and its count held (before ``refcount_set`` and
    after the last put the count is 0), when that formula is exact. The sites still to come
    at a location are those on some path of the control graph from it; z3 then checks, one
    query per location (each within ``rlimit``), that the invariant implies the formula.
    None when it does not hold, or z3 cannot tell (or the variant has no reference
    count)."""
    ref, wrapper = DATA_NAMES.index("ref"), DATA_NAMES.index("wrapper")
    sites = _put_sites(proof, system)
    if not sites:
        return None
    try:
        topological(system)
    except CyclicControl:
        return None  # "still to come" is a walk forward: defined on acyclic control only
    out: dict[Control, list[tuple[int, Control | None]]] = {}
    for k, rule in enumerate(system.rules):
        out.setdefault(rule.src, []).append((k, rule.dst))
    pending: dict[Control, frozenset[str]] = {}

    def to_come(c: Control) -> frozenset[str]:
        # the control graph is acyclic (a run never returns to a location): plain recursion
        if c not in pending:
            got: set[str] = set()
            for k, dst in out.get(c, []):
                if k in sites:
                    got.add(sites[k])
                if dst is not None:
                    got |= to_come(dst)
            pending[c] = frozenset(got)
        return pending[c]

    f = _Invariant(system, proof.invariant)
    solver = limit(z3.Solver(), rlimit)
    xs = system.variables
    checked = 0
    for c, vectors in proof.invariant.items():
        if not any(v[wrapper] == Wrapper.LIVE and v[ref] > 0 for v in vectors):
            continue
        solver.push()
        solver.add(f.now(c), xs[wrapper] == int(Wrapper.LIVE), xs[ref] > 0,
                   xs[ref] != len(to_come(c)))
        proof.queries += 1
        answer = solver.check()
        solver.pop()
        if answer != z3.unsat:
            return None
        checked += 1
    terms = " + ".join(f"[put in {s} still to come]" for s in sorted(set(sites.values())))
    return (f"wrapper live and ref > 0 => ref = {terms}  (z3 checked it at {checked} "
            "locations; a put is still to come when a path from the location reaches it)")


def invariant_text(proof: Proof, system: System, rlimit: int = RLIMIT) -> list[str]:
    """The invariant in words: the reference count as a function of where the actors are
    (when it is one, checked by z3 within ``rlimit`` per query), and the facts that carry
    the any-N argument."""
    ref = DATA_NAMES.index("ref")
    wrapper = DATA_NAMES.index("wrapper")
    by_ref: dict[str, list[str]] = {}
    counted = any(v[ref] > 0 for vectors in proof.invariant.values() for v in vectors)
    for c in system.controls:
        vectors = proof.invariant.get(c)
        if not vectors:
            continue
        live = {v[ref] for v in vectors if v[wrapper] == Wrapper.LIVE}
        states = {v[wrapper] for v in vectors}
        if live and not counted:
            key = "wrapper live (this version has no reference count)"
        elif live:
            key = f"wrapper live, ref = {' or '.join(map(str, sorted(live)))}"
        else:
            key = " or ".join({Wrapper.NONE: "no wrapper", Wrapper.FREED: "wrapper freed"}[
                Wrapper(w)] for w in sorted(states))
        by_ref.setdefault(key, []).append(describe_location(system, c))
    lines = []
    relation = relational_invariant(proof, system, rlimit)
    if relation is not None:
        lines.append(relation)
    for key in sorted(by_ref):
        places = by_ref[key]
        shown = "; ".join(places[:3]) + (f"; and {len(places) - 3} more" if len(places) > 3
                                         else "")
        lines.append(f"{key} at {len(places)} location(s): {shown}")
    lines.append("everywhere: shared == 1 + shared_refs, shared_refs >= 0; finished: "
                 "shared_refs == 0")
    return lines
