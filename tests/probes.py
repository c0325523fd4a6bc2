"""Probe targets for tests/test_probe.py: each runs in a child (refimpl.probe)."""

from __future__ import annotations

import os
import signal


def works() -> None:
    """A facility that is there."""


def refuses() -> None:
    raise OSError(95, "io_uring_setup: Operation not supported")


def dies_by_sigill() -> None:
    """What a native binding built for a CPU this machine lacks does."""
    os.kill(os.getpid(), signal.SIGILL)


def dies_by_sigsys() -> None:
    """What a seccomp filter that kills on a forbidden system call does."""
    os.kill(os.getpid(), signal.SIGSYS)


def exits_quietly() -> None:
    os._exit(4)
