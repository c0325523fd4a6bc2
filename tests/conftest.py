"""Shared helpers for the tests."""

from __future__ import annotations

from dataclasses import replace

import pytest

from model.catalogue import catalogue
from model.lang import Stmt, Variant
from model.mutants import mutants


@pytest.fixture(scope="session")
def cat() -> dict[str, Variant]:
    return catalogue()


def mutant(name: str) -> Variant:
    """A generated mutant by its stable name (fails loudly if the name is gone)."""
    base = name.split(":")[0]
    for m in mutants(catalogue()[base]):
        if m.name == name:
            return m.variant
    raise KeyError(name)


def edit(v: Variant, proc: str, body: list[Stmt] | tuple[Stmt, ...], **changes: object) -> Variant:
    """``v`` with one procedure replaced."""
    procs = dict(v.procs)
    procs[proc] = tuple(body)
    return v.with_procs(procs, **changes)


def untag(s: Stmt) -> Stmt:
    return replace(s, tag=None)
