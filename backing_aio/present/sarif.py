"""Findings as SARIF 2.1.0, the format code-review tools read static-analysis results in.

One run of the tool; its rules are the properties (``ruleId`` the property's ID, with its
text). One result per finding: its primary location is the step that breaks the property
(or, for a property judged when every actor has finished, the last step that ran C), and
its counterexample is a ``codeFlow`` with one ``threadFlow`` per actor of each request
(``#0 submitter``, ``#0 lower``, ``#0 completion``, ``#0 worker``), whose locations are the
steps that actor took, in the run's order (``executionOrder``). The shortest run comes
first; then, as more code flows, the shortest run in which each other actor takes the
breaking step (a use after free by the lower filesystem, say, after the completion
freed). A step lifted from C points at its file and line (its label ends
``(FILE:LINE)``); a step of a hand-written variant has a logical location, its procedure
and statement number.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from backing_aio.model.lang import Variant
from backing_aio.model.properties import PROPERTIES, PROPERTY_IDS
from backing_aio.verify.explorer import Result
from backing_aio.verify.trace import Explained, Trace, concretise, effect_text, explain

SCHEMA: Final = "https://json.schemastore.org/sarif-2.1.0.json"
VERSION: Final = "2.1.0"
# the C a lifted statement came from, at the end of its label
_AT: Final = re.compile(r"\((?P<path>[^()\s]+):(?P<line>\d+)\)$")


@dataclass(frozen=True)
class Finding:
    """A counterexample of ``trace.prop`` in variant ``variant``, explained step by step;
    ``known``: the variant is expected to break it (reported as a note, not an error);
    ``more``: the shortest runs in which another actor takes the breaking step (another
    code flow of the same result)."""

    variant: str
    trace: Trace
    steps: Sequence[Explained]
    known: bool = False
    more: Sequence[tuple[Trace, Sequence[Explained]]] = ()


def finding(v: Variant, key: tuple[str, str], result: Result, source: str = "",
            known: bool = False) -> Finding:
    """The finding ``key`` (property, subject) of ``result`` for variant ``v``: its
    shortest counterexample, and the shortest one of each other breaking actor."""
    cx = result.violations[key]
    trace = concretise(v, cx, source)
    more = []
    for other in result.by_actor.get(key, {}).values():
        if other is not cx:
            t = concretise(v, other, source)
            more.append((t, explain(v, t)))
    return Finding(v.name, trace, explain(v, trace), known, tuple(more))


def distinct(findings: Iterable[Finding]) -> list[Finding]:
    """The first finding of each property at each primary location: a bug in the helpers
    shows in every variant lifted around them, and a review tool needs it once."""
    seen: set[tuple[str, str]] = set()
    out = []
    for f in findings:
        key = (f.trace.prop, repr(_primary(f.variant, f.steps).get("physicalLocation")
                                  or f.variant))
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def _physical(label: str) -> dict[str, Any] | None:
    m = _AT.search(label)
    if m is None:
        return None
    path = m.group("path")
    uri = Path(path).as_uri() if path.startswith("/") else path  # else relative to the run
    return {"artifactLocation": {"uri": uri}, "region": {"startLine": int(m.group("line"))}}


def _location(variant: str, e: Explained) -> dict[str, Any]:
    text = e.statement + "".join(f"; {effect_text(x)}" for x in e.effects)
    loc: dict[str, Any] = {"message": {"text": text or e.actor}}
    physical = _physical(e.statement)
    if physical is not None:
        loc["physicalLocation"] = physical
    else:
        loc["logicalLocations"] = [{"fullyQualifiedName": f"{variant}/{e.place or e.actor}",
                                    "kind": "function"}]
    return loc


def _primary(variant: str, steps: Sequence[Explained]) -> dict[str, Any]:
    """Where the finding is shown: the breaking step if it ran C, else the last that did,
    else the breaking step's logical place."""
    breaking = steps[-1]
    if _physical(breaking.statement) is not None:
        return _location(variant, breaking)
    ran_c = [e for e in steps if _physical(e.statement) is not None]
    return _location(variant, ran_c[-1] if ran_c else breaking)


def _code_flow(variant: str, t: Trace, steps: Sequence[Explained]) -> dict[str, Any]:
    flows: dict[str, list[dict[str, Any]]] = {}
    for e in steps:
        if e.request is None:
            continue  # the end of the run: the finding's own message says it
        flows.setdefault(f"#{e.request} {e.actor}", []).append(
            {"location": _location(variant, e), "executionOrder": e.step})
    last = steps[-1]
    return {
        "message": {"text": f"{len(t.kinds)} request(s): "
                    + ", ".join(f"#{i} {k}" for i, k in enumerate(t.kinds))
                    + f"; the breaking step is the {last.actor}'s"},
        "threadFlows": [{"id": actor, "locations": locs} for actor, locs in flows.items()],
    }


def _result(f: Finding, rule_index: dict[str, int]) -> dict[str, Any]:
    t, last = f.trace, f.steps[-1]
    v = last.violation
    what = t.prop + (f" ({t.subject})" if t.subject else "")
    message = f"{what} in {f.variant}: {v.message if v is not None else t.prop}"
    return {
        "ruleId": t.prop,
        "ruleIndex": rule_index[t.prop],
        "level": "note" if f.known else "error",
        "message": {"text": message},
        "locations": [_primary(f.variant, f.steps)],
        "codeFlows": [_code_flow(f.variant, t, f.steps),
                      *(_code_flow(f.variant, mt, ms) for mt, ms in f.more)],
        "properties": {"variant": f.variant, "subject": t.subject, "steps": len(t.steps)},
    }


def sarif(findings: Iterable[Finding], tool_version: str) -> dict[str, Any]:
    """The findings as one SARIF 2.1.0 log (a JSON object)."""
    rules = [{"id": p.id, "name": p.id.title().replace("_", ""),
              "shortDescription": {"text": p.text.split(";")[0]},
              "fullDescription": {"text": p.text},
              "defaultConfiguration": {"level": "error"}} for p in PROPERTIES]
    index = {pid: i for i, pid in enumerate(PROPERTY_IDS)}
    return {
        "$schema": SCHEMA,
        "version": VERSION,
        "runs": [{
            "tool": {"driver": {"name": "backing-aio", "version": tool_version,
                                "rules": rules}},
            "columnKind": "unicodeCodePoints",
            "results": [_result(f, index) for f in findings],
        }],
    }
