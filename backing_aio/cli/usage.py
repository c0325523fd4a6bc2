"""Bad input and usage for every command line of the project: exit 2, one line."""

from __future__ import annotations

import argparse
from typing import NoReturn

from backing_aio.errors import UsageError


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is a one-line ``UsageError`` (not a usage dump)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)
