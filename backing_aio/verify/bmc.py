"""Bounded model checking of one request with z3, over the symbolic rules of
``backing_aio.verify.symbolic`` (the model's own step function run on symbolic data), and the replay
of every counterexample in the model before it is reported.

Control is concrete and the control graph is acyclic (every step moves some actor forward),
so a run visits each control location at most once. The encoding gives each location its
own copy of the data, like a loop-free program in SSA form:

    reached[L]            the run passes through L
    x[L]                  the data when it does
    taken[k]              the run leaves L by rule k:  taken[k] -> reached[L] and guard_k(x[L])
                                                        and x[L'] == update_k(x[L])
    reached[L'] == OR(taken[k] for the rules entering L');  at most one rule leaves L

The depth bound is the longest path of the control graph, so the encoding covers every run
of the request: "no counterexample" is a proof for one request, not a bounded one. The
shortest counterexample of a property is found by bounding the number of taken rules
(binary search); it is then turned into the model's actions and replayed with
``BackingAio.apply``, and the data z3 chose at each location must equal the model's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import z3

from backing_aio.model.lang import Variant
from backing_aio.model.properties import PROPERTY_IDS
from backing_aio.model.semantics import DONE, Action, BackingAio, State
from backing_aio.verify.explorer import Counterexample
from backing_aio.verify.prove import holds
from backing_aio.verify.symbolic import (
    END_ACTOR,
    FINISHED,
    RLIMIT,
    WIDTH,
    Candidate,
    Control,
    CyclicControl,
    Rule,
    System,
    build,
    limit,
    split,
    topological,
)
from backing_aio.verify.trace import ReplayError, Trace, check_replay, concretise

STUCK = "TERMINATES"
DIST_WIDTH = 10  # unsigned step counts: far above the longest path of any variant


@dataclass(frozen=True)
class Finding:
    """A shortest counterexample found by z3 and confirmed by the model."""

    prop: str
    subject: str
    actions: tuple[Action, ...]  # request 0, one request of the system's type
    at_end: bool  # judged when the run ended (final count, or stuck) rather than by a step
    message: str

    @property
    def length(self) -> int:
        return len(self.actions)

    def trace(self, variant: Variant, rtype: str, source: str = "") -> Trace:
        """As the explorer's counterexample: a trace ``backing-aio replay`` accepts
        (``source``: the user's file the variant came from)."""
        model = BackingAio(variant)
        (initial,) = model.initial_states(1, [rtype])
        cx = Counterexample(self.prop, self.subject, self.message, variant.name, 1, initial,
                            self.actions, self.at_end)
        return concretise(variant, cx, source)


@dataclass
class BmcResult:
    variant: str
    rtype: str
    bound: int  # the longest path of the control graph: every run is covered
    findings: dict[str, Finding] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    replay_errors: list[str] = field(default_factory=list)
    queries: int = 0
    seconds: float = 0.0
    encode_seconds: float = 0.0
    lemmas: bool = False  # strengthened with a proved invariant

    @property
    def failed(self) -> frozenset[str]:
        return frozenset(self.findings)

    @property
    def decided(self) -> bool:
        return not (self.unknown or self.replay_errors)


class _Encoding:
    def __init__(self, system: System) -> None:
        self.system = system
        self.ids = {c: i for i, c in enumerate(system.controls)}
        self.out: dict[Control, list[Rule]] = {c: [] for c in system.controls}
        for rule in system.rules:
            self.out[rule.src].append(rule)
        self.order = topological(system)
        xs = system.variables
        self.var_index = {x.get_id(): j for j, x in enumerate(xs)}
        sort = z3.BitVecSort(WIDTH)  # made once: BitVec() would make it per variable
        self.x = {c: tuple(z3.Const(f"{x}@{self.ids[c]}", sort) for x in xs)
                  for c in system.controls}
        self.reached = {c: z3.Bool(f"reached@{self.ids[c]}") for c in system.controls}
        # steps taken before the location: the length of a counterexample
        self.dist = {c: z3.BitVec(f"steps@{self.ids[c]}", DIST_WIDTH) for c in system.controls}
        self.moves: list[tuple[Rule, z3.BoolRef]] = []  # rules that move, with taken[k]
        self.bad: dict[str, list[tuple[z3.BoolRef, int, Rule | None, Control]]] = {}
        self.constraints: list[z3.BoolRef] = []
        self._encode()

    def _at(self, term: z3.ExprRef, c: Control) -> z3.ExprRef:
        """``term`` over location ``c``'s copy of the data. Most update terms are a
        constant or a variable left as it was: those need no substitution."""
        if z3.is_bv_value(term) or z3.is_true(term) or z3.is_false(term):
            return term
        j = self.var_index.get(term.get_id())
        if j is not None:
            return self.x[c][j]
        return z3.substitute(term, *zip(self.system.variables, self.x[c], strict=True))

    def _encode(self) -> None:
        system = self.system
        entering: dict[Control, list[z3.BoolRef]] = {c: [] for c in system.controls}
        for c in system.controls:
            leaving = []
            for k, rule in enumerate(self.out[c]):
                if rule.violation is not None:
                    # a step that breaks the property ends the run; a final judgement
                    # takes no step
                    extra = 0 if rule.actor == END_ACTOR else 1
                    self.bad.setdefault(rule.violation.prop, []).append(
                        (z3.And(self.reached[c], self._at(rule.guard, c)), extra, rule, c))
                    continue
                assert rule.dst is not None and rule.update is not None
                taken = z3.Bool(f"taken@{self.ids[c]}.{k}")
                ys = self.x[rule.dst]
                guard = self._at(rule.guard, c)
                moved = [y == self._at(u, c) for y, u in zip(ys, rule.update, strict=True)]
                self.constraints.append(z3.Implies(taken, z3.And(
                    self.reached[c], guard, self.dist[rule.dst] == self.dist[c] + 1, *moved)))
                leaving.append(taken)
                entering[rule.dst].append(taken)
                self.moves.append((rule, taken))
            if len(leaving) > 1:
                self.constraints.append(z3.AtMost(*leaving, 1))
            if c != FINISHED:
                # no rule at all can be taken here: the run is stuck before its end
                enabled = [self._at(r.guard, c) for r in self.out[c]]
                self.bad.setdefault(STUCK, []).append(
                    (z3.And(self.reached[c], z3.Not(z3.Or(*enabled)) if enabled
                            else self.reached[c]), 0, None, c))
        init = system.init_control
        for c in system.controls:
            if c == init:
                self.constraints.append(self.reached[c])
                self.constraints.append(self.dist[c] == 0)
                self.constraints.extend(x == v for x, v in
                                        zip(self.x[c], system.init_data, strict=True))
            else:
                self.constraints.append(self.reached[c] == z3.Or(*entering[c])
                                        if entering[c] else z3.Not(self.reached[c]))

    def bad_within(self, prop: str, length: int | None) -> z3.BoolRef:
        """Some rule breaks ``prop`` after at most ``length`` steps (any number: None)."""
        options = []
        for cond, extra, _rule, c in self.bad.get(prop, []):
            if length is None:
                options.append(cond)
            elif length - extra >= 0:
                options.append(z3.And(cond, z3.ULE(self.dist[c], length - extra)))
        return z3.Or(*options) if options else z3.BoolVal(False)


def longest_path(system: System) -> int:
    """The number of steps of the longest run (``CyclicControl`` when runs are unbounded)."""
    out: dict[Control, list[Control]] = {c: [] for c in system.controls}
    for rule in system.rules:
        if rule.dst is not None:
            out[rule.src].append(rule.dst)
    depth = {c: 0 for c in system.controls}
    for c in topological(system):
        for dst in out[c]:
            depth[dst] = max(depth[dst], depth[c] + 1)
    return max(depth.values()) + 1  # the last step may be one that breaks a property


def bmc(variant: Variant, rtype: str, system: System | None = None, *,
        rlimit: int = RLIMIT, timeout_ms: int | None = None,
        lemmas: Candidate | None = None) -> BmcResult:
    """Every property z3 can break for one request of ``rtype``, each with its shortest
    counterexample replayed in the model.

    Each query is bounded by ``rlimit`` units of z3's work and, only when it is given, by
    ``timeout_ms`` of wall-clock time (``backing_aio.verify.symbolic.limit``); an answer of unknown
    goes to ``BmcResult.unknown``, never to a verdict.

    ``lemmas``: an invariant already proved inductive (``backing_aio.verify.prove``), added as
    "reached[L] -> x[L] is one of the invariant's vectors at L". Every run satisfies it,
    so the answers do not change; the solver just has far less to rule out."""
    started = time.perf_counter()
    system = system or build(variant, rtype, rlimit=rlimit, timeout_ms=timeout_ms)
    try:
        bound = longest_path(system)
    except CyclicControl:
        result = BmcResult(variant.name, rtype, 0)
        result.unknown.append("the control graph has a cycle: no bound covers every run, "
                              "so a bounded search decides nothing")
        result.seconds = time.perf_counter() - started
        return result
    result = BmcResult(variant.name, rtype, bound)
    result.unknown.extend(system.unknown)
    enc = _Encoding(system)
    if lemmas is not None:
        result.lemmas = True
        enc.constraints.extend(
            z3.Implies(enc.reached[c], holds(enc.x[c], lemmas.get(c))) for c in system.controls)
    result.encode_seconds = time.perf_counter() - started
    # booleans and small bit-vectors: the finite-domain solver bit-blasts them straight
    # into its SAT core
    solver = limit(z3.SolverFor("QF_FD"), rlimit, timeout_ms)
    solver.add(*enc.constraints)
    for prop in _broken(solver, enc, result):
        length = _least_length(solver, enc, prop, result)
        if length is None:
            continue
        finding = _counterexample(enc, solver.model(), prop, length, result)
        if finding is not None:
            result.findings[prop] = finding
    result.seconds = time.perf_counter() - started
    return result


def _broken(solver: z3.Solver, enc: _Encoding, result: BmcResult) -> list[str]:
    """The properties some run within the bound breaks, in the order of PROPERTY_IDS.

    One question first for every property at once: a variant that breaks none is done
    with a single unsatisfiable query; each model found retires the properties it breaks."""
    pending = sorted(enc.bad, key=PROPERTY_IDS.index)
    broken: list[str] = []
    while pending:
        anybad = z3.Or(*(enc.bad_within(p, None) for p in pending))
        if _check(solver, result, anybad, "any property") != z3.sat:
            break
        m = solver.model()
        hit = [p for p in pending
               if z3.is_true(m.eval(enc.bad_within(p, None), model_completion=True))]
        if not hit:  # cannot happen: the model satisfies one of the disjuncts
            result.unknown.append("z3's model satisfies no property's disjunct")
            break
        broken.extend(hit)
        pending = [p for p in pending if p not in hit]
    return sorted(broken, key=PROPERTY_IDS.index)


def _least_length(solver: z3.Solver, enc: _Encoding, prop: str, result: BmcResult
                  ) -> int | None:
    """The least number of steps in which ``prop`` breaks (binary search over the bound),
    with the solver left holding a model of such a run; None when z3 answered unknown or
    the run it promised cannot be found."""
    lo, hi = 0, result.bound
    while lo < hi:
        mid = (lo + hi) // 2
        answer = _check(solver, result, enc.bad_within(prop, mid), f"{prop} <= {mid}")
        if answer == z3.unknown:
            break
        if answer == z3.sat:
            hi = mid
        else:
            lo = mid + 1
    if result.unknown:
        return None
    if _check(solver, result, enc.bad_within(prop, lo), prop) != z3.sat:
        if not result.unknown:  # the search said a run exists: it must be found
            result.replay_errors.append(f"{prop}: z3 broke it within the bound but "
                                        f"found no run of {lo} steps")
        return None
    return lo


def _check(solver: z3.Solver, result: BmcResult, bad: z3.BoolRef, label: str
           ) -> z3.CheckSatResult:
    result.queries += 1
    answer = solver.check(bad)
    if answer == z3.unknown:
        result.unknown.append(f"{label}: z3 answered unknown ({solver.reason_unknown()})")
    return answer


class _Refused(Exception):
    """z3's run is not a run of the model: the message says where they part."""


def _counterexample(enc: _Encoding, m: z3.ModelRef, prop: str, length: int,
                    result: BmcResult) -> Finding | None:
    """The run z3 found, as the model's actions, replayed in the model: each state must
    carry the data z3 chose, and the run must break ``prop`` where z3 says it does."""
    system = enc.system
    try:
        breaking, last = _breaking_rule(enc, m, prop, length)
        model = BackingAio(system.variant)
        state, actions = _replay_prefix(enc, m, model, _taken_path(enc, m, last))
        finding = _last_step(model, state, actions, breaking, prop)
    except _Refused as e:
        result.replay_errors.append(f"{prop}: {e}")
        return None
    if breaking is None:  # being stuck is no step the explorer's replay could take
        return finding
    # and through the explorer's own replay of a saved counterexample
    try:
        check_replay(system.variant, finding.trace(system.variant, system.rtype))
    except ReplayError as e:
        result.replay_errors.append(f"{prop}: the explorer's replay refuses it: {e}")
        return None
    return finding


def _breaking_rule(enc: _Encoding, m: z3.ModelRef, prop: str, length: int
                   ) -> tuple[Rule | None, Control]:
    """The rule (None: being stuck) by which z3's run breaks ``prop``, and its location."""
    for b, extra, rule, at in enc.bad[prop]:
        if length - extra >= 0 and z3.is_true(m.eval(
                z3.And(b, z3.ULE(enc.dist[at], length - extra)), model_completion=True)):
            return rule, at
    raise _Refused("z3's model satisfies no breaking rule")


def _taken_path(enc: _Encoding, m: z3.ModelRef, last: Control) -> list[Rule]:
    """The rules z3's run takes from the start up to the breaking location (z3 may let the
    run go on past it: only the prefix is the counterexample)."""
    taken = {rule.src: rule for rule, t in enc.moves if z3.is_true(m.eval(t))}
    c = enc.system.init_control
    path: list[Rule] = []
    while c != last:
        if c not in taken:
            raise _Refused("z3's run does not reach the breaking rule")
        path.append(taken[c])
        target = taken[c].dst
        assert target is not None
        c = target
    return path


def _replay_prefix(enc: _Encoding, m: z3.ModelRef, model: BackingAio, path: list[Rule]
                   ) -> tuple[State, list[Action]]:
    """The path's steps taken in the model, each state checked against z3's data."""
    state: State = (1, model.new_request(enc.system.rtype))
    actions: list[Action] = []
    here = enc.system.init_control
    for rule in path:
        if not _same_data(enc, m, here, state):
            raise _Refused(f"the model's data differs from z3's at step {len(actions)}")
        action = Action(0, rule.actor, rule.choice)
        stepped = model.apply(state, action)
        if isinstance(stepped, list):
            raise _Refused(f"the model breaks {stepped[0].prop} at step {len(actions) + 1}")
        actions.append(action)
        state = stepped
        assert rule.dst is not None
        here = rule.dst
    if not _same_data(enc, m, here, state):
        raise _Refused("the model's data differs from z3's at the end")
    return state, actions


def _last_step(model: BackingAio, state: State, actions: list[Action],
               breaking: Rule | None, prop: str) -> Finding:
    """The finding the breaking rule makes in the model: being stuck, a final-state
    property, or the step that breaks ``prop``."""
    if breaking is None:  # stuck
        if model.successors(state, "none") or model.is_final(state):
            raise _Refused("the model is not stuck where z3 says")
        return Finding(prop, "stuck", tuple(actions), True,
                       "no step can be taken and the request has not finished")
    if breaking.actor == END_ACTOR:
        found = [v for v in model.final_violations(state) if v.prop == prop]
        at_end = True
    else:
        action = Action(0, breaking.actor, breaking.choice)
        last_step = model.apply(state, action)
        found = ([v for v in last_step if v.prop == prop] if isinstance(last_step, list)
                 else [])
        actions = [*actions, action]
        at_end = False
    if not found:
        raise _Refused("the model does not break it where z3 says")
    return Finding(prop, found[0].subject, tuple(actions), at_end, found[0].message)


def _same_data(enc: _Encoding, m: z3.ModelRef, c: Control, state: State) -> bool:
    control, data = split(state[0], state[1]) if state[1] != DONE else split(state[0], DONE)
    if control != c:
        return False
    got = [int(m.eval(x, model_completion=True).as_signed_long()) for x in enc.x[c]]
    return got == [int(d) for d in data]
