"""Kernel resources held for a block: set up in ``open``, always released by ``close``."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Closing:
    """A context manager over ``open`` and ``close``. A set-up that fails halfway is
    released at once (``close`` must cope with a partial set-up), so a failed mount or a
    failed perf_event_open leaves nothing behind."""

    def open(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        try:
            self.open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, t: type[BaseException] | None, v: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
