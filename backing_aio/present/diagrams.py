"""Pictures of the model, drawn with Graphviz (``backing-aio diagrams``).

- A *lifecycle* diagram: the reachable states of one request of a variant (an async read or
  write, with the sync path of the same kind), abstracted to what a reviewer reasons about:
  the wrapper (none, live with its reference count, freed), where the submitter is, whether
  the lower filesystem still holds the clone, the completion and the work item, how often
  the caller's callback and the original ki_complete ran, and (writes) freeze protection.
  Concrete states that look the same are one node; steps between two nodes are one edge
  labelled with the actor and statement(s); steps that do not change the view are dropped.
  A step that breaks a property goes to a red node named by the property.
- A *swimlane* of a counterexample: one lane per actor and one for the wrapper's memory, a
  row per step, the failing step in red. Built from ``backing_aio.verify.trace.explain``.
- A *comparison* of two variants' lifecycles side by side: what the other lacks is drawn
  in full colour and bold, what both share is faded.

Everything is derived from ``backing_aio.model.semantics`` (no semantics here) and written in a
fixed order, so ``make diagrams`` is reproducible byte for byte with the same Graphviz.

Without the ``dot`` program a picture is bad input (``DotMissing``: one line saying how to
install it).
"""

from __future__ import annotations

import html
import re
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from pathlib import Path
from typing import Any, Final

import graphviz  # type: ignore[import-untyped]

from backing_aio.errors import UsageError
from backing_aio.model.catalogue import catalogue
from backing_aio.model.lang import RefcountDecAndTest, RefcountInc, RefcountSet, Val, Variant
from backing_aio.model.properties import PROPERTY_IDS, Violation
from backing_aio.model.semantics import (
    COMPLETION,
    LOWER,
    SUBMITTER,
    WORKER,
    Action,
    BackingAio,
    env_step,
)
from backing_aio.model.state import (
    DONE,
    Completion,
    Lower,
    OutcomeBit,
    Req,
    ReqKind,
    State,
    Submitter,
    Worker,
    Wrapper,
)
from backing_aio.outputs import file_stem, inside, output_dir, write_bytes
from backing_aio.verify.explorer import explore
from backing_aio.verify.graph import walk
from backing_aio.verify.trace import (
    Explained,
    Trace,
    concretise,
    effect_text,
    explain,
    initial_state,
)

INSTALL_HINT: Final[str] = (
    "the Graphviz 'dot' program is not on PATH; install it with 'apt-get install graphviz' "
    "(Debian/Ubuntu) or your system's graphviz package"
)

# A lifecycle diagram shows one kind of request: its async type and its sync type.
KIND_TYPES: Final[dict[str, tuple[str, ...]]] = {
    "read": ("read", "sync-read"),
    "write": ("write", "sync-write"),
}
# Catalogue pictures: each later version against the one it replaced, in history order.
COMPARISONS: Final[tuple[tuple[str, str], ...]] = (
    ("ovl-5.6", "ovl-5.16"),
    ("ovl-5.16", "seed"),
    ("seed", "mainline"),
)
# Counterexamples are searched as the gate searches them (N = 1..3); the first N that
# finds a (property, subject) gives its shortest counterexample.
CX_REQUESTS: Final[int] = 3

# Fonts metric-compatible across systems (Liberation/Arimo/Cousine stand in for them), so
# the layout does not depend on which sans font a machine happens to prefer.
SANS, MONO = "Helvetica", "Courier"
RED, RED_FILL = "#c62828", "#fde2e2"
FADED = "#b0b0b0"
ACTOR_NAME: Final[dict[str, str]] = {
    SUBMITTER: "submitter", LOWER: "lower fs", COMPLETION: "completion", WORKER: "workqueue",
}
# Okabe-Ito hues, darkened for text on white; red is kept for broken properties.
ACTOR_COLOUR: Final[dict[str, str]] = {
    SUBMITTER: "#0060a0", LOWER: "#a86b00", COMPLETION: "#9c3d86", WORKER: "#00795a",
    "end": "#505050",
}
WRAPPER_FILL: Final[dict[str, str]] = {"none": "#ffffff", "live": "#fff3c4", "freed": "#e4e4e4"}



class DotMissing(UsageError):
    """The Graphviz ``dot`` program is not installed."""

    def __init__(self) -> None:
        super().__init__(INSTALL_HINT)


# ---- labels -----------------------------------------------------------------------------

def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _wrap(text: str, width: int) -> list[str]:
    """Greedy wrapping at spaces only (a split identifier reads as two), which never leaves
    a short fragment such as ``if`` or ``{`` on a line of its own."""
    lines: list[str] = []
    for word in text.split():
        if lines and (len(lines[-1]) + 1 + len(word) <= width or len(lines[-1]) < 8
                      or len(word) <= 2):
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def _lines(*rows: str) -> str:
    """An HTML-like label from rows that are already escaped, left-aligned."""
    return "<" + "".join(f"{row}<BR ALIGN=\"LEFT\"/>" for row in rows) + ">"


def _code(text: str, width: int) -> list[str]:
    return [f'<FONT FACE="{MONO}">{_esc(line)}</FONT>' for line in _wrap(text, width)]


def _step_text(model: BackingAio, r: Req, actor: str) -> str:
    """What the actor about to move does (the environment's own steps have no statement of
    the variant)."""
    env = env_step(r, actor)
    if env is not None:
        return env.does
    w = model.where(r, actor)
    return w.stmt.label if w.stmt is not None else "?"


# ---- the lifecycle of one request -------------------------------------------------------

@dataclass(frozen=True)
class View:
    """One request as a reviewer sees it. End nodes keep only the backing file's count."""

    end: bool = False
    wrapper: str = "none"  # none, live, freed
    ref: int = -1  # the wrapper's count while it is live (-1: the variant has none)
    submitter: str = "before submit"
    completion: str = ""  # armed, running, done ("" never armed)
    worker: str = ""  # pending, running, done ("" never queued)
    callback: int = 0
    ki_complete: int = 0
    freeze: int = -1  # freeze protection held (writes only)
    shared: int = 1  # end nodes: references left on the backing file (1: the owner's)

    def rows(self) -> list[str]:
        if self.end:
            rows = ["<B>end</B>: every actor has finished"]
            if self.shared != 1:
                rows.append(f"backing file refs left: {self.shared}")
            return rows
        if self.wrapper == "live":
            head = "<B>wrapper live" + (f", ref {self.ref}" if self.ref >= 0 else "") + "</B>"
        else:
            head = "<B>no wrapper</B>" if self.wrapper == "none" else "<B>wrapper freed</B>"
        rows = [head, f"submitter: {_esc(self.submitter)}"]
        if self.completion:
            rows.append(f"completion: {self.completion}")
        if self.worker:
            rows.append(f"work item: {self.worker}")
        counts = f"callback {self.callback}, ki_complete {self.ki_complete}"
        if self.freeze >= 0:
            counts += f", freeze {self.freeze}"
        rows.append(counts)
        return rows


_COMPLETION = {Completion.UNARMED: "", Completion.ARMED: "armed", Completion.RUNNING: "running",
               Completion.DONE: "done"}
_WORKER = {Worker.IDLE: "", Worker.PENDING: "pending", Worker.RUNNING: "running",
           Worker.DONE: "done"}


def counted(variant: Variant) -> bool:
    """Does the variant have a reference count at all (ovl-5.6 has none)?"""
    return any(isinstance(s, RefcountSet | RefcountInc | RefcountDecAndTest)
               for body in variant.procs.values() for s in body)


def view(state: State, with_ref: bool = True) -> View:
    """The abstraction of a one-request state."""
    r = state[1]
    if r == DONE:
        return View(end=True, shared=state[0])
    wrapper = {Wrapper.LIVE: "live", Wrapper.FREED: "freed"}.get(r.wrapper, "none")
    subst = r.submitter_state
    if subst == Submitter.IN_SUBMIT:
        submitter = "in submit, lower fs holds the clone"
    elif subst == Submitter.RETURNED:
        submitter = "returned " + ("-EIOCBQUEUED" if r.returned == Val.QUEUED else "its result")
    else:
        submitter = "after submit" if r.outcome & OutcomeBit.SUBMITTED else "before submit"
    return View(
        wrapper=wrapper,
        ref=r.ref if r.wrapper == Wrapper.LIVE and with_ref else -1,
        submitter=submitter,
        completion=_COMPLETION[r.completion_state],
        worker=_WORKER[r.worker_state],
        callback=r.callback_runs,
        ki_complete=r.ki_complete_runs,
        freeze=r.writers if r.kind == ReqKind.WRITE else -1,
    )


Finding = tuple[str, str]  # (property, subject)
Labels = dict[tuple[str, str], set[str]]  # (actor, statement) -> choices


@dataclass
class Lifecycle:
    """The abstract graph of one request: nodes in discovery order, merged edges."""

    variant: str
    kind: str
    counted: bool = True  # the variant has a reference count
    concrete_states: int = 0
    nodes: dict[View, int] = field(default_factory=dict)
    start: View = field(default_factory=View)
    edges: dict[tuple[View, View], Labels] = field(default_factory=dict)
    # steps that break a property, from the node they are taken in
    bad: dict[tuple[View, Finding], Labels] = field(default_factory=dict)
    messages: dict[Finding, str] = field(default_factory=dict)

    @property
    def findings(self) -> list[Finding]:
        return sorted(self.messages, key=_finding_order)

    def edge_keys(self, key: Callable[[View], View]) -> set[tuple[View, object, str]]:
        """What a comparison matches steps on: source, target and actor (statements are
        spelled differently in every version of the code)."""
        keys: set[tuple[View, object, str]] = set()
        for (a, b), labels in self.edges.items():
            keys.update((key(a), key(b), actor) for actor, _ in labels)
        for (a, f), labels in self.bad.items():
            keys.update((key(a), f, actor) for actor, _ in labels)
        return keys


def _finding_order(f: Finding) -> tuple[int, str]:
    return PROPERTY_IDS.index(f[0]), f[1]


def lifecycle(variant: Variant, kind: str) -> Lifecycle:
    """Explore every run of one request of ``kind`` (async and sync) and abstract it."""
    if kind not in KIND_TYPES:
        raise UsageError(f"unknown kind {kind!r} (known: {', '.join(KIND_TYPES)})")
    types = [t for t in KIND_TYPES[kind] if t in variant.kinds]
    if not types:
        raise UsageError(f"{variant.name} serves no {kind} requests (it serves "
                         f"{', '.join(variant.kinds)})")
    model = BackingAio(variant)
    lc = Lifecycle(variant.name, kind, counted(variant))
    starts = [model.initial_states(1, [t])[0] for t in types]
    ends: list[int] = []

    def add_label(table: Labels, state: State, action: Action) -> None:
        text = _step_text(model, state[1], action.actor)
        table.setdefault((action.actor, text), set()).add(action.choice)

    def bad_step(src: View, v: Violation, labels: Iterable[tuple[str, str, str]]) -> None:
        finding = (v.prop, v.subject)
        lc.messages.setdefault(finding, v.message)
        table = lc.bad.setdefault((src, finding), {})
        for actor, text, choice in labels:
            table.setdefault((actor, text), set()).add(choice)

    def successors(i: int, state: State) -> list[tuple[Action, State]]:
        here = view(state, lc.counted)
        lc.nodes.setdefault(here, len(lc.nodes))
        steps = model.successors(state, "none")
        kept: list[tuple[Action, State]] = []
        for action, nxt in steps:
            if isinstance(nxt, Violation):
                ends.append(i)
                text = _step_text(model, state[1], action.actor)
                bad_step(here, nxt, [(action.actor, text, action.choice)])
                continue
            kept.append((action, nxt))
            there = view(nxt, lc.counted)
            if there != here:  # a step inside one view is not drawn
                add_label(lc.edges.setdefault((here, there), {}), state, action)
        if not steps and model.is_final(state):
            ends.append(i)
            for v in model.final_violations(state):
                bad_step(here, v, [("end", "at the end", "")])
        return kept

    lc.start = view(starts[0], lc.counted)
    graph = walk(starts, successors)
    for i in graph.cannot_reach(ends):
        stuck = Violation("TERMINATES", "no run from here reaches the end")
        bad_step(view(graph.nodes[i], lc.counted), stuck,
                 [("end", "cannot reach the end", "")])
    lc.concrete_states = len(graph)
    return lc


def _edge_label(labels: Labels) -> str:
    rows: list[str] = []
    groups = sorted(labels.items(), key=lambda kv: (list(ACTOR_COLOUR).index(kv[0][0]),
                                                    kv[0][1]))
    shown = groups[:3]  # more than three statements on one edge would hide the picture
    for (actor, text), choices in shown:
        if actor == "end":  # judged on the whole run, not a step of an actor
            rows.append(f"<I>{_esc(text)}</I>")
            continue
        colour = ACTOR_COLOUR[actor]
        name = ACTOR_NAME.get(actor, actor)
        chosen = sorted(c for c in choices if c)
        tail = f" <I>[{_esc(' | '.join(chosen))}]</I>" if chosen else ""
        wrapped = _wrap(text, 32)
        rows.append(f'<FONT COLOR="{colour}"><B>{name}</B></FONT> '
                    f'<FONT FACE="{MONO}">{_esc(wrapped[0])}</FONT>'
                    + (tail if len(wrapped) == 1 else ""))
        for k, more in enumerate(wrapped[1:], 2):
            rows.append(f'  <FONT FACE="{MONO}">{_esc(more)}</FONT>'
                        + (tail if k == len(wrapped) else ""))
    if len(groups) > len(shown):
        rows.append(f"<I>(+{len(groups) - len(shown)} more)</I>")
    return _lines(*rows)


def _compare_key(lc: Lifecycle, other: Lifecycle | None) -> Callable[[View], View]:
    """Views are matched with their reference count only when both variants have one:
    against a version without a count, the count would make every live view differ and
    hide what really changed."""
    if other is not None and lc.counted and other.counted:
        return lambda v: v
    return lambda v: replace(v, ref=-1)


def _main_actor(labels: Labels) -> str:
    return min((actor for actor, _ in labels), key=list(ACTOR_COLOUR).index)


def _legend(kind: str) -> str:
    actors = " ".join(
        f'<FONT COLOR="{ACTOR_COLOUR[a]}"><B>{ACTOR_NAME[a]}</B></FONT>'
        for a in (SUBMITTER, LOWER, COMPLETION, WORKER)
    )
    return (
        f"edges: {actors} &#183; nodes: yellow = wrapper live, grey = freed, "
        f'<FONT COLOR="{RED}"><B>red</B></FONT> = a property breaks'
        + (" &#183; freeze = freeze protection held" if kind == "write" else "")
    )


def _add_lifecycle(g: Any, lc: Lifecycle, prefix: str, other: Lifecycle | None = None) -> None:
    """Draw ``lc`` into ``g`` with node names starting with ``prefix``. With ``other``,
    what ``other`` lacks is drawn bold in full colour and what both have is faded (and
    its steps unlabelled: the eye should go to the differences)."""
    key = _compare_key(lc, other)
    other_nodes = {key(v) for v in other.nodes} if other is not None else set()
    other_edges = other.edge_keys(key) if other is not None else set()
    hazards = {src for src, _ in lc.bad}

    def node_name(v: View) -> str:
        return f"{prefix}n{lc.nodes[v]}"

    g.node(f"{prefix}start", "", shape="circle", style="filled", fillcolor="black",
           width="0.18", fixedsize="true", id=f"{prefix}start")
    g.edge(f"{prefix}start", node_name(lc.start), arrowsize="0.7")
    for v, n in lc.nodes.items():
        differs = other is not None and key(v) not in other_nodes
        faded = other is not None and not differs
        attrs: dict[str, str] = {
            "id": f"{prefix}n{n}",
            "shape": "box",
            "style": "rounded,filled",
            "fillcolor": WRAPPER_FILL["none" if v.end else v.wrapper],
        }
        rows = v.rows()
        if v.end:
            attrs["peripheries"] = "2"
        if v in hazards:
            # a step from here breaks a property: the node is part of the bug
            attrs.update(color=RED, penwidth="2.5", **{"class": "hazard"})
            rows.append(f'<FONT COLOR="{RED}"><B>a step from here can break a property</B>'
                        "</FONT>")
        if differs:
            attrs.update(penwidth="3", color=attrs.get("color", "#222222"))
            rows.insert(0, f'<FONT COLOR="#6a1b9a"><B>only in {_esc(lc.variant)}</B></FONT>')
        if faded:
            attrs.update(fontcolor="#8a8a8a")
            if v not in hazards:
                attrs.update(color=FADED)
        g.node(node_name(v), _lines(*rows), **attrs)
    for k, finding in enumerate(lc.findings):
        prop, subject = finding
        message = lc.messages[finding]
        rows = [f'<FONT POINT-SIZE="13"><B>{prop}</B></FONT>'
                + (f" ({_esc(subject)})" if subject else "")]
        rows += [_esc(line) for line in _wrap(message, 44)]
        g.node(f"{prefix}v{k}", _lines(*rows), shape="box", style="filled",
               fillcolor=RED, fontcolor="white", color=RED, id=f"{prefix}v{k}",
               **{"class": f"violation {prop}"})
    vname = {f: f"{prefix}v{k}" for k, f in enumerate(lc.findings)}
    for (a, b), labels in lc.edges.items():
        actor = _main_actor(labels)
        differs = other is not None and any(
            (key(a), key(b), act) not in other_edges for act, _ in labels)
        faded = other is not None and not differs
        colour = FADED if faded else ACTOR_COLOUR[actor]
        g.edge(node_name(a), node_name(b), "" if faded else _edge_label(labels), color=colour,
               penwidth="3" if differs else "1.2", fontcolor=colour)
    for (a, finding), labels in lc.bad.items():
        g.edge(node_name(a), vname[finding], _edge_label(labels), color=RED, fontcolor=RED,
               penwidth="2.5", style="bold")


def _graph(name: str, title: str) -> Any:
    g = graphviz.Digraph(name, engine="dot")
    g.attr(label=title, labelloc="t", labeljust="l", fontname=SANS, fontsize="16",
           rankdir="TB", nodesep="0.25", ranksep="0.4", newrank="true")
    g.attr("node", fontname=SANS, fontsize="11", margin="0.12,0.06")
    g.attr("edge", fontname=SANS, fontsize="10", arrowsize="0.8")
    return g


def _title(*rows: str) -> str:
    return _lines(*rows)


def lifecycle_graph(lc: Lifecycle, variant: Variant) -> Any:
    g = _graph(f"lifecycle-{lc.variant}-{lc.kind}", _title(
        f'<FONT POINT-SIZE="18"><B>{_esc(lc.variant)}</B></FONT>: the lifecycle of one '
        f"{lc.kind} (async, and the sync path)",
        f'<FONT POINT-SIZE="11">{_esc(variant.summary)}</FONT>',
        f'<FONT POINT-SIZE="11">{len(lc.nodes)} view(s) of {lc.concrete_states} states; '
        + _legend(lc.kind) + "</FONT>",
    ))
    _add_lifecycle(g, lc, "")
    return g


def compare_graph(a: Lifecycle, b: Lifecycle) -> Any:
    """Two lifecycles side by side; each marks what the other lacks."""
    g = _graph(f"compare-{a.variant}-vs-{b.variant}-{a.kind}", _title(
        f'<FONT POINT-SIZE="18"><B>{_esc(a.variant)}</B> vs <B>{_esc(b.variant)}</B></FONT>: '
        f"one {a.kind}, side by side",
        '<FONT POINT-SIZE="11">bold, in colour, marked "only in": a view or step the other '
        "variant does not have (steps match on source, target and actor); faded: both have "
        "it</FONT>",
        f'<FONT POINT-SIZE="11">{_legend(a.kind)}</FONT>',
    ))
    for tag, lc, other in (("a", a, b), ("b", b, a)):
        with g.subgraph(name=f"cluster_{tag}") as sub:
            sub.attr(label=f"<<B>{_esc(lc.variant)}</B>>", fontsize="16", color="#888888",
                     style="rounded")
            _add_lifecycle(sub, lc, f"{tag}_", other)
    return g


# ---- counterexample swimlanes -----------------------------------------------------------

@dataclass(frozen=True)
class Lane:
    name: str
    title: str
    request: int
    actor: str  # an actor, or "memory"


def _lanes(trace: Trace, rows: list[Explained], files: bool, with_ref: bool) -> list[Lane]:
    used = {(row.request, row.actor) for row in rows}
    acting = {req for req, _ in used}
    lanes: list[Lane] = []
    many = len(trace.kinds) > 1
    for req, kind in enumerate(trace.kinds):
        if req not in acting and many:
            continue  # a request that never moves in the trace adds nothing to the picture
        who = f"#{req} " if many else ""
        for actor in (SUBMITTER, LOWER, COMPLETION, WORKER):
            if actor == WORKER and (req, WORKER) not in used:
                continue  # the workqueue lane only where the variant punts to it
            title = {SUBMITTER: f"submitter ({kind})", LOWER: "lower fs",
                     COMPLETION: "completion (irq)", WORKER: "workqueue"}[actor]
            lanes.append(Lane(f"r{req}_{actor}", who + title, req, actor))
        memory = "memory: wrapper, files" if files else "wrapper memory"
        if not with_ref:  # say so: a missing count is what ovl-5.6's bug is about
            memory += " (this version has no refcount)"
        lanes.append(Lane(f"r{req}_memory", who + memory, req, "memory"))
    return lanes


@dataclass(frozen=True)
class _Shown:
    """What the memory lane shows besides the wrapper: only what the trace changes."""

    with_ref: bool
    shared: bool  # the backing file's count
    opened: bool  # a file opened on the fly


def _memory_rows(state: State, req: int, shown: _Shown) -> list[str]:
    r = state[1 + req]
    if r == DONE:
        rows = ["request finished"]
    elif r.wrapper == Wrapper.LIVE:
        rows = ["<B>wrapper live" + (f", ref {r.ref}" if shown.with_ref else "") + "</B>"]
    elif r.wrapper == Wrapper.FREED:
        rows = [f'<B><FONT COLOR="{RED}">wrapper freed</FONT></B>']
    else:
        rows = ["no wrapper"]
    if shown.shared:
        rows.append(f"backing file refs {state[0]}")
    if shown.opened and r != DONE and r.tmp_file >= 0:
        rows.append(f"opened file refs {max(r.tmp_file, 0)}")
    return rows


def _lifeline(state: State, lane: Lane) -> dict[str, str]:
    """How a lane's line looks between two rows: bold while the actor runs or holds the
    clone, dashed while it may still start (armed, pending), dotted when it is out."""
    r = state[1 + lane.request]
    colour = ACTOR_COLOUR.get(lane.actor, "#707070")
    solid = {"style": "solid", "penwidth": "3", "color": colour}
    dashed = {"style": "dashed", "penwidth": "1.5", "color": colour}
    out = {"style": "dotted", "penwidth": "1", "color": "#b0b0b0"}
    if r == DONE:
        return out
    if lane.actor == SUBMITTER:
        return {Submitter.RUNNING: solid, Submitter.IN_SUBMIT: dashed}.get(
            r.submitter_state, out)
    if lane.actor == LOWER:
        return solid if r.lower == Lower.HOLDS_CLONE else out
    if lane.actor == COMPLETION:
        return {Completion.ARMED: dashed, Completion.RUNNING: solid}.get(
            r.completion_state, out)
    if lane.actor == WORKER:
        return {Worker.PENDING: dashed, Worker.RUNNING: solid}.get(r.worker_state, out)
    return {Wrapper.LIVE: {"style": "solid", "penwidth": "3", "color": "#c9a400"}}.get(
        r.wrapper, out)


def swimlane_graph(variant: Variant, trace: Trace) -> Any:
    """The counterexample as a sequence diagram: a row per step, a lane per actor."""
    rows = explain(variant, trace)
    model = BackingAio(variant)
    # the state after each step (the failing step has none): for reference counts and
    # lifelines; the explanation rows give the words
    states: list[State] = [initial_state(model, trace.kinds)]
    for step in trace.steps:
        nxt = model.apply(states[-1], Action(step.request, step.actor, step.choice))
        if isinstance(nxt, list):
            break
        states.append(nxt)
    shown = _Shown(
        with_ref=counted(variant),
        shared=any(s[0] != states[0][0] for s in states),
        opened=any(r != DONE and r.tmp_file >= 0 for s in states for r in s[1:]),
    )
    lanes = _lanes(trace, rows, files=shown.shared or shown.opened, with_ref=shown.with_ref)
    end_lane = next(lane for lane in lanes if lane.actor == "memory")  # for an end-of-run row
    subject = f" ({trace.subject})" if trace.subject else ""
    reqs = ", ".join(f"#{i} {k}" for i, k in enumerate(trace.kinds))
    g = _graph(f"swimlane-{trace.variant}-{trace.prop}", _title(
        f'<FONT POINT-SIZE="18"><B>{_esc(trace.variant)}: {trace.prop}{_esc(subject)}</B>'
        "</FONT>",
        f'<FONT POINT-SIZE="11">shortest counterexample, {len(trace.steps)} steps, '
        f"{len(trace.kinds)} request(s): {_esc(reqs)}</FONT>",
        '<FONT POINT-SIZE="11">lifelines: bold = running or holding the clone, dashed = armed '
        "or pending (may start at any time), dotted = finished or not yet involved</FONT>",
    ))
    g.attr(nodesep="0.25", ranksep="0.18", splines="line")
    g.attr("node", fontsize="10")
    grid: list[list[str]] = []
    with g.subgraph(name="header") as row:
        row.attr(rank="same")
        names = []
        for lane in lanes:
            colour = ACTOR_COLOUR.get(lane.actor, "#707070")
            title = "<BR/>".join(_esc(t) for t in _wrap(lane.title, 28))
            row.node(f"h_{lane.name}", f"<<B>{title}</B>>", shape="box",
                     style="filled", fillcolor="white", color=colour, fontcolor=colour,
                     penwidth="2", width="3.3", id=f"h_{lane.name}")
            names.append(f"h_{lane.name}")
        grid.append(names)
    for i, step_row in enumerate(rows):
        # the failing step changes nothing: its row shows the memory it ran into
        after = states[min(i + 1, len(states) - 1)]
        failing = step_row.violation is not None
        names = []
        with g.subgraph(name=f"row{i}") as row:
            row.attr(rank="same")
            for lane in lanes:
                name = f"s{step_row.step}_{lane.name}"
                names.append(name)
                attrs = _cell(step_row, lane, after, shown, failing, lane == end_lane)
                row.node(name, **attrs, id=name)
        grid.append(names)
    # keep the lanes in order inside every row, and each lane in one straight column
    for names in grid:
        for left, right in pairwise(names):
            g.edge(left, right, style="invis")
    for col, lane in enumerate(lanes):
        for k in range(len(grid) - 1):
            look = _lifeline(states[min(k, len(states) - 1)], lane)
            g.edge(grid[k][col], grid[k + 1][col], arrowhead="none", weight="100", **look)
    return g


def _cell(row: Explained, lane: Lane, after: State, shown: _Shown, failing: bool,
          end_lane: bool) -> dict[str, str]:
    """The node one lane shows in one step's row."""
    step = row.step
    mine = row.actor == lane.actor and row.request == lane.request
    end_row = row.actor == "end" and end_lane
    v = row.violation
    if lane.actor == "memory" and not end_row:
        changed = any(e.memory for e in row.effects)
        text = _memory_rows(after, lane.request, shown)
        attrs = {"shape": "box", "style": "rounded,filled", "width": "3.3",
                 "fillcolor": "#fff3c4" if changed else "#fafafa",
                 "color": "#c9a400" if changed else "#dddddd",
                 "fontcolor": "black" if changed else "#707070"}
        if v is not None and row.request == lane.request and v.prop in (
                "UAF", "DOUBLE_FREE", "REF_UNDERFLOW", "LEAK"):
            # a memory finding: this is the memory the failing step runs into
            text.append(f'<FONT COLOR="{RED}"><B>step {row.step} runs into this</B></FONT>')
            attrs.update(color=RED, penwidth="2.5", fontcolor="black")
        attrs["label"] = _lines(*text)
        return attrs
    if not (mine or end_row):
        return {"shape": "point", "width": "0.06", "color": "#c0c0c0", "label": ""}
    lines = [f"<B>{step}.</B> "
             + f'<FONT COLOR="#606060">{_esc(row.place or "end of the run")}</FONT>']
    lines += _code(row.statement, 40)
    if row.choice:
        lines.append(f"<I>[{_esc(row.choice)}]</I>")
    for effect in row.effects:
        if not effect.memory:
            lines.append(f"&#8594; {_esc(effect_text(effect))}")
    attrs = {"shape": "box", "style": "filled", "width": "3.3",
             "fillcolor": "white", "color": ACTOR_COLOUR.get(lane.actor, "#505050")}
    if failing and v is not None:
        subject = f" ({v.subject})" if v.subject else ""
        lines.append(f'<FONT COLOR="{RED}"><B>{v.prop}{_esc(subject)}</B></FONT>')
        lines += [f'<FONT COLOR="{RED}">{_esc(t)}</FONT>' for t in _wrap(v.message, 40)]
        attrs.update(fillcolor=RED_FILL, color=RED, penwidth="3", **{"class": "failing"})
    attrs["label"] = _lines(*lines)
    return attrs


# ---- the catalogue's pictures -------------------------------------------------------------

def catalogue_traces(variants: Iterable[Variant] | None = None) -> list[tuple[Variant, Trace]]:
    """The shortest counterexample of every finding of every catalogue variant."""
    out: list[tuple[Variant, Trace]] = []
    for v in variants if variants is not None else catalogue().values():
        seen: set[Finding] = set()
        for n in range(1, CX_REQUESTS + 1):
            result = explore(v, n)
            for key in sorted(result.violations, key=_finding_order):
                if key not in seen:
                    seen.add(key)
                    out.append((v, concretise(v, result.violations[key])))
    return out


def swimlane_stem(trace: Trace) -> str:
    subject = f"-{file_stem(trace.subject)}" if trace.subject else ""
    return f"swimlane-{file_stem(trace.variant)}-{trace.prop}{subject}"


@dataclass(frozen=True)
class Picture:
    """One picture of the catalogue: its file stem, what it shows and its graph."""

    stem: str
    section: str  # lifecycle, compare, swimlane
    caption: str
    graph: Any
    png: bool = False  # also as PNG
    variant: Variant | None = None  # swimlanes: the variant and the trace they draw
    trace: Trace | None = None


def served_kinds(v: Variant) -> list[str]:
    """The kinds (read, write) of which the variant serves some request type."""
    return [k for k, types in KIND_TYPES.items() if any(t in v.kinds for t in types)]


def catalogue_pictures() -> list[Picture]:
    """Every catalogue picture, in a fixed order."""
    cat = catalogue()
    out: list[Picture] = []
    cycles: dict[tuple[str, str], Lifecycle] = {}
    for v in cat.values():
        for kind in served_kinds(v):
            lc = cycles[v.name, kind] = lifecycle(v, kind)
            out.append(Picture(f"lifecycle-{file_stem(v.name)}-{kind}", "lifecycle",
                               f"{v.name}: the lifecycle of one {kind}",
                               lifecycle_graph(lc, v)))
    for a, b in COMPARISONS:
        for kind in KIND_TYPES:
            out.append(Picture(f"compare-{file_stem(a)}-vs-{file_stem(b)}-{kind}", "compare",
                               f"{a} vs {b}: one {kind}",
                               compare_graph(cycles[a, kind], cycles[b, kind])))
    for v, trace in catalogue_traces(cat.values()):
        subject = f" ({trace.subject})" if trace.subject else ""
        # a counterexample is what goes into a bug report or a mail: PNG too
        out.append(Picture(swimlane_stem(trace), "swimlane",
                           f"{v.name}: {trace.prop}{subject}", swimlane_graph(v, trace),
                           png=True, variant=v, trace=trace))
    return out


def catalogue_graphs() -> list[tuple[str, Any, bool]]:
    """(file stem, graph, also as PNG) for every catalogue picture, in a fixed order."""
    return [(p.stem, p.graph, p.png) for p in catalogue_pictures()]


GENERATED = re.compile(r"^(lifecycle|compare|swimlane)-.*\.(dot|svg|png)$")


def require_dot() -> None:
    if shutil.which("dot") is None:
        raise DotMissing()


def render(graph: Any, fmt: str) -> bytes:
    """Run ``dot`` on the graph. The output names no date; only the version comment."""
    require_dot()
    try:
        data: bytes = graph.pipe(format=fmt, engine="dot", quiet=True)
    except graphviz.ExecutableNotFound:
        raise DotMissing() from None
    return data


def dot_source(graph: Any) -> bytes:
    header = "// generated by `backing-aio diagrams` (make diagrams): do not edit\n"
    return (header + str(graph.source)).encode()


def write_graphs(graphs: Sequence[tuple[str, Any, bool]], out: Path, png: bool = True,
                 prune: bool = False) -> tuple[list[Path], list[Path]]:
    """Write DOT, SVG (and PNG) for each graph; return (every file, files that changed).
    With ``prune`` remove generated files of earlier runs that are no longer made."""
    require_dot()
    output_dir(out)
    written: list[Path] = []
    changed: list[Path] = []
    for stem, graph, wants_png in graphs:
        outputs = [("dot", dot_source(graph)), ("svg", render(graph, "svg"))]
        if png and wants_png:
            outputs.append(("png", render(graph, "png")))
        for ext, data in outputs:
            path = inside(out, f"{file_stem(stem)}.{ext}")
            written.append(out / path.name)
            if not path.exists() or path.read_bytes() != data:
                write_bytes(path, data)  # unchanged files keep their time stamps
                changed.append(path)
    if prune:
        keep = {p.name for p in written}
        for old in sorted(out.iterdir()):
            if GENERATED.match(old.name) and old.name not in keep:
                old.unlink()
                changed.append(old)
    return written, changed
