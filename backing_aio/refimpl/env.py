"""The environment's decisions: what may go wrong, and who decides.

The allocator, the caller's ``ovl_real_fdget``, the superblock's workqueue set-up and the
lower filesystem each ask ``Env.decide(what, req)`` when they reach a decision. The options
for each decision are a table (a fault plan); a ``Chooser`` (backing_aio.refimpl.sched) picks one.

Option names start with the model's choice spelling; a suffix in parentheses names a
refinement the model does not distinguish (a short count is still ``RES``, ENOSPC is still
an error, an inline completion still ``queues``). The choice a step *records* is not the
option but what actually happened (a real IO error reports ``-EIO`` whatever was planned):
see backing_aio.refimpl.lower.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from backing_aio.refimpl.sched import Chooser, First

# Exactly the model's environment: the exhaustive search and conformance use these.
MODEL_OPTIONS: Final[dict[str, tuple[str, ...]]] = {
    "alloc": ("alloc ok", "alloc fails"),
    "fdget": ("borrowed", "opened (FDPUT_FPUT)"),
    "wq": ("wq ok", "wq fails"),
    "sync": ("returns RES", "returns -EIO"),
    "submit": ("returns RES", "returns -EIO", "queues"),
    "complete": ("res RES", "res -EIO"),
}

# No faults: every allocation succeeds, async IO is queued and completes on another thread.
NO_FAULTS: Final[dict[str, tuple[str, ...]]] = {
    "alloc": ("alloc ok",),
    "fdget": ("borrowed",),
    "wq": ("wq ok",),
    "sync": ("returns RES",),
    "submit": ("queues",),
    "complete": ("res RES",),
}

# Everything the reference implementation can do, refinements included (stress runs).
ALL_OPTIONS: Final[dict[str, tuple[str, ...]]] = {
    "alloc": ("alloc ok", "alloc fails"),
    "fdget": ("borrowed", "opened (FDPUT_FPUT)"),
    "wq": ("wq ok", "wq fails"),
    "sync": ("returns RES", "returns RES (short)", "returns -EIO", "returns -ENOSPC"),
    "submit": ("returns RES", "returns RES (short)", "returns -EIO", "returns -ENOSPC",
               "queues", "queues (inline)"),
    "complete": ("res RES", "res RES (short)", "res -EIO", "res -ENOSPC"),
}

# Weights for seeded stress runs: faults are the exception, queued IO the rule.
STRESS_WEIGHTS: Final[dict[str, float]] = {
    "alloc ok": 50.0, "alloc fails": 1.0,
    "borrowed": 20.0, "opened (FDPUT_FPUT)": 1.0,
    "wq ok": 50.0, "wq fails": 1.0,
    "returns RES": 10.0, "returns RES (short)": 1.0, "returns -EIO": 1.0,
    "returns -ENOSPC": 0.5,
    "queues": 30.0, "queues (inline)": 3.0,
    "res RES": 20.0, "res RES (short)": 1.0, "res -EIO": 1.0, "res -ENOSPC": 0.5,
}


class Env:
    """Asks the chooser whenever a decision has more than one option."""

    def __init__(
        self,
        chooser: Chooser | None = None,
        options: Mapping[str, Sequence[str]] = NO_FAULTS,
    ) -> None:
        self.chooser: Chooser = chooser or First()
        self.options = {k: tuple(v) for k, v in options.items()}
        for what in MODEL_OPTIONS:
            if what not in self.options or not self.options[what]:
                raise ValueError(f"no options for the {what!r} decision")

    def decide(self, what: str, req: int) -> str:
        opts = self.options[what]
        if len(opts) == 1:
            return opts[0]
        return opts[self.chooser.pick(what, opts, req)]
