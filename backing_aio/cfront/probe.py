"""tree-sitter is native code: whether it runs here is probed in a child process.

A wheel built for instructions this CPU lacks would die with SIGILL in the first parse,
taking the gate or the test run with it; ``unavailable()`` parses a small C function in a
child interpreter first (backing_aio.refimpl.probe) and says why the parser cannot be
used, naming the signal if the child was killed.
"""

from __future__ import annotations

from functools import cache

_SAMPLE = b"static void put(struct w *w) { if (refcount_dec_and_test(&w->ref)) kfree(w); }\n"


def selftest() -> None:
    """Parse a function and find its if statement, as the front-end does."""
    import tree_sitter
    import tree_sitter_c

    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_c.language()))
    root = parser.parse(_SAMPLE).root_node
    if root.has_error or "if_statement" not in str(root):
        raise RuntimeError("tree-sitter-c: a known-good function does not parse")


@cache
def unavailable() -> str | None:
    """Why the C parser cannot be used here, or None if it can."""
    from backing_aio.refimpl.probe import in_child

    return in_child("backing_aio.cfront.probe:selftest", "tree-sitter")
