"""Probing a native facility in a child process, so that a crash costs a skip, not the run.

A native binding built for another CPU dies with SIGILL, a seccomp filter may kill with
SIGSYS, a broken kernel interface may fault: any of these inside the test process (or the
gate) would end it with no result at all. ``in_child("module:function")`` runs the
function in a fresh interpreter instead and says why the facility is unavailable, or None
if the function returned. The function signals "unavailable" by raising; whatever it
raised is reported by its message. Results are not cached here: callers cache what they
probe once (``functools.cache``).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from typing import Final

# The child prints this before its one-line reason, so that a reason is never confused
# with other output (a warning at import, say).
_MARK: Final = "probe-unavailable: "

_CHILD: Final = f"""
import importlib, sys
module, _, name = sys.argv[1].partition(":")
try:
    getattr(importlib.import_module(module), name)()
except BaseException as e:
    msg = " ".join(str(e).split()) or type(e).__name__
    print({_MARK!r} + msg, flush=True)
    sys.exit(3)
"""


def in_child(target: str, what: str) -> str | None:
    """Run ``target`` ("package.module:function") in a child interpreter: None if it
    returned, else one line saying why ``what`` is unavailable here."""
    try:
        done = subprocess.run([sys.executable, "-c", _CHILD, target], capture_output=True,
                              text=True, stdin=subprocess.DEVNULL, check=False)
    except OSError as e:
        return f"{what}: the probe could not start ({e.strerror})"
    if done.returncode == 0:
        return None
    if done.returncode < 0:
        try:
            name = signal.Signals(-done.returncode).name
        except ValueError:
            name = f"signal {-done.returncode}"
        return f"{what}: the probe was killed by {name} on this machine"
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(_MARK):
            reason = line[len(_MARK):]
            return reason if reason.startswith(f"{what}:") else f"{what}: {reason}"
    last = (done.stderr.strip().splitlines() or ["no message"])[-1]
    return f"{what}: the probe exited {done.returncode} ({last})"
