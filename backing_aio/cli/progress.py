"""A status line for long work, on a terminal only.

Shown on stderr when stderr is a terminal and ``CI`` is not set (pipes, files and CI get
nothing), first after about a second of work (short runs stay silent), redrawn at most
ten times a second, and cleared before the result is printed, so the result is never
mixed with it. The work says what it is doing with ``update``; a small drawing thread
shows the latest text, so a long phase (one z3 query, say) is shown while it lasts. The
clock decides only what is shown, never a verdict.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
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

    def __init__(self, stream: TextIO | None = None, force: bool | None = None,
                 threaded: bool = True) -> None:
        self.stream = stream or sys.stderr
        self.enabled = wanted(self.stream) if force is None else force
        self.started = time.monotonic()
        self._threaded = threaded
        self._text = ""
        self._shown = ""
        self._width = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def update(self, text: str) -> None:
        if not self.enabled:
            return
        with self._lock:
            self._text = text[:120]
        if not self._threaded:
            self.draw()
        elif self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="progress", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        wait = max(0.0, DELAY - (time.monotonic() - self.started))
        while not self._stop.wait(wait):
            self.draw()
            wait = INTERVAL

    def draw(self) -> None:
        """Show the latest text, once the first second of work has passed."""
        with self._lock:
            if time.monotonic() - self.started < DELAY or self._text == self._shown:
                return
            line = self._text
            pad = max(0, self._width - len(line))
            self.stream.write("\r" + line + " " * pad)
            self.stream.flush()
            self._shown, self._width = line, len(line)

    def clear(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        with self._lock:
            if self.enabled and self._width:
                self.stream.write("\r" + " " * self._width + "\r")
                self.stream.flush()
            self._width, self._shown = 0, ""

    def states(self, count: int, seconds: float) -> None:
        """The explorer's callback: states so far and their rate."""
        rate = count / seconds if seconds > 0 else 0.0
        self.update(f"{count:,} states, {rate:,.0f}/s")

    def steps(self, what: str, done: int, total: int) -> None:
        """A count of finished pieces of work (mutants, variants, request types)."""
        self.update(f"{what}: {done}/{total}")


def counter(what: str = "mutants") -> Callable[[int, int], None] | None:
    """A ``done/total`` callback showing ``what`` on a terminal after about a second of
    work, cleared when the last one is done; None (quiet) in CI and in pipes."""
    line = Progress()
    if not line.enabled:
        return None

    def show(i: int, total: int) -> None:
        if i >= total:
            line.clear()
        else:
            line.steps(what, i, total)

    return show
