"""What the model allows one async request to do, as outcomes the kernel's counters show.

The model of a variant (backing_aio.model.semantics) is walked for one request of a type ("read",
"write": an async kiocb, as io_uring and native AIO issue). Every run from the initial
state to the end is one sequence of steps; along it we note:

- whether the wrapper was allocated (a ``kmem_cache_zalloc`` step that succeeded);
- whether the IO was queued (the ``vfs_iocb_iter`` step chose "queues");
- whether the completion was punted (a step of the worker actor ran);
- which party freed the wrapper: the ``kmem_cache_free`` step's actor and call chain.

The free's *site* is what the kernel's kmem_cache_free tracepoint reports: the return
address of the call that led to the free. A free by the submitter is either through its
own put called right after submit ("first put": the put is called directly by the entry
procedure) or through the cleanup it runs when the IO was not queued ("cleanup": the put is
reached through another procedure). A free by the completion or its work item is
"completion". The call chain is kept too, so that the kernel function each site lies in can
be derived with the kernel's symbol table (backing_aio.kernelcheck.sites): the innermost caller of
the put that is a real (not inlined) function.

Nothing here is specific to the kernel's counters: the sets come from the model's own
steps, so a variant that, say, frees only in the completion predicts no cleanup frees.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Final

from backing_aio.model.catalogue import catalogue
from backing_aio.model.lang import KmemCacheFree, KmemCacheZalloc, Variant, VfsIocbIter
from backing_aio.model.semantics import SUBMITTER, WORKER, Action, BackingAio
from backing_aio.model.state import State, stack_of
from backing_aio.verify.graph import walk
from backing_aio.vocab import Choice

FIRST_PUT: Final = "first put"
CLEANUP: Final = "cleanup"
COMPLETION_FREE: Final = "completion"
FREE_ROLES: Final[tuple[str, ...]] = (CLEANUP, COMPLETION_FREE, FIRST_PUT)


@dataclass(frozen=True, order=True)
class Outcome:
    """How one request ended, in terms the kernel's counters can see."""

    allocated: bool
    queued: bool
    punted: bool
    freed_by: str  # one of FREE_ROLES, or "" when no wrapper was allocated

    def __str__(self) -> str:
        if not self.allocated:
            return "no wrapper"
        q = "queued" if self.queued else "not queued"
        p = ", punted" if self.punted else ""
        return f"{q}{p}, freed by {self.freed_by}"


@dataclass(frozen=True)
class FreeSite:
    """Where a free happened in the model: the role, the actor and the call chain from the
    actor's outermost procedure to the one that frees."""

    role: str
    actor: str
    chain: tuple[str, ...]
    entry_pc: int  # the statement of the outermost procedure the free is under


@dataclass(frozen=True)
class Prediction:
    variant: str
    kind: str
    outcomes: frozenset[Outcome]
    sites: frozenset[FreeSite]
    paths: int  # distinct (state, facts) pairs visited: the size of the walk

    def allows(self, o: Outcome) -> bool:
        return o in self.outcomes

    def roles(self) -> set[str]:
        return {o.freed_by for o in self.outcomes if o.allocated}

    def chains(self, role: str) -> set[tuple[str, ...]]:
        return {s.chain for s in self.sites if s.role == role}


def _free_site(model: BackingAio, state: State, action: Action) -> FreeSite | None:
    """The free this step makes, if its statement is kmem_cache_free."""
    r = state[1 + action.req]
    where = model.where(r, action.actor)
    if not isinstance(where.stmt, KmemCacheFree):
        return None
    stack = stack_of(r, action.actor)
    names = model.compiled.proc_names
    chain = tuple(names[f[0]] for f in stack)
    if action.actor != SUBMITTER:
        role = COMPLETION_FREE
    else:
        # The put called straight from the entry procedure is the submitter's own put;
        # reaching it through another procedure is the cleanup's put.
        role = FIRST_PUT if len(stack) == 2 else CLEANUP
    return FreeSite(role, action.actor, chain, stack[0][1])


# what a run has done so far: (allocated, queued, punted, freed_by)
Facts = tuple[bool, bool, bool, str]


def predict(variant: Variant, kind: str) -> Prediction:
    """Walk every run of one ``kind`` request ("read" or "write") of ``variant``: the
    walk's nodes are (state, facts so far) pairs."""
    model = BackingAio(variant)
    init: State = (1, model.new_request(kind))
    outcomes: set[Outcome] = set()
    sites: set[FreeSite] = set()

    def successors(_: int, node: tuple[State, Facts]
                   ) -> Iterator[tuple[Action, tuple[State, Facts]]]:
        state, facts = node
        if model.is_final(state):
            outcomes.add(Outcome(*facts))
            return
        r = state[1]
        for actor in model.enabled_actors(r):
            for choice in model.choices(r, actor):
                action = Action(0, actor, choice)
                where = model.where(r, actor)
                site = _free_site(model, state, action)
                nxt = model.apply(state, action)
                if isinstance(nxt, list):
                    continue  # a step that breaks a property ends no run of a good variant
                allocated, queued, punted, freed = facts
                if isinstance(where.stmt, KmemCacheZalloc) and choice == Choice.ALLOC_OK:
                    allocated = True
                if isinstance(where.stmt, VfsIocbIter) and choice == Choice.QUEUES:
                    queued = True
                if actor == WORKER:
                    punted = True
                if site is not None:
                    sites.add(site)
                    freed = site.role
                yield action, (nxt, (allocated, queued, punted, freed))

    graph = walk([(init, (False, False, False, ""))], successors)
    return Prediction(variant.name, kind, frozenset(outcomes), frozenset(sites), len(graph))


@cache
def mainline(kind: str) -> Prediction:
    """The prediction of the catalogue's ``mainline`` variant (cached)."""
    return predict(catalogue()["mainline"], kind)
