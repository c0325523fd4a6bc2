"""The one walk of a reachable graph, and the graph algorithms its callers need.

Every search over model states (the explorer, the lifecycle picture, the kernel
prediction, the replay's "can the run still end", the candidate invariant, the symbolic
rules' control locations, the cross-checks) is this walk with its own ``successors``: the
walk numbers each node in the order it is found, records the edge it was found by (so a
path back to a start can be rebuilt) and every edge between known nodes (for the graph
algorithms below). Nothing here knows the model: a node is any hashable value, a label
anything the caller wants to get back on a path.

Breadth-first order (the default) makes the path recorded to each node a shortest one, so
the first violation the explorer meets is a shortest counterexample. Depth-first order is
there for the symbolic rules and the candidate invariant, whose order of discovery names
z3's variables and orders the proof's text: it stays the order those were written in.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterable
from enum import Enum
from typing import Generic, TypeVar, cast

N = TypeVar("N", bound=Hashable)
L = TypeVar("L")


class Order(Enum):
    BREADTH = "breadth"  # a queue: each node's recorded path is a shortest one
    DEPTH = "depth"  # a stack: the newest node found is expanded next


class NodeLimit(Exception):
    """The walk found more nodes than it was allowed to."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} nodes")
        self.limit = limit


class Walk(Generic[N, L]):
    """The part of a graph reachable from the starts, walked once by ``run``.

    ``successors(i, node)`` is called once per node, when the walk expands it (node ``i``
    in discovery order), and gives the node's outgoing edges as (label, target) pairs;
    it is also where a caller looks at the node, and where it may call ``stop``. Targets
    already found are not expanded again. With ``max_nodes``, finding one node more raises
    ``NodeLimit``. With ``edges=False`` only the edge each node was found by is kept (paths
    still rebuild; ``succ`` stays empty and ``cannot_reach`` is refused): a search that
    needs no graph algorithm saves a list per node and an append per edge.
    """

    def __init__(self, successors: Callable[[int, N], Iterable[tuple[L, N]]], *,
                 order: Order = Order.BREADTH, max_nodes: int | None = None,
                 edges: bool = True) -> None:
        self.successors = successors
        self.order = order
        self.max_nodes = max_nodes
        self.edges = edges
        self.nodes: list[N] = []  # by number, in discovery order
        self.index: dict[N, int] = {}
        self.parent: list[int] = []  # the node each was found from; -1 for a start
        self.via: list[L | None] = []  # the label of that edge; None for a start
        self.succ: list[list[int]] = []  # every edge, as targets' numbers
        self.stopped = False
        self._frontier: deque[int] = deque()

    def __len__(self) -> int:
        return len(self.nodes)

    def start(self, node: N) -> int:
        """Add a start (once: a repeated start keeps its first number)."""
        i = self.index.get(node)
        if i is None:
            i = self._add(node, -1, None)
        return i

    def _add(self, node: N, parent: int, label: L | None) -> int:
        i = len(self.nodes)
        if self.max_nodes is not None and i >= self.max_nodes:
            raise NodeLimit(self.max_nodes)
        self.index[node] = i
        self.nodes.append(node)
        self.parent.append(parent)
        self.via.append(label)
        if self.edges:
            self.succ.append([])
        self._frontier.append(i)
        return i

    def stop(self) -> None:
        """End the walk once the node being expanded is done."""
        self.stopped = True

    def run(self) -> Walk[N, L]:
        """Expand every node found (until ``stop``); returns the walk itself."""
        frontier = self._frontier
        take = frontier.popleft if self.order is Order.BREADTH else frontier.pop
        index, nodes, succ, successors = self.index, self.nodes, self.succ, self.successors
        parent, via, limit, edges = self.parent, self.via, self.max_nodes, self.edges
        # _add by hand: this loop is the explorer's, once per edge
        while frontier and not self.stopped:
            i = take()
            out = succ[i] if edges else None  # without edges: only the one each was found by
            for label, nxt in successors(i, nodes[i]):
                j = index.get(nxt)
                if j is None:
                    j = len(nodes)
                    if limit is not None and j >= limit:
                        raise NodeLimit(limit)
                    index[nxt] = j
                    nodes.append(nxt)
                    parent.append(i)
                    via.append(label)
                    if edges:
                        succ.append([])
                    frontier.append(j)
                if out is not None:
                    out.append(j)
        return self

    def path(self, i: int) -> tuple[N, tuple[L, ...]]:
        """The start node ``i`` was found from and the labels of the edges that lead from
        it to ``i`` (in breadth-first order: a shortest such path)."""
        labels: list[L] = []
        while True:
            p = self.parent[i]
            if p < 0:
                return self.nodes[i], tuple(reversed(labels))
            labels.append(cast(L, self.via[i]))  # only a start has None
            i = p

    def cannot_reach(self, targets: Iterable[int]) -> list[int]:
        """The nodes (by number, in discovery order) from which no path leads to one of
        ``targets``."""
        if not self.edges:
            raise ValueError("a walk without its edges cannot answer cannot_reach")
        return cannot_reach(self.succ, targets)


def walk(starts: Iterable[N], successors: Callable[[int, N], Iterable[tuple[L, N]]], *,
         order: Order = Order.BREADTH, max_nodes: int | None = None) -> Walk[N, L]:
    """Walk everything reachable from ``starts`` (see ``Walk``)."""
    w: Walk[N, L] = Walk(successors, order=order, max_nodes=max_nodes)
    for s in starts:
        w.start(s)
    return w.run()


def cannot_reach(succ: list[list[int]], targets: Iterable[int]) -> list[int]:
    """The nodes (by number) of the graph ``succ`` (each node's targets) from which no path
    leads to one of ``targets``: backward reachability from the targets."""
    preds: list[list[int]] = [[] for _ in succ]
    for i, out in enumerate(succ):
        for j in out:
            preds[j].append(i)
    reaches = bytearray(len(succ))
    work = list(targets)
    for i in work:
        reaches[i] = 1
    while work:
        j = work.pop()
        for i in preds[j]:
            if not reaches[i]:
                reaches[i] = 1
                work.append(i)
    return [i for i in range(len(succ)) if not reaches[i]]
