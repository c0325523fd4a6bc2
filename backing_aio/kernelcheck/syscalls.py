"""System call numbers for the calls libc has no wrapper for, per architecture.

The numbers differ between architectures (x86_64 has its own table; arm64 and riscv64 use
the generic one), and a wrong number would make a different call, so an architecture not
listed here is a reason the cross-check cannot run, never a guess.
"""

from __future__ import annotations

import functools
import platform
from typing import Final

from backing_aio.kernelcheck.errors import Unavailable

_TABLES: Final[dict[str, dict[str, int]]] = {
    "x86_64": {"io_setup": 206, "io_destroy": 207, "io_getevents": 208, "io_submit": 209,
               "perf_event_open": 298},
    # asm-generic/unistd.h
    "aarch64": {"io_setup": 0, "io_destroy": 1, "io_submit": 2, "io_getevents": 4,
                "perf_event_open": 241},
    "riscv64": {"io_setup": 0, "io_destroy": 1, "io_submit": 2, "io_getevents": 4,
                "perf_event_open": 241},
}


@functools.cache
def number(name: str, machine: str | None = None) -> int:
    """The number of system call ``name`` on ``machine`` (default: this one)."""
    arch = machine or platform.machine()
    table = _TABLES.get(arch)
    if table is None:
        raise Unavailable(f"no system call numbers for architecture {arch} (known: "
                          f"{', '.join(_TABLES)})")
    return table[name]
