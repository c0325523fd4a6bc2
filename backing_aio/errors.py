"""Bad input, as every layer reports it: one line for the user, exit 2 (cli.exits).

Here rather than in cli/ so that the model, the pictures and the cross-checks can refuse
bad input without knowing about the command line."""

from __future__ import annotations


class BadInput(Exception):
    """Bad input found below the command line (exit 2, one line)."""


class UsageError(BadInput):
    """Bad usage of a command: an option's value, a missing argument (exit 2, one line)."""
