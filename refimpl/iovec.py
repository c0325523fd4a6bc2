"""An io_uring iovec array over any writable memory, without pinning that memory.

The ``liburing`` binding's ``Iovec(list)`` reads each item's address and length. For a
``bytes`` or ``bytearray`` it reads them directly, but for any other buffer (a memoryview,
an ``mmap``) it takes a buffer export and never releases it, so the object, and the
mapping or bytearray behind it, can never be freed: one leaked O_DIRECT mapping per IO
reaches the kernel's map limit (``vm.max_map_count``) after some tens of thousands of
IOs, and mmap then fails with ENOMEM.

So ``iovec(segments)`` builds the ``Iovec`` over placeholder bytearrays of the same
lengths (nothing pinned) and then points its entries at the real memory. Where the entries
lie inside the binding's object is found once, by building an ``Iovec`` over known
bytearrays and looking for their addresses and lengths; if the binding's layout ever
changes so that they cannot be found, ``Unplaceable`` says so and io_uring is unavailable.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Sequence
from typing import Any

import liburing


class Unplaceable(RuntimeError):
    """This binding's Iovec does not hold its entries where they can be found."""


class _Entry(ctypes.Structure):
    _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]


def address(buf: Any) -> int:
    """The address of a writable buffer's first byte (the temporary ctypes view gives
    its buffer export back as soon as it is gone)."""
    return ctypes.addressof(ctypes.c_char.from_buffer(buf))


@functools.cache
def _entries_offset() -> int:
    """The offset, inside an Iovec object, of the pointer to its entries (just after the
    count of entries)."""
    probe = [bytearray(5), bytearray(7)]
    iov = liburing.Iovec(probe)
    for off in range(ctypes.sizeof(ctypes.c_void_p), 96, ctypes.sizeof(ctypes.c_void_p)):
        count = ctypes.c_size_t.from_address(id(iov) + off).value
        ptr = ctypes.c_void_p.from_address(id(iov) + off + ctypes.sizeof(ctypes.c_size_t)).value
        if count != len(probe) or not ptr:
            continue
        table = (_Entry * len(probe)).from_address(ptr)
        if all(e.iov_len == len(b) and e.iov_base == address(b)
               for e, b in zip(table, probe, strict=True)):
            return off + ctypes.sizeof(ctypes.c_size_t)
    raise Unplaceable("cannot find the entries of liburing's Iovec (the binding changed)")


def iovec(segments: Sequence[Any]) -> tuple[Any, list[Any]]:
    """An ``Iovec`` whose entries are ``segments`` (writable buffers), and what must stay
    alive until the kernel is done with it (the segments and the placeholders)."""
    offset = _entries_offset()
    placeholders = [bytearray(len(s)) for s in segments]
    iov = liburing.Iovec(placeholders)
    entries = ctypes.c_void_p.from_address(id(iov) + offset).value
    if not entries:
        raise Unplaceable("liburing's Iovec holds no entries")
    table = (_Entry * len(segments)).from_address(entries)
    for entry, seg in zip(table, segments, strict=True):
        if len(seg):  # an empty entry moves nothing: its placeholder may stay
            entry.iov_base = address(seg)
    return iov, [list(segments), placeholders]
