"""The one graph walk (backing_aio.verify.graph) on toy graphs, with exact counts and paths."""

from __future__ import annotations

from collections.abc import Callable, Hashable

import pytest

from backing_aio.verify.graph import NodeLimit, Order, Walk, cannot_reach, walk

Edges = dict[str, list[str]]


def over(edges: Edges, calls: list[str] | None = None
         ) -> Callable[[int, str], list[tuple[str, str]]]:
    """Successors from an adjacency table; each edge is labelled "src->dst"."""
    def successors(i: int, node: str) -> list[tuple[str, str]]:
        if calls is not None:
            calls.append(node)
        return [(f"{node}->{t}", t) for t in edges.get(node, [])]
    return successors


def edge_count(w: Walk[str, str]) -> int:
    return sum(len(out) for out in w.succ)


DIAMOND: Edges = {"a": ["b", "c"], "b": ["d"], "c": ["d"]}


def test_a_diamond_is_walked_once_per_node_in_breadth_first_order() -> None:
    calls: list[str] = []
    w = walk(["a"], over(DIAMOND, calls))
    assert w.nodes == ["a", "b", "c", "d"]
    assert calls == ["a", "b", "c", "d"]  # every node expanded exactly once
    assert len(w) == 4 and edge_count(w) == 4
    assert w.succ == [[1, 2], [3], [3], []]
    assert w.parent == [-1, 0, 0, 1]
    # d is found first through b, the first of a's successors
    assert w.path(3) == ("a", ("a->b", "b->d"))
    assert w.path(0) == ("a", ())


def test_a_cycle_ends_and_keeps_its_back_edge() -> None:
    w = walk(["a"], over({"a": ["b"], "b": ["c"], "c": ["a"]}))
    assert w.nodes == ["a", "b", "c"] and edge_count(w) == 3
    assert w.succ[2] == [0]
    assert w.path(2) == ("a", ("a->b", "b->c"))
    # no node of a cycle without an exit can reach an end
    assert w.cannot_reach([]) == [0, 1, 2]


def test_a_stuck_node_and_a_loop_cannot_reach_the_end() -> None:
    # d is the end; c has no step and is not the end; e loops on itself for ever; b can
    # still choose the end
    edges: Edges = {"a": ["b", "c"], "b": ["d", "e"], "e": ["e"]}
    w = walk(["a"], over(edges))
    assert w.nodes == ["a", "b", "c", "d", "e"]
    end = w.index["d"]
    assert [w.nodes[i] for i in w.cannot_reach([end])] == ["c", "e"]
    assert w.succ[w.index["c"]] == []  # stuck: told apart from the loop by its edges
    assert w.succ[w.index["e"]] == [w.index["e"]]


def test_the_recorded_path_is_a_shortest_one() -> None:
    # a long way round to e and a short one found later: breadth first still finds the
    # short one, because e is found at depth 1 before the long way reaches depth 4
    edges: Edges = {"a": ["b", "e"], "b": ["c"], "c": ["d"], "d": ["e"]}
    w = walk(["a"], over(edges))
    assert w.path(w.index["e"]) == ("a", ("a->e",))
    assert w.path(w.index["d"]) == ("a", ("a->b", "b->c", "c->d"))


def test_depth_first_expands_the_newest_node_first() -> None:
    calls: list[str] = []
    w = walk(["a"], over({"a": ["b", "c"], "b": ["d"], "c": ["e"]}, calls),
             order=Order.DEPTH)
    assert w.nodes == ["a", "b", "c", "e", "d"]  # numbered when found
    assert calls == ["a", "c", "e", "b", "d"]  # expanded newest first
    assert w.path(w.index["d"]) == ("a", ("a->b", "b->d"))


def test_several_starts_each_path_goes_back_to_its_own() -> None:
    w = walk(["x", "a", "x"], over({"a": ["b"], "x": ["y"], "y": ["b"]}))
    assert w.nodes == ["x", "a", "y", "b"]  # the repeated start counted once
    assert w.parent[:2] == [-1, -1]
    assert w.path(w.index["b"]) == ("a", ("a->b",))
    assert w.path(w.index["y"]) == ("x", ("x->y",))


def test_the_node_limit_is_exact() -> None:
    chain: Edges = {str(k): [str(k + 1)] for k in range(9)}  # 10 nodes
    assert len(walk(["0"], over(chain), max_nodes=10)) == 10
    with pytest.raises(NodeLimit, match="more than 9 nodes") as e:
        walk(["0"], over(chain), max_nodes=9)
    assert e.value.limit == 9


def test_an_infinite_graph_is_cut_by_the_limit() -> None:
    def count_up(_: int, n: int) -> list[tuple[None, int]]:
        return [(None, n + 1), (None, 2 * n)]

    w: Walk[int, None] = Walk(count_up, max_nodes=1000)
    w.start(1)
    with pytest.raises(NodeLimit):
        w.run()
    assert len(w) == 1000
    assert len(set(w.nodes)) == 1000


def test_stop_ends_the_walk_after_the_node_being_expanded() -> None:
    calls: list[str] = []

    def until_c(i: int, node: str) -> list[tuple[str, str]]:
        calls.append(node)
        if node == "c":
            w.stop()
        return [(node + t, t) for t in DIAMOND.get(node, []) + (["z"] if node == "c" else [])]

    w: Walk[str, str] = Walk(until_c)
    w.start("a")
    w.run()
    assert w.stopped
    assert calls == ["a", "b", "c"]  # d and z found, never expanded
    assert w.nodes == ["a", "b", "c", "d", "z"]


def test_edges_are_kept_even_to_nodes_found_before() -> None:
    # a complete graph on three nodes with self-loops: 9 edges, 3 nodes
    every: Edges = {n: ["a", "b", "c"] for n in "abc"}
    w = walk(["a"], over(every))
    assert len(w) == 3 and edge_count(w) == 9
    assert w.cannot_reach([w.index["c"]]) == []


def test_nodes_are_any_hashable_value() -> None:
    # the explorer's nodes are tuples; a node compares by value, not identity
    def grid(_: int, p: tuple[int, int]) -> list[tuple[str, tuple[int, int]]]:
        x, y = p
        return [(m, q) for m, q in (("r", (x + 1, y)), ("u", (x, y + 1)))
                if q[0] <= 2 and q[1] <= 2]

    w = walk([(0, 0)], grid)
    assert len(w) == 9 and edge_count(w) == 12
    start, labels = w.path(w.index[(2, 2)])
    assert start == (0, 0) and len(labels) == 4
    assert labels == ("r", "r", "u", "u")  # right before up: the first found at each step
    node: Hashable = (1, 1)
    assert node in w.index


def test_cannot_reach_on_a_bare_successor_table() -> None:
    succ = [[1], [2], [1], []]  # 0 -> 1 <-> 2, and 3 alone
    assert cannot_reach(succ, [3]) == [0, 1, 2]
    assert cannot_reach(succ, [2]) == [3]
    assert cannot_reach(succ, []) == [0, 1, 2, 3]


def test_a_walk_without_edges_finds_the_same_nodes_and_paths() -> None:
    """Only the edge each node was found by is kept: the same nodes, parents and shortest
    paths, no adjacency lists, and backward reachability is refused (it needs them)."""
    full = walk(["a"], over(DIAMOND))
    tree = Walk(over(DIAMOND), edges=False)
    tree.start("a")
    tree.run()
    assert tree.nodes == full.nodes and tree.parent == full.parent
    assert [tree.path(i) for i in range(4)] == [full.path(i) for i in range(4)]
    assert tree.succ == []
    with pytest.raises(ValueError):
        tree.cannot_reach([3])
