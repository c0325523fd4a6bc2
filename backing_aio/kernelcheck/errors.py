"""Why a cross-check cannot run here: one line for the user (exit 2, or a test skip)."""

from __future__ import annotations


class Unavailable(Exception):
    """The machine cannot run this check (not root, no overlayfs, no tracepoint access, no
    /dev/fuse, no passthrough, ...). The message is one line."""
