"""A variant's transition system for z3, obtained by running the model's own step function
on symbolic data: no second copy of the semantics.

One request's state splits into *control* (where each actor is: procedures and statement
indexes, and the submitter/lower/completion/worker status) and *data* (wrapper state,
reference count, fields, counters, the values in frames, the shared file's count). The
step function of ``backing_aio.model.semantics`` runs with the data fields bound to z3 bit-vector
terms. Whenever it branches on data, the run forks (both sides, when the path condition
allows them) and whenever it needs a concrete number (an index) the value is enumerated
under the path condition. Each completed run is a *rule*:

    at control L, for actor A and environment choice C, if guard(data):
        go to control L' with data' = update(data)        (or: break property P)

The rules are defined for every data value, reachable or not, so a proof over them must
find an invariant that excludes unreachable bad states: that is what the solver proves.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, NamedTuple

import z3

from backing_aio.model import semantics as ba
from backing_aio.model.lang import QueueWork, SetKiComplete, Variant
from backing_aio.model.properties import Violation
from backing_aio.model.semantics import BackingAio
from backing_aio.model.state import (
    DONE,
    FIELD_NAMES,
    Completion,
    Lower,
    Req,
    ReqKind,
    Submitter,
    Worker,
    request_done,
)
from backing_aio.verify.graph import NodeLimit, Order, walk

WIDTH = 11  # bits per data field: counts, enums and bit sets up to 1023 (Req.env: two bits for
# each of five environment conditions); signed, so -1 fits
# The largest shared-file count the rules are derived for (other requests' references
# included); backing_aio.verify.prove's any-N argument extends them beyond it by a cutoff.
SHARED_TOP = 12

# z3 reads its limits as unsigned 32-bit numbers: a larger value would wrap round to a
# small limit, or to none at all (0), without a word
LIMIT_TOP = 2**32 - 1
# z3's resource limit per query, the default of every engine (deriving the rules, the
# proof, bounded model checking). It counts z3's own steps ("rlimit count" in a solver's
# statistics), so whether a query decides does not depend on the machine's speed or load
# as a time limit would. The most any query has needed is 557 million: bounded model
# checking of seed's writes over the rules for every data value (prove --generic --bmc).
# The gate's need at most 57 million, the mutants' 120 million (searched without the
# proved invariant), one question of the derivation or of the proof some thousands. The
# limit is the most z3 takes: 7.7 times the largest need, 75 times the gate's.
RLIMIT = LIMIT_TOP

# Request fields that are control (kept concrete), the actors' stacks (their procedures and
# statement indexes are control, the values in their frames data), and everything else:
# data, in the request's field order.
CONTROL_FIELDS = ("kind", "submitter_state", "lower", "completion_state", "worker_state")
STACKS = ("submitter", "completion", "worker")
MAX_DEPTH = 4  # frames per actor (entry, helper, cleanup, put)

DATA_FIELDS: tuple[str, ...] = tuple(
    name for name in FIELD_NAMES if name not in CONTROL_FIELDS and name not in STACKS)
FRAME_SLOTS: tuple[str, ...] = tuple(
    f"{actor}{d}.{part}" for actor in STACKS for d in range(MAX_DEPTH)
    for part in ("v", "orig")
)
DATA_NAMES: tuple[str, ...] = ("shared", *DATA_FIELDS, *FRAME_SLOTS)
_control_of = attrgetter(*CONTROL_FIELDS)
_stacks_of = attrgetter(*STACKS)
_data_of = attrgetter(*DATA_FIELDS)

Control = tuple[Any, ...]  # a Location, or FINISHED
FINISHED: Control = ("DONE",)  # the request has finished (the model's DONE)


class Location(NamedTuple):
    """The control part of a live request: its control fields (CONTROL_FIELDS), then per
    stack (STACKS) the frames' (procedure, statement) pairs."""

    kind: ReqKind
    submitter_state: Submitter
    lower: Lower
    completion_state: Completion
    worker_state: Worker
    submitter: tuple[tuple[int, int], ...]
    completion: tuple[tuple[int, int], ...]
    worker: tuple[tuple[int, int], ...]


END_ACTOR = "end"  # the pseudo-actor of the final judgement (the shared file's count)

class Infeasible(Exception):
    """The path condition became unsatisfiable (cannot happen with checked forks)."""

class _Paths:
    """Runs a function again and again, once per feasible sequence of decisions."""

    def __init__(self, solver: z3.Solver, unknown: list[str]) -> None:
        # the solver holds the data domain at its base level; each decision of the current
        # run is one more level, so a feasibility question costs one check, no re-assertion
        self.solver = solver
        # where z3 could not tell whether a path is feasible: the path is kept (a rule too
        # many is harmless), and whoever uses the rules reports the derivation undecided
        self.unknown = unknown
        self.prefix: list[int] = []
        self.taken: list[int] = []
        self.cond: list[z3.BoolRef] = []
        self.pending: list[list[int]] = []

    def _feasible(self, extra: z3.BoolRef) -> bool:
        answer = self.solver.check(extra)
        if answer == z3.unknown:
            self.unknown.append(f"deriving the rules: z3 answered unknown on {extra} "
                                f"({self.solver.reason_unknown()})")
        return bool(answer != z3.unsat)

    def _assume(self, b: z3.BoolRef) -> None:
        self.cond.append(b)
        self.solver.push()
        self.solver.add(b)

    def _next(self, options: int, feasible: Callable[[int], bool]) -> int:
        pos = len(self.taken)
        if pos < len(self.prefix):
            d = self.prefix[pos]
        else:
            alive = [i for i in range(options) if feasible(i)]
            if not alive:
                raise Infeasible
            d = alive[0]
            for other in alive[1:]:
                self.pending.append([*self.taken, other])
        self.taken.append(d)
        return d

    def _replaying(self) -> bool:
        return len(self.taken) < len(self.prefix)

    def decide(self, b: z3.BoolRef) -> bool:
        """Decision 0 takes ``b``, 1 takes its negation. The path condition is satisfiable,
        so when one side is infeasible the other needs no check."""
        b = z3.simplify(b)
        if z3.is_true(b):
            return True
        if z3.is_false(b):
            return False
        if self._replaying():
            d = self.prefix[len(self.taken)]
        elif not self._feasible(b):
            d = 1
        else:
            d = 0
            if self._feasible(z3.Not(b)):
                self.pending.append([*self.taken, 1])
        self.taken.append(d)
        self._assume(b if d == 0 else z3.Not(b))
        return d == 0

    def value(self, t: z3.BitVecRef) -> int:
        """A concrete value of ``t`` under the path condition (forks over all of them). The
        decision is the value itself, and the feasible values are found by asking the
        solver for one more until there is none; the run continues with the smallest, so
        replaying a decision prefix meets the same questions in the same order."""
        t = z3.simplify(t)
        if z3.is_bv_value(t):
            return int(t.as_signed_long())
        if self._replaying():
            v = self.prefix[len(self.taken)]
        else:
            found: list[int] = []
            self.solver.push()
            while (answer := self.solver.check()) == z3.sat:
                k = int(self.solver.model().eval(t, model_completion=True).as_signed_long())
                found.append(k)
                self.solver.add(t != k)
            if answer == z3.unknown:  # values may be missing: the rules are incomplete
                self.unknown.append(f"deriving the rules: z3 answered unknown listing the "
                                    f"values of {t} ({self.solver.reason_unknown()})")
            self.solver.pop()
            if not found:
                raise Infeasible
            found.sort()
            v = found[0]
            for other in found[1:]:
                self.pending.append([*self.taken, other])
        self.taken.append(v)
        self._assume(t == v)
        return v

    def run(self, fn: Callable[[], Any]) -> Iterator[tuple[list[z3.BoolRef], list[int], Any]]:
        self.pending = [[]]
        while self.pending:
            self.prefix = self.pending.pop()
            self.taken = []
            if self.cond:
                self.solver.pop(len(self.cond))
            self.cond = []
            try:
                result: Any = fn()
            except Violation as v:
                result = v
            except Infeasible:
                continue
            yield list(self.cond), list(self.taken), result
        if self.cond:
            self.solver.pop(len(self.cond))
            self.cond = []

class Sym:
    """An integer-like z3 term: arithmetic builds terms, branching forks the run."""

    __slots__ = ("paths", "t")

    def __init__(self, t: z3.BitVecRef, paths: _Paths) -> None:
        self.t = t
        self.paths = paths

    def _o(self, other: Any) -> z3.BitVecRef:
        if isinstance(other, Sym):
            return other.t
        return z3.BitVecVal(int(other), WIDTH)

    def _w(self, t: z3.BitVecRef) -> Sym:
        return Sym(z3.simplify(t), self.paths)

    def __add__(self, o: Any) -> Sym:
        return self._w(self.t + self._o(o))

    __radd__ = __add__

    def __sub__(self, o: Any) -> Sym:
        return self._w(self.t - self._o(o))

    def __rsub__(self, o: Any) -> Sym:
        return self._w(self._o(o) - self.t)

    def __and__(self, o: Any) -> Sym:
        return self._w(self.t & self._o(o))

    __rand__ = __and__

    def __or__(self, o: Any) -> Sym:
        return self._w(self.t | self._o(o))

    __ror__ = __or__

    def __xor__(self, o: Any) -> Sym:
        return self._w(self.t ^ self._o(o))

    __rxor__ = __xor__

    def __invert__(self) -> Sym:
        return self._w(~self.t)

    def __lshift__(self, o: Any) -> Sym:
        return self._w(self.t << self._o(o))

    def __rshift__(self, o: Any) -> Sym:
        return self._w(z3.LShR(self.t, self._o(o)))

    def __eq__(self, o: object) -> bool:
        return self.paths.decide(self.t == self._o(o))

    def __ne__(self, o: object) -> bool:
        return self.paths.decide(self.t != self._o(o))

    def __lt__(self, o: Any) -> bool:
        return self.paths.decide(self.t < self._o(o))

    def __le__(self, o: Any) -> bool:
        return self.paths.decide(self.t <= self._o(o))

    def __gt__(self, o: Any) -> bool:
        return self.paths.decide(self.t > self._o(o))

    def __ge__(self, o: Any) -> bool:
        return self.paths.decide(self.t >= self._o(o))

    def __bool__(self) -> bool:
        return self.paths.decide(self.t != 0)

    def __index__(self) -> int:
        return self.paths.value(self.t)

    __int__ = __index__

    def __hash__(self) -> int:
        return hash(self.__index__())

    def __format__(self, spec: str) -> str:
        return "?"  # messages need no concrete value: do not fork for them

    def __repr__(self) -> str:
        return f"Sym({self.t})"

# ---- splitting a request into control and data -------------------------------------------

def split(shared: Any, r: Req) -> tuple[Control, list[Any]]:
    """Control part (concrete) and data vector (in ``DATA_NAMES`` order) of a request."""
    if r == DONE:
        return FINISHED, [shared, *([0] * (len(DATA_NAMES) - 1))]
    control: list[Any] = list(_control_of(r))
    slots: list[Any] = []
    for stack in _stacks_of(r):
        control.append(tuple((p, pc) for p, pc, _v, _o in stack))
        for d in range(MAX_DEPTH):
            if d < len(stack):
                slots.extend([stack[d][2], stack[d][3]])
            else:
                slots.extend([0, 0])
        if len(stack) > MAX_DEPTH:  # pragma: no cover - deeper than any variant nests
            raise ValueError(f"call stack deeper than MAX_DEPTH: {stack!r}")
    data = [shared, *_data_of(r), *slots]
    return tuple(control), data

def join(control: Control, data: list[Any]) -> tuple[Any, Req]:
    """Inverse of ``split``: the shared count and the request tuple."""
    if control == FINISHED:
        return data[0], DONE
    fields: dict[str, Any] = dict(zip(CONTROL_FIELDS, control[:len(CONTROL_FIELDS)], strict=True))
    fields.update(zip(DATA_FIELDS, data[1:1 + len(DATA_FIELDS)], strict=True))
    slots = data[1 + len(DATA_FIELDS):]
    for s, name in enumerate(STACKS):
        frames = control[len(CONTROL_FIELDS) + s]
        base = s * MAX_DEPTH * 2
        fields[name] = tuple((p, pc, slots[base + 2 * d], slots[base + 2 * d + 1])
                             for d, (p, pc) in enumerate(frames))
    return data[0], Req(**fields)

# ---- rules ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    """One path of one step: at ``src``, actor and choice, if ``guard``, go to ``dst`` with
    ``update`` (terms over the data variables) or break ``violation``."""

    src: Control
    actor: str
    choice: str
    guard: z3.BoolRef
    dst: Control | None
    update: tuple[z3.BitVecRef, ...] | None
    violation: Violation | None = None

@dataclass
class System:
    variant: Variant
    rtype: str
    variables: tuple[z3.BitVecRef, ...]
    init_control: Control
    init_data: tuple[int, ...]
    rules: list[Rule] = field(default_factory=list)
    controls: list[Control] = field(default_factory=list)
    # z3 could not decide a question while deriving the rules: they may be incomplete,
    # so nothing proved on them counts (verify.prove and verify.bmc report these)
    unknown: list[str] = field(default_factory=list)

    def control_id(self, c: Control) -> int:
        return self.controls.index(c)

def _ranges(model: BackingAio) -> dict[str, tuple[int, ...]]:
    """The meaningful values of each data field. Rules are derived inside these sets; a
    rule whose update leaves them is reported (see ``domain_escapes``)."""
    c = model.compiled

    def named_by(cls: type[SetKiComplete | QueueWork]) -> tuple[int, ...]:
        return (-1, *sorted({c.proc_index[s.proc] for b in c.bodies for s in b
                             if isinstance(s, cls)}))

    def span(lo: int, hi: int) -> tuple[int, ...]:
        return tuple(range(lo, hi + 1))

    out = {name: span(0, 7) for name in DATA_NAMES}  # counters, values, small numbers
    out.update({
        "shared": span(-2, SHARED_TOP), "env": span(0, 1023), "returned": span(0, 6),
        "wrapper": span(0, 2), "ref": span(0, 8), "fields": span(0, 255),
        "ki_complete": named_by(SetKiComplete), "work_proc": named_by(QueueWork),
        "aio_res": span(0, 6), "aio_fd": span(0, 5), "clone_file": span(0, 2),
        "real_fd": span(0, 5), "tmp_file": span(-1, 8), "pos": span(0, 7),
        "outcome": span(0, 15), "expected": span(0, 6), "lower_result": span(0, 6),
        "shared_refs": span(-4, 8), "freeze_holder": span(0, 4),
    })
    for slot in FRAME_SLOTS:
        out[slot] = span(0, 6) if slot.endswith(".v") else span(0, 1)
    return out

def in_domain(x: z3.BitVecRef, values: tuple[int, ...]) -> z3.BoolRef:
    lo, hi = values[0], values[-1]
    if values == tuple(range(lo, hi + 1)):
        return z3.And(x >= lo, x <= hi)
    return z3.Or(*(x == k for k in values))

def _domain(xs: tuple[z3.BitVecRef, ...], ranges: dict[str, tuple[int, ...]]
            ) -> list[z3.BoolRef]:
    return [in_domain(x, ranges[n]) for x, n in zip(xs, DATA_NAMES, strict=True)]

Candidate = dict[Control, set[tuple[int, ...]]]  # data vectors per control location


def limit(solver: z3.Solver, rlimit: int = RLIMIT, timeout_ms: int | None = None
          ) -> z3.Solver:
    """Bound every ``check`` of ``solver`` by ``rlimit`` units of z3's work, and by
    ``timeout_ms`` of wall-clock time only when that is given. Both are per query: z3
    counts each ``check`` from where the solver stands when it starts, however many came
    before (an incremental solver's push and pop included). A query that runs out answers
    unknown, which every engine reports as undecided, never as a verdict."""
    if not 1 <= rlimit <= LIMIT_TOP:
        raise ValueError(f"z3's resource limit must be between 1 and {LIMIT_TOP}, "
                         f"got {rlimit}")
    solver.set("rlimit", rlimit)
    if timeout_ms is not None:
        if not 1 <= timeout_ms <= LIMIT_TOP:
            raise ValueError(f"z3's time limit must be between 1 and {LIMIT_TOP} ms, "
                             f"got {timeout_ms}")
        solver.set("timeout", timeout_ms)
    return solver


def build(variant: Variant, rtype: str, within: Candidate | None = None, *,
          rlimit: int = RLIMIT, timeout_ms: int | None = None) -> System:
    """The rules of one request of type ``rtype``, by symbolic runs of the step function
    from every control location reachable from the start. Each feasibility question is a
    z3 query within ``rlimit`` (and ``timeout_ms``: see ``limit``); one that runs out
    leaves ``System.unknown`` non-empty, and nothing proved on the rules counts.

    With ``within`` (a candidate invariant: data vectors per location), each location's
    rules are derived only for the data the candidate allows there: fields it fixes stay
    concrete, the others range over exactly its vectors. Those rules are the semantics on
    the candidate, which is all an inductiveness check needs (a step leaving the candidate
    is still a rule, with a target outside it), and they are far fewer."""
    model = BackingAio(variant)
    xs = tuple(z3.BitVec(n, WIDTH) for n in DATA_NAMES)
    init_c, init_d = split(1, model.new_request(rtype))
    system = System(variant, rtype, xs, init_c, tuple(int(x) for x in init_d))
    solver = limit(z3.Solver(), rlimit, timeout_ms)
    solver.add(*_domain(xs, _ranges(model)))

    def successors(_: int, c: Control) -> Iterator[tuple[Rule, Control]]:
        if c == FINISHED:
            return
        if within is not None:
            if c not in within:
                return  # outside the candidate: the check reports the rule leading here
            rules = _rules_within(model, c, xs, solver, within[c], system.unknown)
        else:
            rules = _rules_at(model, c, xs, solver, system.unknown)
        for rule in rules:
            system.rules.append(rule)
            if rule.dst is not None:
                yield rule, rule.dst

    # depth first: the order locations are met in names z3's variables (bmc) and orders
    # the proof's text
    graph = walk([init_c], successors, order=Order.DEPTH)
    system.controls.extend(graph.nodes)
    if FINISHED in graph.index:
        system.rules.extend(_final_rules(model, xs, solver, system.unknown))
    return system


def _final_rules(model: BackingAio, xs: tuple[z3.BitVecRef, ...], solver: z3.Solver,
                 unknown: list[str]) -> Iterator[Rule]:
    """When the request has finished, the run ends and the model judges the shared file's
    count (``final_violations``): one violation rule per property it can break."""
    paths = _Paths(solver, unknown)

    def judge() -> list[Violation]:
        return model.final_violations((Sym(xs[0], paths), DONE))

    for cond, _taken, found in paths.run(judge):
        guard = z3.simplify(z3.And(*cond)) if cond else z3.BoolVal(True)
        for v in found:
            yield Rule(FINISHED, END_ACTOR, "", guard, None, None, v)

def _rules_within(model: BackingAio, c: Control, xs: tuple[z3.BitVecRef, ...],
                  solver: z3.Solver, vectors: set[tuple[int, ...]], unknown: list[str]
                  ) -> Iterator[Rule]:
    # the shared file's count stays symbolic over its whole range: the any-N argument
    # asks how a rule behaves when other requests hold more references
    fixed = {j: vec[j] for vec in vectors for j in range(1, len(xs))
             if len({v[j] for v in vectors}) == 1}
    solver.push()
    solver.add(*(x == v for j, x in enumerate(xs) for v in [fixed.get(j)] if v is not None))
    solver.add(z3.Or(*(z3.And(*(xs[j] == v for j, v in enumerate(vec) if j not in fixed
                               and j != 0))
                       for vec in sorted(vectors))))
    try:
        yield from _rules_at(model, c, xs, solver, unknown, fixed)
    finally:
        solver.pop()


def _rules_at(model: BackingAio, c: Control, xs: tuple[z3.BitVecRef, ...],
              solver: z3.Solver, unknown: list[str], fixed: dict[int, int] | None = None
              ) -> Iterator[Rule]:
    """The rules at ``c``; the data fields in ``fixed`` are known and run concretely."""
    paths = _Paths(solver, unknown)
    fixed = fixed or {}

    def fresh() -> list[Any]:
        return [fixed[j] if j in fixed else Sym(x, paths) for j, x in enumerate(xs)]

    _, r0 = join(c, fresh())
    actors = model.enabled_actors(r0)  # depends on control only
    for actor in actors:
        choice_box: list[str] = []

        def one_step(actor: str = actor, box: list[str] = choice_box) -> Any:
            shared, r = join(c, fresh())
            options = model.choices(r, actor)
            pick = paths._next(len(options), lambda _i: True)
            box[:] = [options[pick]]
            shared, nr = model.step(shared, r, actor, options[pick])
            if request_done(nr):
                ends = model.request_end_violations(nr)
                if ends:
                    return ends  # every property the end breaks: one rule each
                nr = DONE
            dst, data = split(shared, nr)
            # control must be concrete: any symbolic leftover (a procedure index read from
            # a field) forks here, inside the run
            return _concrete(dst), data

        for cond, _taken, result in paths.run(one_step):
            guard = z3.simplify(z3.And(*cond)) if cond else z3.BoolVal(True)
            choice = choice_box[0] if choice_box else ""
            if isinstance(result, Violation):
                yield Rule(c, actor, choice, guard, None, None, result)
                continue
            if isinstance(result, list):
                for v in result:
                    yield Rule(c, actor, choice, guard, None, None, v)
                continue
            dst, data = result
            yield Rule(c, actor, choice, guard, dst, tuple(_term(d) for d in data))

def _concrete(c: Any) -> Any:
    if isinstance(c, tuple):
        return tuple(_concrete(x) for x in c)
    if isinstance(c, Sym):
        return int(c)
    return c

def _term(x: Any) -> z3.BitVecRef:
    if isinstance(x, Sym):
        return x.t
    return z3.BitVecVal(int(x), WIDTH)

def agrees_with_model(system: System, limit: int | None = None) -> list[str]:
    """Cross-check: from every reachable concrete state of one request, each step of the
    model is matched by exactly one rule whose guard holds, with the same result. Returns
    the disagreements (empty when the rules are the model's semantics). With ``limit``,
    the check stops when it finds more than ``limit`` states."""
    model = BackingAio(system.variant)
    xs = system.variables
    by_src: dict[tuple[Control, str, str], list[Rule]] = {}
    for rule in system.rules:
        by_src.setdefault((rule.src, rule.actor, rule.choice), []).append(rule)
    problems: list[str] = []

    def successors(_: int, state: ba.State) -> Iterator[tuple[ba.Action, ba.State]]:
        r = state[1]
        c, data = split(state[0], r)
        subst = [(x, z3.BitVecVal(int(d), WIDTH)) for x, d in zip(xs, data, strict=True)]

        def holding(key: tuple[Control, str, str]) -> list[Rule]:
            return [rule for rule in by_src.get(key, [])
                    if z3.is_true(z3.simplify(z3.substitute(rule.guard, *subst)))]

        if r == DONE:
            if (_props(holding((FINISHED, END_ACTOR, "")))
                    != {v.prop for v in model.final_violations(state)}):
                problems.append(f"finished with shared={state[0]}: the final rules disagree")
            return
        for actor in model.enabled_actors(r):
            for choice in model.choices(r, actor):
                action = ba.Action(0, actor, choice)
                got = model.apply(state, action)
                rule, problem = _match(got, holding((c, actor, choice)), subst)
                if problem is not None:
                    problems.append(f"{c!r} {actor} {choice!r}: {problem}")
                if rule is not None and not isinstance(got, list):
                    yield action, got

    with contextlib.suppress(NodeLimit):  # as many states were checked as asked
        walk([(1, model.new_request(system.rtype))], successors, max_nodes=limit)
    return problems


def _props(rules: list[Rule]) -> set[str]:
    return {rule.violation.prop for rule in rules if rule.violation is not None}


def _match(got: ba.State | list[Violation], matches: list[Rule],
           subst: list[tuple[z3.BitVecRef, z3.BitVecRef]]
           ) -> tuple[Rule | None, str | None]:
    """The one rule that takes the model's step (None if not exactly one does, or the
    step breaks a property), and what disagrees between the two (None when nothing)."""
    if isinstance(got, list):
        if _props(matches) != {v.prop for v in got} or any(
                rule.violation is None for rule in matches):
            return None, (f"the model breaks {sorted({v.prop for v in got})}, the rules "
                          f"{sorted(_props(matches))}")
        return None, None
    if len(matches) != 1:
        return None, f"{len(matches)} rules apply"
    rule = matches[0]
    if rule.violation is not None:
        return None, f"the rule breaks {rule.violation.prop}, the model does not"
    assert rule.update is not None
    values = tuple(int(z3.simplify(z3.substitute(u, *subst)).as_signed_long())
                   for u in rule.update)
    nc, ndata = split(got[0], got[1])
    if rule.dst != nc or values != tuple(int(d) for d in ndata):
        return rule, "the rule's next state differs from the model's"
    return rule, None


class CyclicControl(ValueError):
    """The control graph has a cycle: a run may return to a location."""


def topological(system: System) -> list[Control]:
    """The control locations in an order where every rule goes forward; raises
    ``CyclicControl`` when the control graph has a cycle. Acyclic control is what makes
    the location a ranking function (every step moves forward: every run is finite) and
    the longest path a bound on every run."""
    out: dict[Control, list[Rule]] = {c: [] for c in system.controls}
    indegree = {c: 0 for c in system.controls}
    for rule in system.rules:
        out[rule.src].append(rule)
        if rule.dst is not None:
            indegree[rule.dst] += 1
    ready = [c for c in system.controls if indegree[c] == 0]
    order: list[Control] = []
    while ready:
        c = ready.pop()
        order.append(c)
        for rule in out[c]:
            if rule.dst is not None:
                indegree[rule.dst] -= 1
                if indegree[rule.dst] == 0:
                    ready.append(rule.dst)
    if len(order) != len(system.controls):
        raise CyclicControl("the control graph has a cycle")
    return order
