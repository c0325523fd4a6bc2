"""The partial-order reductions are sound: with N = 2 they find exactly the findings of the
full product, on the catalogue and on mutants (including ones that drop a shared-file
reference they do not hold, which forces the fallback)."""

from __future__ import annotations

import pytest

from backing_aio.model.catalogue import catalogue
from backing_aio.model.lang import Variant
from backing_aio.verify.explorer import explore
from tests.conftest import mutant

MUTANTS = [
    "seed-fixed:get_file:backing_file_read_iter#9(kiocb_clone)",  # fput without get_file: over-drop
    "mainline:duplicate:backing_aio_put#1(fput_clone)",
    "seed-fixed:ref1:backing_file_write_iter#14(refcount_set)",
    "ovl-5.16:delete:ovl_read_iter#11(fd_clear_flags)",
    "mainline:swap:backing_file_write_iter#19(vfs_iocb_iter,call)",
]


def _findings(v: Variant, reduction: str) -> tuple[frozenset[tuple[str, str]], str]:
    r = explore(v, 2, kinds=["read", "write"], reduction=reduction)
    return frozenset(r.violations), r.reduction


def test_over_dropping_variant_falls_back_to_the_dependent_reduction() -> None:
    v = mutant(MUTANTS[0])
    assert explore(v, 2).reduction == "dependent"
    assert explore(catalogue()["seed"], 2).reduction == "independent"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["seed", "ovl-5.6", "ovl-5.16", "mainline", *MUTANTS])
def test_reduced_and_full_searches_agree(name: str) -> None:
    v = catalogue()[name] if name in catalogue() else mutant(name)
    full, _ = _findings(v, "none")
    for reduction in ("auto", "dependent"):
        found, _ = _findings(v, reduction)
        assert found == full, reduction
