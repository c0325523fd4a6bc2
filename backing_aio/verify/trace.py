"""Counterexamples as replayable step lists, and their step-by-step explanation.

The explorer records actions in canonical states, where requests are re-sorted after every
step. Here they become *concrete* steps with stable request numbers (the order of the
initial state), which is what a person reads and what a saved file holds. Replaying applies
the concrete steps to the model without re-sorting and checks that the same property fails
at the same place; a saved file that no longer replays is reported as such.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backing_aio.model.effects import EVENTS, Change, Effect, net
from backing_aio.model.lang import Variant, value_name
from backing_aio.model.properties import PROPERTY_IDS, SUBJECTS, Violation
from backing_aio.model.semantics import (
    ACTORS,
    CHOICES,
    REQUEST_TYPES,
    Action,
    BackingAio,
    env_step,
)
from backing_aio.model.state import (
    Req,
    State,
    Wrapper,
    canonical,
    canonical_perm,
    request_type,
)
from backing_aio.verify.explorer import Counterexample
from backing_aio.verify.graph import NodeLimit, Walk

FORMAT = "backing-aio-counterexample/1"


# The longest step list a saved counterexample may have: far above any shortest
# counterexample the explorer finds (tens of steps), and a bound on the work a file can ask.
MAX_STEPS = 10_000


class ReplayError(Exception):
    """A step list does not replay: the message says at which step and why (one line)."""


class TraceMismatch(ReplayError):
    """The file does not fit its variant (another variant's trace, a request, actor,
    choice or property that does not exist, no steps, steps after the violation): bad
    input, never a sign that the bug was fixed."""


class BreaksAnother(ReplayError):
    """The steps still break a property, but not the one recorded: still a finding."""

    def __init__(self, message: str, violation: Violation) -> None:
        super().__init__(message)
        self.violation = violation


@dataclass(frozen=True)
class Step:
    request: int
    actor: str
    choice: str = ""
    proc: str = ""  # the procedure the actor's step runs in ("" for the environment's)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"request": self.request, "actor": self.actor}
        if self.choice:
            out["choice"] = self.choice
        if self.proc:
            out["proc"] = self.proc
        return out


@dataclass(frozen=True)
class Trace:
    """A counterexample with stable request numbers."""

    variant: str
    prop: str
    subject: str
    message: str
    kinds: tuple[str, ...]  # kind of each request, by stable number
    steps: tuple[Step, ...]
    at_end: bool
    source: str = ""  # the user's file the variant came from ("" for the catalogue)

    def as_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "variant": self.variant,
            "source": self.source,
            "property": self.prop,
            "subject": self.subject,
            "message": self.message,
            "requests": list(self.kinds),
            "at_end": self.at_end,
            "steps": [s.as_json() for s in self.steps],
        }


def concretise(variant: Variant, cx: Counterexample, source: str = "") -> Trace:
    """Map the explorer's canonical actions to steps on requests with stable numbers."""
    model = BackingAio(variant)
    state: State = cx.initial
    kinds = tuple(request_type(r) for r in state[1:])
    perm = list(range(len(kinds)))  # canonical index -> stable number
    steps: list[Step] = []
    for n, a in enumerate(cx.actions):
        stable = perm[a.req]  # ``state`` keeps the stable numbering, ``a`` the canonical
        where = model.where(state[1 + stable], a.actor)
        step = Step(stable, a.actor, a.choice, where.proc if where.stmt else "")
        steps.append(step)
        if n == len(cx.actions) - 1 and not cx.at_end:
            break  # the last action commits the violation: no state after it
        nxt = model.apply(state, Action(step.request, step.actor, step.choice))
        assert not isinstance(nxt, list), "a counterexample step broke a property early"
        state = nxt
        _, order = canonical_perm(state)
        perm = order
    return Trace(cx.variant, cx.prop, cx.subject, cx.message, kinds, tuple(steps), cx.at_end,
                 source)


def initial_state(model: BackingAio, kinds: tuple[str, ...]) -> State:
    return (1, *(model.new_request(k) for k in kinds))


def fits(variant: Variant, trace: Trace) -> None:
    """Check, before replaying, that ``trace`` can be a trace of ``variant``; raise
    TraceMismatch naming what does not fit."""
    if trace.variant != variant.name:
        raise TraceMismatch(f"the trace is of variant {trace.variant!r}, not {variant.name!r}")
    if trace.prop not in PROPERTY_IDS:
        raise TraceMismatch(f"the trace names property {trace.prop!r}, which does not exist "
                            f"(known: {', '.join(PROPERTY_IDS)})")
    if trace.subject and trace.subject not in SUBJECTS:
        raise TraceMismatch(f"the trace names subject {trace.subject!r}, which does not exist "
                            f"(known: {', '.join(SUBJECTS)})")
    if not trace.kinds:
        raise TraceMismatch("the trace has no requests")
    for k in trace.kinds:
        if k not in REQUEST_TYPES:
            raise TraceMismatch(f"unknown request type {k!r} (known: "
                                f"{', '.join(REQUEST_TYPES)})")
    if not trace.steps:
        raise TraceMismatch("the trace has no steps")
    if len(trace.steps) > MAX_STEPS:
        raise TraceMismatch(f"the trace has {len(trace.steps)} steps, more than the "
                            f"{MAX_STEPS} a saved counterexample may have")
    for n, step in enumerate(trace.steps, 1):
        if not 0 <= step.request < len(trace.kinds):
            raise TraceMismatch(f"step {n}: there is no request {step.request} (the trace "
                                f"has {len(trace.kinds)})")
        if step.actor not in ACTORS:
            raise TraceMismatch(f"step {n}: unknown actor {step.actor!r} (known: "
                                f"{', '.join(ACTORS)})")
        if step.choice not in CHOICES:
            raise TraceMismatch(f"step {n}: unknown choice {step.choice!r}")
        if step.proc and step.proc not in variant.procs:
            raise TraceMismatch(f"step {n} runs in procedure {step.proc!r}, which "
                                f"{variant.name} does not have: another variant's trace?")


def replay(variant: Variant, trace: Trace) -> list[Violation]:
    """Run the steps; return the violations they lead to, or raise ReplayError
    (TraceMismatch when the trace does not fit the variant)."""
    fits(variant, trace)
    model = BackingAio(variant)
    state = initial_state(model, trace.kinds)
    for n, step in enumerate(trace.steps, 1):
        if not 0 <= step.request < len(trace.kinds):
            raise ReplayError(f"step {n}: there is no request {step.request}")
        try:
            nxt = model.apply(state, Action(step.request, step.actor, step.choice))
        except ValueError as e:
            raise ReplayError(f"step {n}: {e}") from None
        if isinstance(nxt, list):
            if n != len(trace.steps):
                raise TraceMismatch(f"step {n} already breaks {nxt[0].prop}, and the trace "
                                    f"goes on for {len(trace.steps) - n} step(s) after it")
            return nxt
        state = nxt
    if not trace.at_end:
        raise ReplayError("the steps end without breaking any property")
    if model.is_final(state):
        found = model.final_violations(state)
        if found:
            return found
        raise ReplayError("the run ends without breaking any property")
    if model.acyclic and any(model.stuck(r) for r in state[1:]):
        # without loops, a request none of whose actors can move never moves again
        return [Violation("TERMINATES", "a request is not finished and none of its actors "
                          "can move")]
    if _can_end(model, state):
        raise ReplayError("the steps stop in a state from which the run can still end")
    return [Violation("TERMINATES", "from here no run reaches the end")]


def _can_end(model: BackingAio, state: State, limit: int = 1_000_000) -> bool:
    """Can some run from ``state`` end (finish, or stop at a violation)?"""
    def successors(_: int, s: State) -> list[tuple[Action, State]]:
        steps = model.successors(s, "none")
        if (not steps and model.is_final(s)) or any(isinstance(n, Violation) for _, n in steps):
            graph.stop()  # one end is enough
            return []
        return steps  # type: ignore[return-value]  # no violation among them

    graph: Walk[State, Action] = Walk(successors, max_nodes=limit)
    graph.start(canonical(state))
    try:
        graph.run()
    except NodeLimit:
        raise ReplayError(f"more than {limit} states reachable from the last step") from None
    return graph.stopped


def check_replay(variant: Variant, trace: Trace) -> Violation:
    """Replay and insist on the same property (and subject) as recorded."""
    found = replay(variant, trace)
    for v in found:
        if v.prop == trace.prop and (not trace.subject or v.subject == trace.subject):
            return v
    v = found[0]
    raise BreaksAnother(
        f"the steps now break {v.prop} ({v.subject or '-'}), not {trace.prop} "
        f"({trace.subject or '-'})", v)


def save(trace: Trace, path: Path) -> None:
    """Write the trace to ``path`` atomically (backing_aio.outputs)."""
    from backing_aio.outputs import write_text

    write_text(path, json.dumps(trace.as_json(), indent=2) + "\n")


def load(path: Path) -> Trace:
    """Read a saved counterexample; malformed files raise TraceMismatch (one line)."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise TraceMismatch(f"cannot read {path}: {e.strerror}") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise TraceMismatch(f"{path} is not a text file (a saved counterexample is "
                            "JSON)") from None
    except json.JSONDecodeError as e:
        raise TraceMismatch(f"{path} is not JSON: {e.msg} at line {e.lineno}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise TraceMismatch(f"{path} is not a saved counterexample ({FORMAT})")
    try:
        steps = tuple(
            Step(int(s["request"]), str(s["actor"]), str(s.get("choice", "")),
                 str(s.get("proc", "")))
            for s in data["steps"]
        )
        return Trace(
            variant=str(data["variant"]),
            prop=str(data["property"]),
            subject=str(data.get("subject", "")),
            message=str(data.get("message", "")),
            kinds=tuple(str(k) for k in data["requests"]),
            steps=steps,
            at_end=bool(data["at_end"]),
            source=str(data.get("source", "")),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise TraceMismatch(f"{path}: missing or malformed field ({e})") from None


# ---- explanation ----------------------------------------------------------------------

_WRAPPER = {Wrapper.NONE: "none", Wrapper.LIVE: "live", Wrapper.FREED: "freed"}


def effect_text(e: Effect) -> str:
    """How an explanation words an effect."""
    change, b, a = e.change, e.before, e.after
    if change is Change.WRAPPER:
        return f"wrapper {_WRAPPER[Wrapper(b)]}->{_WRAPPER[Wrapper(a)]}"
    if change is Change.OPENED_FILE_REFS:  # -1: never opened
        return f"opened file refs {max(b, 0)}->{max(a, 0)}"
    if change is Change.ORIG_POS:
        return "orig ki_pos " + ("updated" if a else "stale")
    if change is Change.RETURNED:
        return f"returns {value_name(a)}"
    if change is Change.REQUEST_FINISHED:
        return "all actors of this request finished; its end checks pass"
    if change in EVENTS:
        return str(change.value)
    return f"{change.value} {b}->{a}"


@dataclass(frozen=True)
class Explained:
    """One step of a counterexample as an explanation shows it: who moves where, doing
    what, with what effects; the last step carries the violation."""

    step: int
    request: int | None  # None: the end of the run
    kind: str
    actor: str  # an actor, or "end"
    place: str
    statement: str
    choice: str
    effects: tuple[Effect, ...]
    violation: Violation | None = None

    def as_row(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "step": self.step, "request": self.request, "kind": self.kind,
            "actor": self.actor, "place": self.place, "statement": self.statement,
            "choice": self.choice, "effects": [effect_text(e) for e in self.effects],
        }
        if self.violation is not None:
            v = self.violation
            row["violation"] = {"property": v.prop, "subject": v.subject, "message": v.message}
        return row


def _what(model: BackingAio, r: Req, step: Step) -> tuple[str, str]:
    """(place in the variant, what the step does) for the actor about to move."""
    env = env_step(r, step.actor)
    if env is not None:
        return env.place, env.explained
    w = model.where(r, step.actor)
    return f"{w.proc}:{w.pc}", w.stmt.label if w.stmt is not None else "?"


def _pick(found: list[Violation], trace: Trace) -> Violation:
    """The recorded violation among those a step commits (else the first)."""
    for v in found:
        if v.prop == trace.prop and (not trace.subject or v.subject == trace.subject):
            return v
    return found[0]


def explain(variant: Variant, trace: Trace) -> list[Explained]:
    """One entry per step, and one for the end of the run when the violation is judged
    there."""
    model = BackingAio(variant)
    state = initial_state(model, trace.kinds)
    out: list[Explained] = []
    for n, step in enumerate(trace.steps, 1):
        place, what = _what(model, state[1 + step.request], step)
        after, effects = model.apply_explained(
            state, Action(step.request, step.actor, step.choice))
        failed = _pick(after, trace) if isinstance(after, list) else None
        out.append(Explained(n, step.request, trace.kinds[step.request], step.actor, place,
                             what, step.choice, tuple(net(effects)), failed))
        if isinstance(after, list):
            return out
        state = after
    v = _pick(replay(variant, trace), trace)
    out.append(Explained(len(trace.steps) + 1, None, "", "end", "",
                         "every actor has finished" if trace.at_end else "", "", (), v))
    return out


def explain_rows(variant: Variant, trace: Trace) -> list[dict[str, Any]]:
    """One row per step: number, request, actor, place, statement, choice, effects; the
    last row carries the violation (for JSON and text)."""
    return [e.as_row() for e in explain(variant, trace)]


def explain_text(variant: Variant, trace: Trace) -> str:
    lines = [
        f"{trace.prop}"
        + (f" ({trace.subject})" if trace.subject else "")
        + f" in {trace.variant}, {len(trace.kinds)} request(s): "
        + ", ".join(f"#{i} {k}" for i, k in enumerate(trace.kinds)),
    ]
    for row in explain_rows(variant, trace):
        if row["actor"] == "end":
            lines.append(f"{row['step']:>3}. at the end: {row['statement']}")
        else:
            choice = f"  [{row['choice']}]" if row["choice"] else ""
            lines.append(
                f"{row['step']:>3}. #{row['request']} {row['kind']:<10} {row['actor']:<10} "
                f"{row['place']:<28} {row['statement']}{choice}"
            )
        if row["effects"]:
            lines.append(" " * 9 + "-> " + "; ".join(row["effects"]))
        if "violation" in row:
            v = row["violation"]
            lines.append(" " * 9 + f"!! {v['property']}: {v['message']}")
    return "\n".join(lines)
