"""z3 is native code: whether it runs on this machine is probed in a child process.

The z3-solver wheel is a compiled library; one built for instructions this CPU lacks
would die with SIGILL inside the first query, taking the gate or the test run with it.
``unavailable()`` runs a small query in a child interpreter first (backing_aio.refimpl.probe) and
says why z3 cannot be used, naming the signal if the child was killed.
"""

from __future__ import annotations

from functools import cache


def selftest() -> None:
    """A bit-vector query of the kind the proofs make, with a resource limit."""
    import z3

    x = z3.BitVec("x", 8)
    s = z3.Solver()
    s.set("rlimit", 1_000_000)
    s.add(x + 1 == 0, z3.ULT(x, 255))
    if s.check() != z3.unsat:
        raise RuntimeError(f"z3 {z3.get_version_string()}: a known-unsat query is "
                           f"{s.check()}")


@cache
def unavailable() -> str | None:
    """Why z3 cannot be used here, or None if it can."""
    from backing_aio.refimpl.probe import in_child

    return in_child("backing_aio.verify.z3native:selftest", "z3")
