"""How long lifting and checking the kernel's C takes: for each input (a C file, a tree, a
patch), in a fresh interpreter, the parse and lift, then the explorer at N = 1..3; the
median of a few runs (``make bench`` writes bench/lift.txt)."""

from __future__ import annotations

import json
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from backing_aio.outputs import write_text

_CHILD: Final = r"""
import json, sys, time
t0 = time.perf_counter()
from backing_aio.cfront.inputs import variants
from backing_aio.verify.explorer import explore
t1 = time.perf_counter()
found = variants(sys.argv[1])
t2 = time.perf_counter()
states = [explore(v, n).states for v, _ in found for n in (1, 2, 3)]
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "lift": t2 - t1, "check": t3 - t2, "states": states,
                  "statements": sum(len(b) for v, _ in found for b in v.procs.values())}))
"""


@dataclass(frozen=True)
class Measure:
    imports: float
    lift: float
    check: float
    states: tuple[int, ...]
    statements: int


def measure(spec: str, repeat: int) -> Measure:
    runs = []
    for _ in range(repeat):
        done = subprocess.run([sys.executable, "-c", _CHILD, spec], capture_output=True,
                              text=True, check=True)
        runs.append(json.loads(done.stdout))

    def med(k: str) -> float:
        return statistics.median(float(r[k]) for r in runs)

    return Measure(med("import"), med("lift"), med("check"), tuple(runs[0]["states"]),
                   int(runs[0]["statements"]))


def run(specs: list[str], repeat: int, out: Path) -> None:
    lines = [
        "lift benchmark: parse and lift the helpers' C, then check N = 1..3",
        f"{time.strftime('%Y-%m-%d %H:%M:%S')}  python {platform.python_version()}  "
        f"{platform.machine()}  median of {repeat} runs, each in a fresh interpreter",
        "",
        f"{'input':<58} {'stmts':>6} {'lift s':>8} {'check s':>8} {'total s':>8}  "
        "states N=1..3 (import s)",
    ]
    for spec in specs:
        m = measure(spec, repeat)
        lines.append(f"{spec[-58:]:<58} {m.statements:>6} {m.lift:>8.3f} {m.check:>8.3f} "
                     f"{m.lift + m.check:>8.3f}  {'/'.join(map(str, m.states))} "
                     f"({m.imports:.2f})")
    text = "\n".join(lines) + "\n"
    write_text(out, text)
    print(text, end="")
