"""The environment's decisions: what may go wrong, and who decides.

The allocator, the caller's ``ovl_real_fdget``, the superblock's workqueue set-up, the
lower filesystem and the upper layer (whether it sets IOCB_DIO_CALLER_COMP on an async
write, ``caller_comp``) each ask ``Env.decide(what, req)`` when they reach a decision. The
options for each decision are a table (a fault plan); a ``Chooser``
(backing_aio.refimpl.sched) picks one.

An option is a model choice (``backing_aio.vocab.Choice``) or a ``Refinement`` of one: a
way for the same thing to happen that the model does not distinguish (a short count is
still ``RES``, ENOSPC is still an error, an inline completion still ``queues``). Each
refinement names the model choice it refines (``REFINES``). The choice a step *records* is
not the option but what actually happened (a real IO error reports ``-EIO`` whatever was
planned): see backing_aio.refimpl.lower.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Final

from backing_aio.refimpl.sched import Chooser, First
from backing_aio.vocab import CHOICES, Choice, EnvCondition, env_answer


class Refinement(StrEnum):
    """The options only the reference implementation has (stress runs, Hypothesis)."""

    RETURNS_SHORT = "returns RES (short)"
    RETURNS_ENOSPC = "returns -ENOSPC"
    # only a kiocb with IOCB_NOWAIT may get it (IO that would block); without the flag the
    # lower filesystem blocks and does the IO
    RETURNS_EAGAIN = "returns -EAGAIN (IOCB_NOWAIT)"
    QUEUES_INLINE = "queues (inline)"
    RES_SHORT = "res RES (short)"
    RES_ENOSPC = "res -ENOSPC"


# The model choice each refinement refines: its runs are that choice's runs.
REFINES: Final[dict[Refinement, Choice]] = {
    Refinement.RETURNS_SHORT: Choice.RETURNS_RES,
    Refinement.RETURNS_ENOSPC: Choice.RETURNS_EIO,
    Refinement.RETURNS_EAGAIN: Choice.RETURNS_EIO,
    Refinement.QUEUES_INLINE: Choice.QUEUES,
    Refinement.RES_SHORT: Choice.RES_RES,
    Refinement.RES_ENOSPC: Choice.RES_EIO,
}

# How an option fails or shortens the IO (backing_aio.refimpl.lower.planned).
FAILS_EIO: Final[frozenset[str]] = frozenset({Choice.RETURNS_EIO, Choice.RES_EIO})
FAILS_ENOSPC: Final[frozenset[str]] = frozenset(
    {Refinement.RETURNS_ENOSPC, Refinement.RES_ENOSPC})
SHORT: Final[frozenset[str]] = frozenset({Refinement.RETURNS_SHORT, Refinement.RES_SHORT})


# The upper layer's answer to the model's environment condition ``caller_comp``: io_uring
# sets IOCB_DIO_CALLER_COMP on an async write (kernels that have it), Linux AIO does not.
# The model asks when a step first copies the original's flags; the upper layer decides
# when it builds the kiocb, and that step records what the kiocb carries.
CALLER_COMP_YES: Final[str] = env_answer(EnvCondition.CALLER_COMP, True)
CALLER_COMP_NO: Final[str] = env_answer(EnvCondition.CALLER_COMP, False)
# The caller's answer to ``not_backing``: it hands the helpers its own file instead of the
# backing file (what the helpers' WARN_ON_ONCE(!(file->f_mode & FMODE_BACKING)) refuses).
NOT_BACKING_YES: Final[str] = env_answer(EnvCondition.NOT_BACKING, True)
NOT_BACKING_NO: Final[str] = env_answer(EnvCondition.NOT_BACKING, False)

# The model's answers to environment conditions ("caller_comp: yes"): choices of the model
# that are not a Choice.
_ANSWERS: Final[frozenset[str]] = CHOICES - frozenset(Choice)


def model_choice(option: str) -> str:
    """The model choice an option is, or refines: a ``Choice`` or the answer to an
    environment condition (ValueError for an unknown option)."""
    if option in REFINES:
        return REFINES[Refinement(option)]
    if option in _ANSWERS:
        return option
    return Choice(option)


# Exactly the model's environment: the exhaustive search and conformance use these.
MODEL_OPTIONS: Final[dict[str, tuple[str, ...]]] = {
    "alloc": (Choice.ALLOC_OK, Choice.ALLOC_FAILS),
    "fdget": (Choice.FD_BORROWED, Choice.FD_OPENED, Choice.FD_FAILS),
    "privs": (Choice.PRIVS_OK, Choice.PRIVS_FAILS),
    "wq": (Choice.WQ_OK, Choice.WQ_FAILS),
    "sync": (Choice.RETURNS_RES, Choice.RETURNS_EIO),
    "submit": (Choice.RETURNS_RES, Choice.RETURNS_EIO, Choice.QUEUES),
    "complete": (Choice.RES_RES, Choice.RES_EIO),
    EnvCondition.CALLER_COMP: (CALLER_COMP_NO, CALLER_COMP_YES),
    EnvCondition.NOT_BACKING: (NOT_BACKING_NO, NOT_BACKING_YES),
}

# No faults: every allocation succeeds, async IO is queued and completes on another thread;
# the upper layer defers no completion (IOCB_DIO_CALLER_COMP), which a version that passes
# it down cannot survive (the seed).
NO_FAULTS: Final[dict[str, tuple[str, ...]]] = {
    "alloc": (Choice.ALLOC_OK,),
    "fdget": (Choice.FD_BORROWED,),
    "privs": (Choice.PRIVS_OK,),
    "wq": (Choice.WQ_OK,),
    "sync": (Choice.RETURNS_RES,),
    "submit": (Choice.QUEUES,),
    "complete": (Choice.RES_RES,),
    EnvCondition.CALLER_COMP: (CALLER_COMP_NO,),
    EnvCondition.NOT_BACKING: (NOT_BACKING_NO,),
}

# Everything the reference implementation can do, refinements included (stress runs).
ALL_OPTIONS: Final[dict[str, tuple[str, ...]]] = {
    "alloc": (Choice.ALLOC_OK, Choice.ALLOC_FAILS),
    "fdget": (Choice.FD_BORROWED, Choice.FD_OPENED, Choice.FD_FAILS),
    "privs": (Choice.PRIVS_OK, Choice.PRIVS_FAILS),
    "wq": (Choice.WQ_OK, Choice.WQ_FAILS),
    "sync": (Choice.RETURNS_RES, Refinement.RETURNS_SHORT, Choice.RETURNS_EIO,
             Refinement.RETURNS_ENOSPC, Refinement.RETURNS_EAGAIN),
    "submit": (Choice.RETURNS_RES, Refinement.RETURNS_SHORT, Choice.RETURNS_EIO,
               Refinement.RETURNS_ENOSPC, Refinement.RETURNS_EAGAIN, Choice.QUEUES,
               Refinement.QUEUES_INLINE),
    "complete": (Choice.RES_RES, Refinement.RES_SHORT, Choice.RES_EIO,
                 Refinement.RES_ENOSPC),
    EnvCondition.CALLER_COMP: (CALLER_COMP_NO, CALLER_COMP_YES),
    EnvCondition.NOT_BACKING: (NOT_BACKING_NO, NOT_BACKING_YES),
}

# Weights for seeded stress runs: faults are the exception, queued IO the rule.
STRESS_WEIGHTS: Final[dict[str, float]] = {
    Choice.ALLOC_OK: 50.0, Choice.ALLOC_FAILS: 1.0,
    Choice.FD_BORROWED: 20.0, Choice.FD_OPENED: 1.0, Choice.FD_FAILS: 0.5,
    Choice.PRIVS_OK: 50.0, Choice.PRIVS_FAILS: 1.0,
    NOT_BACKING_NO: 50.0, NOT_BACKING_YES: 1.0,
    Choice.WQ_OK: 50.0, Choice.WQ_FAILS: 1.0,
    Choice.RETURNS_RES: 10.0, Refinement.RETURNS_SHORT: 1.0, Choice.RETURNS_EIO: 1.0,
    Refinement.RETURNS_ENOSPC: 0.5, Refinement.RETURNS_EAGAIN: 0.5,
    Choice.QUEUES: 30.0, Refinement.QUEUES_INLINE: 3.0,
    Choice.RES_RES: 20.0, Refinement.RES_SHORT: 1.0, Choice.RES_EIO: 1.0,
    Refinement.RES_ENOSPC: 0.5,
    # not a fault: half the async writes come from io_uring, which sets the flag
    CALLER_COMP_NO: 1.0, CALLER_COMP_YES: 1.0,
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
        for what, known in ALL_OPTIONS.items():
            if what not in self.options or not self.options[what]:
                raise ValueError(f"no options for the {what!r} decision")
            # A misspelt option would otherwise be taken for a full, successful IO.
            for option in self.options[what]:
                if option not in known:
                    raise ValueError(f"the {what!r} decision has no option {str(option)!r} "
                                     f"(known: {', '.join(known)})")

    def decide(self, what: str, req: int) -> str:
        opts = self.options[what]
        if len(opts) == 1:
            return opts[0]
        return opts[self.chooser.pick(what, opts, req)]
