"""The reference implementation's KASAN: a checking allocator and the runtime findings.

Every object whose lifetime the helpers manage (the wrapper with the clone embedded in it,
the upper layer's original kiocb) derives from ``Checked`` and is allocated from a
``KmemCache``. Freeing marks its shadow; any later read or write of one of its fields raises
``UseAfterFree`` naming the allocation site, the free site and the access site, and a
second free raises ``DoubleFree``. ``KmemCache.leaks`` lists what is still allocated.

A ``Finding`` carries the model's property ID (``backing_aio.vocab.PropertyId``) so that tests
and the conformance check compare the reference implementation's verdict with the model's.
This package imports nothing from the model on purpose, only the shared names: it is the
independent side of the comparison. The one ID of its own is ``DATA`` (a byte read back
differs from the shadow copy of the file), which the model has no bytes to judge.

``checking(False)`` is the kernel built without KASAN, the benchmark's baseline: no access
checks on freed objects, no allocation or free sites recorded (the frame walk is most of
KASAN's cost here). The slab's bookkeeping stays, as it does in a kernel without KASAN: the
live objects (so a leak is still a leak) and a second free (the slab's own freelist check).
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar, Final, Generic, TypeVar

from backing_aio.vocab import PROPERTY_IDS, PropertyId

# The property only the reference implementation judges: the bytes a read returns.
DATA: Final[str] = "DATA"
# The properties a run of the reference implementation can break: the model's IDs plus DATA.
FINDING_IDS: Final[tuple[str, ...]] = (*PROPERTY_IDS, DATA)

_HERE = os.path.dirname(os.path.abspath(__file__))
# Frames in these files are plumbing; a "site" is the first frame outside them.
_PLUMBING: set[str] = {os.path.join(_HERE, "kasan.py")}


def plumbing(filename: str) -> None:
    """Frames in ``filename`` are skipped when naming a site (kernel plumbing, like the
    kmem_cache_zalloc wrapper, is not where a bug lives)."""
    _PLUMBING.add(os.path.abspath(filename))


class Finding(Exception):
    """A property broken at runtime. ``prop`` is a property ID from ``FINDING_IDS``;
    ``subject``, if any, what it is broken on, a ``backing_aio.vocab.Subject``."""

    def __init__(self, prop: str, message: str, subject: str = "") -> None:
        assert prop in FINDING_IDS, prop
        # plain strings: a finding's repr and the outputs read the same as the model's
        super().__init__(f"{prop}: {message}")
        self.prop = str(prop)
        self.message = message
        self.subject = str(subject)


_enabled = True
NO_SITE: Final[str] = "(not recorded: checking off)"


def enabled() -> bool:
    """Whether the checks are on (see ``checking``)."""
    return _enabled


@contextmanager
def checking(on: bool) -> Iterator[None]:
    """Turn the checking allocator's checks on or off for the block (process-wide, as a
    kernel configuration is: do not run checked and unchecked runs at the same time)."""
    global _enabled
    was = _enabled
    _set(on)
    try:
        yield
    finally:
        _set(was)


def _set(on: bool) -> None:
    global _enabled
    _enabled = on
    if on:
        # The checking hooks (defined below) go back on every checked class.
        setattr(Checked, "__getattribute__", Checked._checked_getattribute)  # noqa: B010
        setattr(Checked, "__setattr__", Checked._checked_setattr)  # noqa: B010
    else:
        # Plain attribute access: CPython then uses its C fast path for every subclass.
        setattr(Checked, "__getattribute__", object.__getattribute__)  # noqa: B010
        setattr(Checked, "__setattr__", object.__setattr__)  # noqa: B010


def site(skip: int = 1) -> str:
    """``function (file:line)`` of the first caller outside the allocator's own code."""
    if not _enabled:
        return NO_SITE
    f: Any = sys._getframe(skip)
    while f is not None and f.f_code.co_filename in _PLUMBING:
        f = f.f_back
    if f is None:  # pragma: no cover - there is always a caller
        return "?"
    return f"{f.f_code.co_name} ({os.path.basename(f.f_code.co_filename)}:{f.f_lineno})"


class Shadow:
    """What KASAN knows about one allocation."""

    __slots__ = ("alloc_site", "free_site", "name", "owner", "subject")

    def __init__(self, name: str, subject: str, owner: int, alloc_site: str) -> None:
        self.name = name
        self.subject = subject  # what a finding is about (a backing_aio.vocab.Subject)
        self.owner = owner  # the request it was allocated for
        self.alloc_site = alloc_site
        self.free_site: str | None = None

    def describe(self) -> str:
        out = f"{self.name} (request #{self.owner}) allocated at {self.alloc_site}"
        if self.free_site is not None:
            out += f", freed at {self.free_site}"
        return out


class UseAfterFree(Finding):
    def __init__(self, shadow: Shadow, what: str) -> None:
        super().__init__(
            PropertyId.UAF, f"use-after-free: {what} of {shadow.describe()}; accessed at {site()}",
            shadow.subject,
        )
        self.shadow = shadow


class DoubleFree(Finding):
    def __init__(self, shadow: Shadow) -> None:
        super().__init__(
            PropertyId.DOUBLE_FREE, f"double free of {shadow.describe()}; freed again at {site()}",
            shadow.subject,
        )
        self.shadow = shadow


class Checked:
    """An object living in checked memory: fields may not be used once it was freed.

    Names starting with ``_`` are bookkeeping, not fields. ``_embedded`` names fields that
    are structures embedded in this one (``&aio_req->iocb``): taking their address is not
    a memory access; using them is, and their own check sees the same shadow.
    """

    _embedded: ClassVar[frozenset[str]] = frozenset()
    _shadow: Shadow

    def __init__(self, shadow: Shadow) -> None:
        object.__setattr__(self, "_shadow", shadow)

    def _checked_getattribute(self, name: str) -> Any:
        if name[0] != "_":
            sh = object.__getattribute__(self, "_shadow")
            if sh.free_site is not None and name not in type(self)._embedded:
                raise UseAfterFree(sh, f"read of {name}")
        return object.__getattribute__(self, name)

    def _checked_setattr(self, name: str, value: Any) -> None:
        if name[0] != "_":
            sh = object.__getattribute__(self, "_shadow")
            if sh.free_site is not None:
                raise UseAfterFree(sh, f"write of {name}")
        object.__setattr__(self, name, value)

    __getattribute__ = _checked_getattribute
    __setattr__ = _checked_setattr


def shadow_of(obj: Checked) -> Shadow:
    return object.__getattribute__(obj, "_shadow")  # type: ignore[no-any-return]


T = TypeVar("T", bound=Checked)


class KmemCache(Generic[T]):
    """kmem_cache_zalloc/kmem_cache_free with KASAN's checks and a leak list."""

    def __init__(self, name: str, subject: str, ctor: Callable[[Shadow], T]) -> None:
        self.name = name
        self.subject = subject
        self.ctor = ctor
        self._serial = itertools.count()
        self._live: dict[int, Shadow] = {}
        self._lock = threading.Lock()
        self.allocs = 0
        self.frees = 0

    def alloc(self, owner: int) -> T:
        with self._lock:
            n = next(self._serial)
            sh = Shadow(f"{self.name}#{n}", self.subject, owner, site())
            self._live[id(sh)] = sh
            self.allocs += 1
        return self.ctor(sh)

    def free(self, obj: T) -> None:
        sh = shadow_of(obj)
        with self._lock:
            if sh.free_site is not None:
                raise DoubleFree(sh)
            sh.free_site = site()
            del self._live[id(sh)]
            self.frees += 1

    def leaks(self) -> list[Shadow]:
        with self._lock:
            return sorted(self._live.values(), key=lambda s: (s.owner, s.name))
