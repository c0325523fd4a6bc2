"""An overlayfs mount in a temporary directory: lower, upper, work, merged.

The mount is always undone, also when the body raises: ``umount``, and if the mount is busy
(a descriptor still open somewhere) a lazy unmount, which detaches it at once; then the
directories are removed. Nothing stays mounted.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from backing_aio.kernelcheck.closing import Closing
from backing_aio.kernelcheck.errors import Unavailable
from backing_aio.kernelcheck.mounts import mount, unmount_all

PREFIX = "kernelcheck-ovl-"


def require_root() -> None:
    if os.geteuid() != 0:
        raise Unavailable("needs root (mounts overlayfs and counts kernel tracepoints)")


def overlay_supported() -> bool:
    try:
        text = Path("/proc/filesystems").read_text()
    except OSError:
        return False
    return any(line.split()[-1] == "overlay" for line in text.splitlines() if line.strip())


class Overlay(Closing):
    """``with Overlay() as ov:`` files created with ``ov.lower_file`` before the mount are
    in the lower layer; ``ov.merged`` is the overlay's root."""

    def __init__(self, parent: str | Path | None = None,
                 lower_files: dict[str, bytes] | None = None) -> None:
        self.parent = parent
        self.lower_files = lower_files or {}
        self.root = Path()
        self.mounted = False

    @property
    def lower(self) -> Path:
        return self.root / "lower"

    @property
    def upper(self) -> Path:
        return self.root / "upper"

    @property
    def merged(self) -> Path:
        return self.root / "merged"

    def open(self) -> None:
        require_root()
        self.root = Path(tempfile.mkdtemp(prefix=PREFIX, dir=self.parent))
        for d in ("lower", "upper", "work", "merged"):
            (self.root / d).mkdir()
        for name, data in self.lower_files.items():
            (self.lower / name).write_bytes(data)
        opts = f"lowerdir={self.lower},upperdir={self.upper},workdir={self.root / 'work'}"
        try:
            mount("overlay", self.merged, "overlay", 0, opts)
        except OSError as e:
            reason = "no overlayfs in this kernel" if not overlay_supported() else e.strerror
            raise Unavailable(f"cannot mount overlayfs: {reason}") from None
        self.mounted = True

    def close(self) -> None:
        if self.mounted:
            unmount_all(self.merged)
            self.mounted = False
        if self.root != Path() and self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)

    def real_paths(self, name: str) -> list[Path]:
        """Where the backing file of merged/``name`` may be: the upper copy and the lower
        one (the inode the lower filesystem's tracepoints name)."""
        return [p for p in (self.upper / name, self.lower / name) if p.exists()]
