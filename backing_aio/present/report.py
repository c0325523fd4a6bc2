"""One self-contained HTML page about the catalogue (``backing-aio report``).

The page holds the gate's verdict table, the mutation score, the lifecycle, comparison and
counterexample pictures (SVG inlined: no external file, no script, readable offline) and
every counterexample as a table of steps. A section is reserved for proofs, which a later
checker fills in.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

from backing_aio.model.catalogue import catalogue
from backing_aio.model.properties import PROPERTIES
from backing_aio.present.diagrams import Picture, render
from backing_aio.verify import gate as gatemod
from backing_aio.verify.trace import explain_rows
from backing_aio.verify.verdict import Verdict, of_proof

# The proofs section sits between stable markers (tools may extract it).
PROOFS_BEGIN = "<!-- PROOFS:BEGIN (filled in by the z3 proofs; see DESIGN.md section 2) -->"
PROOFS_END = "<!-- PROOFS:END -->"

CSS = """
body { font-family: Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1200px;
       padding: 0 1em; color: #222; line-height: 1.4; }
h1 { font-size: 1.8em; } h2 { border-bottom: 2px solid #ddd; padding-bottom: .2em;
       margin-top: 2em; } h3 { margin-top: 1.5em; }
table { border-collapse: collapse; margin: .5em 0 1em; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.bad td { background: #fde2e2; } tr.fail td { background: #fde2e2; font-weight: bold; }
.ok { color: #1b5e20; font-weight: bold; } .bad { color: #c62828; font-weight: bold; }
code, td.code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .92em; }
/* pictures use the whole window and fit its width; "actual size" (no script: a checkbox)
   shows them unscaled, to scroll through */
.picture { overflow: auto; border: 1px solid #ddd; margin: .3em 0 1.5em; background: #fff;
           width: 96vw; position: relative; left: 50%; margin-left: -48vw; }
.picture svg { display: block; width: 100%; height: auto; margin: 0 auto; }
.zoom:checked + label + .picture svg { width: var(--w); max-width: none !important; }
label { font-size: .9em; color: #444; cursor: pointer; }
.placeholder { border: 2px dashed #999; padding: 1em; background: #fafafa; }
details > summary { cursor: pointer; font-weight: bold; margin: .4em 0; }
nav ul { columns: 2; }
"""



def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


_PROLOGUE = re.compile(r"^.*?(?=<svg\b)", re.S)
_COMMENT = re.compile(r"<!--.*?-->\n?", re.S)


_SIZE = re.compile(r'<svg width="([\d.]+)pt" height="[\d.]+pt"')


def inline_svg(svg: bytes, prefix: str) -> str:
    """An SVG document as an element for the page: no XML prologue, its ids prefixed so
    that the many pictures on one page do not share ids, and sized to fit the page's width
    (the height follows from the viewBox) but never beyond its own size."""
    text = _PROLOGUE.sub("", svg.decode(), count=1)
    text = _COMMENT.sub("", text)
    text = _SIZE.sub(lambda m: f'<svg style="--w: {m.group(1)}pt; max-width: {m.group(1)}pt"',
                     text, count=1)
    return re.sub(r'\bid="([^"]*)"', lambda m: f'id="{prefix}-{m.group(1)}"', text)


def _verdicts(rows: list[gatemod.Row]) -> str:
    out = ["<table><tr><th>variant</th><th>N</th><th>expected</th><th>verdict</th>"
           "<th>states</th><th>seconds</th><th></th></tr>"]
    for r in rows:
        mark = '<span class="ok">ok</span>' if r.ok else '<span class="bad">MISMATCH</span>'
        out.append(
            f'<tr class="{"" if r.ok else "bad"}"><td>{_e(r.variant)}</td>'
            f'<td class="num">{r.requests}</td><td>{_e(r.expected_text())}</td>'
            f"<td>{_e(r.result.verdict())}</td><td class=\"num\">{r.result.states}</td>"
            f'<td class="num">{r.result.seconds:.3f}</td><td>{mark}</td></tr>')
    out.append("</table>")
    return "\n".join(out)


def _mutation(report: gatemod.MutationReport | None, stale: list[str]) -> str:
    if report is None:
        return "<p>Mutants were not run for this page (<code>--no-mutants</code>).</p>"
    out = [
        f"<p><b>mutation score: {report.score:.1%}</b> (killed / non-equivalent): "
        f"{len(report.outcomes)} mutants generated, {len(report.killed)} killed, "
        f"{len(report.equivalent)} equivalent (listed with reasons), "
        f"{len(report.unexplained)} unexplained.</p>",
        "<table><tr><th>property</th><th>mutants it kills</th></tr>",
    ]
    for prop, count in report.by_property().items():
        out.append(f'<tr><td>{_e(prop)}</td><td class="num">{count}</td></tr>')
    out.append("</table>")
    if report.unexplained:
        out.append('<p class="bad">Survivors not listed as equivalent:</p><ul>')
        out += [f"<li><code>{_e(o.name)}</code>: {_e(o.description)}</li>"
                for o in report.unexplained]
        out.append("</ul>")
    if stale:
        out.append('<p class="bad">Stale equivalences (mutant killed or gone):</p><ul>')
        out += [f"<li><code>{_e(name)}</code></li>" for name in stale]
        out.append("</ul>")
    if report.equivalent:
        out.append(f"<details><summary>the {len(report.equivalent)} equivalent mutants and "
                   "why</summary><table><tr><th>mutant</th><th>why it behaves like the "
                   "original</th></tr>")
        out += [f"<tr><td class=\"code\">{_e(o.name)}</td><td>{_e(gatemod.reason(o.name))}"
                "</td></tr>" for o in report.equivalent]
        out.append("</table></details>")
    return "\n".join(out)


def _picture(p: Picture) -> str:
    svg = inline_svg(render(p.graph, "svg"), p.stem)
    return (f'<h3 id="{_e(p.stem)}">{_e(p.caption)}</h3>\n'
            f'<input type="checkbox" class="zoom" id="zoom-{_e(p.stem)}">'
            f'<label for="zoom-{_e(p.stem)}"> actual size</label>\n'
            f'<div class="picture">{svg}</div>')


def _steps(p: Picture) -> str:
    assert p.variant is not None and p.trace is not None
    out = ["<details open><summary>the steps as a table</summary>",
           "<table><tr><th>#</th><th>request</th><th>actor</th><th>place</th>"
           "<th>statement</th><th>choice</th><th>effects</th></tr>"]
    for row in explain_rows(p.variant, p.trace):
        req = "" if row["request"] is None else f"#{row['request']} {row['kind']}"
        out.append(
            f'<tr><td class="num">{row["step"]}</td><td>{_e(req)}</td>'
            f"<td>{_e(row['actor'])}</td><td class=\"code\">{_e(row['place'])}</td>"
            f"<td class=\"code\">{_e(row['statement'])}</td><td>{_e(row['choice'])}</td>"
            f"<td>{_e('; '.join(row['effects']))}</td></tr>")
        if "violation" in row:
            v = row["violation"]
            subject = f" ({v['subject']})" if v["subject"] else ""
            out.append(f'<tr class="fail"><td></td><td colspan="6">{_e(v["property"])}'
                       f"{_e(subject)}: {_e(v['message'])}</td></tr>")
    out.append("</table></details>")
    return "\n".join(out)


def gate_ok(rows: list[gatemod.Row], report: gatemod.MutationReport | None,
            stale: list[str]) -> bool:
    """As ``make check`` judges: every verdict as expected, no unexplained survivor."""
    return all(r.ok for r in rows) and (report is None or (not report.unexplained
                                                           and not stale))


@dataclass(frozen=True)
class ProofRow:
    variant: str
    rtype: str
    verdict: Verdict
    queries: int
    seconds: float
    invariant: tuple[str, ...]


def run_proofs(names: Sequence[str] | None = None,
               types: Sequence[str] = ("read", "write")) -> list[ProofRow]:
    """The z3 proofs of the catalogue entries (all, or ``names``) for the request
    ``types``."""
    from backing_aio.verify.prove import candidate, invariant_text, prove
    from backing_aio.verify.symbolic import build

    out = []
    cat = catalogue()
    for v in (cat[n] for n in (names or list(cat))):
        for rtype in (t for t in types if t in v.kinds):
            system = build(v, rtype, within=candidate(v, rtype))
            p = prove(v, rtype, system)
            out.append(ProofRow(v.name, rtype, of_proof(p), p.queries, p.seconds,
                                tuple(invariant_text(p, system))))
    return out


def _proofs(proofs: list[ProofRow] | None) -> list[str]:
    if proofs is None:
        return ['<div class="placeholder"><p>Proofs were not run for this report '
                "(<code>backing-aio report --proofs</code>, or "
                "<code>backing-aio prove VARIANT</code>).</p></div>"]
    parts = ["<p>Unbounded proofs with z3 over rules obtained by running the model's step "
             "function on symbolic data; the invariant is checked with one query per rule. "
             "&ldquo;holds for all N&rdquo; is shown only when the any-N argument was "
             "proved too.</p>",
             "<table><tr><th>variant</th><th>request</th><th>verdict</th>"
             "<th>z3 queries</th><th>seconds</th><th>invariant</th></tr>"]
    for r in proofs:
        cls = "" if r.verdict.decided and not r.verdict.failed else ' class="bad"'
        inv = "<br>".join(_e(line) for line in r.invariant)
        parts.append(f"<tr{cls}><td>{_e(r.variant)}</td><td>{_e(r.rtype)}</td>"
                     f"<td>{_e(r.verdict.text())}</td><td class=\"num\">{r.queries}</td>"
                     f"<td class=\"num\">{r.seconds:.1f}</td><td><details><summary>"
                     f"{len(r.invariant)} lines</summary><small>{inv}</small></details></td></tr>")
    parts.append("</table>")
    return parts


def page(rows: list[gatemod.Row], report: gatemod.MutationReport | None, stale: list[str],
         seconds: float, pictures: list[Picture], proofs: list[ProofRow] | None = None) -> str:
    ok = gate_ok(rows, report, stale)
    verdict = '<span class="ok">ok</span>' if ok else '<span class="bad">FAILED</span>'
    cat = catalogue()
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>backing-aio: report</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>backing-aio: the backing-file async IO lifecycle, checked</h1>",
        f"<p>Gate: {verdict} in {seconds:.1f}s. Every picture and table below is generated "
        "from the model (<code>make report</code>); nothing on this page loads anything from "
        "elsewhere.</p>",
        "<nav><ul>",
        '<li><a href="#catalogue">The catalogue</a></li>',
        '<li><a href="#verdicts">Verdicts</a></li>',
        '<li><a href="#mutants">Mutation score</a></li>',
        '<li><a href="#proofs">Proofs</a></li>',
        '<li><a href="#lifecycles">Lifecycles</a></li>',
        '<li><a href="#comparisons">Refactors side by side</a></li>',
        '<li><a href="#counterexamples">Counterexamples</a></li>',
        '<li><a href="#properties">Properties</a></li>',
        "</ul></nav>",
        '<h2 id="catalogue">The catalogue</h2><table><tr><th>variant</th><th>expected</th>'
        "<th>what it is</th></tr>",
    ]
    for v in cat.values():
        expect = "holds" if not v.expect else "fails " + ", ".join(sorted(v.expect))
        parts.append(f"<tr><td>{_e(v.name)}</td><td>{_e(expect)}</td><td>{_e(v.summary)}"
                     f"<br><small>{_e(v.origin)}</small></td></tr>")
    parts.append("</table>")
    parts += ['<h2 id="verdicts">Verdicts</h2>', _verdicts(rows)]
    parts += ['<h2 id="mutants">Mutation score</h2>', _mutation(report, stale)]
    parts += [
        '<h2 id="proofs">Proofs</h2>',
        PROOFS_BEGIN,
        *_proofs(proofs),
        PROOFS_END,
    ]
    sections = (
        ("lifecycles", "Lifecycles", "lifecycle",
         "The reachable states of one request, as a reviewer sees them. Edges are coloured "
         "by actor; red nodes are broken properties."),
        ("comparisons", "Refactors side by side", "compare",
         "Each version against the one it replaced: what the other lacks is bold and in "
         "colour, what both have is faded."),
        ("counterexamples", "Counterexamples", "swimlane",
         "The shortest run that breaks each property a catalogue variant breaks, one lane "
         "per actor; the failing step is red."),
    )
    for anchor, title, section, intro in sections:
        parts += [f'<h2 id="{anchor}">{title}</h2>', f"<p>{_e(intro)}</p>"]
        chosen = [p for p in pictures if p.section == section]
        if not chosen:
            parts.append("<p>None: every catalogue variant meets every property it should."
                         "</p>" if section == "swimlane" else "<p>None.</p>")
        for p in chosen:
            parts.append(_picture(p))
            if p.trace is not None:
                parts.append(_steps(p))
    parts += ['<h2 id="properties">Properties</h2>',
              "<table><tr><th>ID</th><th>what must hold</th></tr>"]
    parts += [f"<tr><td>{_e(p.id)}</td><td>{_e(p.text)}</td></tr>" for p in PROPERTIES]
    parts += ["</table>", "</body></html>", ""]
    return "\n".join(parts)
