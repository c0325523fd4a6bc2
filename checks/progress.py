"""A status line for long work, on a terminal only.

Shown on stderr when stderr is a terminal and ``CI`` is not set (pipes, files and CI get
nothing), first after about a second of work (short runs stay silent), redrawn at most
ten times a second, and cleared before the result is printed, so the result is never
mixed with it. The clock decides only what is shown, never a verdict.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Final, TextIO

DELAY: Final = 1.0  # seconds of work before the first line
INTERVAL: Final = 0.1  # seconds between redraws


def wanted(stream: TextIO | None = None) -> bool:
    """Whether a status line belongs on ``stream`` (default stderr)."""
    stream = stream or sys.stderr
    try:
        return stream.isatty() and not os.environ.get("CI")
    except (AttributeError, ValueError):
        return False


class Progress:
    """``update(text)`` as often as convenient; ``clear()`` before printing results."""

    def __init__(self, stream: TextIO | None = None, force: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = wanted(self.stream) if force is None else force
        self.started = time.monotonic()
        self._last = 0.0
        self._width = 0

    def update(self, text: str) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.started < DELAY or now - self._last < INTERVAL:
            return
        self._last = now
        line = text[:120]
        pad = max(0, self._width - len(line))
        self.stream.write("\r" + line + " " * pad)
        self.stream.flush()
        self._width = len(line)

    def clear(self) -> None:
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0

    def states(self, count: int, seconds: float) -> None:
        """The explorer's callback: states so far and their rate."""
        rate = count / seconds if seconds > 0 else 0.0
        self.update(f"{count:,} states, {rate:,.0f}/s")

    def steps(self, what: str, done: int, total: int) -> None:
        """A count of finished pieces of work (mutants, variants, z3 queries)."""
        self.update(f"{what}: {done}/{total}")
