"""Results as JUnit XML, the report format CI systems show test by test.

One ``<testsuite>`` per group of checks (the catalogue, z3, the mutants of the model, the C
mutants of one file), one ``<testcase>`` per check. A check that fails is a ``<failure>``
with its message; one that is not judged (a mutant listed as equivalent, a C mutant the
front-end cannot lift) is ``<skipped>`` with its reason, so a dashboard counts it apart
from a pass. The layout is the one JUnit's Ant task writes, which GitHub, GitLab and
Jenkins read: ``testsuites`` > ``testsuite`` (name, tests, failures, errors, skipped, time)
> ``testcase`` (classname, name, time).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    """One check: ``suite`` groups it, ``name`` says which; ``failure`` or ``skipped`` is
    the message of a check that failed or was not judged (neither: it passed)."""

    suite: str
    name: str
    seconds: float = 0.0
    failure: str | None = None
    skipped: str | None = None
    detail: str = ""  # written as the case's system-out (what killed a mutant …)

    def __post_init__(self) -> None:
        if self.failure is not None and self.skipped is not None:
            raise ValueError(f"{self.name}: a case fails or is skipped, not both")


def render(cases: Iterable[Case], name: str = "backing-aio") -> str:
    """The cases as one JUnit XML document, suites in the order they first appear."""
    suites: dict[str, list[Case]] = {}
    for c in cases:
        suites.setdefault(c.suite, []).append(c)
    root = ET.Element("testsuites", name=name)
    total = failures = skipped = 0
    seconds = 0.0
    for suite, members in suites.items():
        fails = sum(c.failure is not None for c in members)
        skips = sum(c.skipped is not None for c in members)
        took = sum(c.seconds for c in members)
        el = ET.SubElement(root, "testsuite", name=suite, tests=str(len(members)),
                           failures=str(fails), errors="0", skipped=str(skips),
                           time=f"{took:.3f}")
        for c in members:
            tc = ET.SubElement(el, "testcase", classname=f"{name}.{suite}", name=c.name,
                               time=f"{c.seconds:.3f}")
            if c.failure is not None:
                ET.SubElement(tc, "failure", message=c.failure.splitlines()[0],
                              type="property").text = c.failure
            elif c.skipped is not None:
                ET.SubElement(tc, "skipped", message=c.skipped)
            if c.detail:
                ET.SubElement(tc, "system-out").text = c.detail
        total, failures, skipped = total + len(members), failures + fails, skipped + skips
        seconds += took
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", "0")
    root.set("skipped", str(skipped))
    root.set("time", f"{seconds:.3f}")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
