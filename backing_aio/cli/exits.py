"""One exit-code policy for every command line of the project.

| code | meaning |
|---|---|
| 0 | every verdict is as expected |
| 1 | a check found a problem (a property fails that should hold, a known bug is no longer
|   | found, a saved counterexample still replays) |
| 2 | bad input or usage: one line on stderr naming the problem (a bad argument, a variant
|   | file that cannot be used, a trace that does not fit its variant, an output path that
|   | cannot be written, a machine that cannot run the check) |
| 3 | an internal error: a bug in the project, one line (``BACKING_AIO_TRACEBACK=1`` shows
|   | the traceback) |
| 130 | interrupted (Ctrl-C), one line |

Never a traceback. A closed standard output (``| head -1``: the reader has gone) is not
success: the command carries on with its output discarded and exits with its verdict, so
a finding stays 1 whatever happens to the pipe. With ``--json`` on the command line an
error is one JSON object on stderr (``{"format": "backing-aio-error/1", ...}``).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, Final, TextIO

from backing_aio.errors import BadInput as BadInput  # re-exported
from backing_aio.errors import UsageError

EXIT_OK: Final = 0
EXIT_FOUND: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERNAL: Final = 3
EXIT_INTERRUPTED: Final = 130
ERROR_FORMAT: Final = "backing-aio-error/1"



class _PipeSafe:
    """Standard output that survives its reader leaving: the first EPIPE points the
    descriptor at /dev/null (so nothing, the interpreter's last flush included, fails
    again) and every later write is dropped."""

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner
        self.closed_by_reader = False

    def write(self, text: str) -> int:
        if not self.closed_by_reader:
            try:
                return self._inner.write(text)
            except BrokenPipeError:
                self._reader_gone()
        return len(text)

    def flush(self) -> None:
        if not self.closed_by_reader:
            try:
                self._inner.flush()
            except BrokenPipeError:
                self._reader_gone()

    def _reader_gone(self) -> None:
        self.closed_by_reader = True
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._inner.fileno())
            os.close(devnull)

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding, ...
        return getattr(self._inner, name)


def one_line(text: str) -> str:
    """A message as one line: what follows the first line is dropped, runs of white space
    are one space."""
    first = str(text).strip().splitlines()[0] if str(text).strip() else ""
    return " ".join(first.split())


def _say(prog: str, message: str, code: int, as_json: bool) -> None:
    message = one_line(message)
    with contextlib.suppress(OSError, ValueError):
        if as_json:
            sys.stderr.write(json.dumps({"format": ERROR_FORMAT, "program": prog,
                                         "error": message, "exit": code}) + "\n")
        else:
            sys.stderr.write(f"{prog}: error: {message}\n")
        sys.stderr.flush()


def _os_error(e: OSError) -> str:
    what = e.strerror or str(e)
    name = e.filename if e.filename is not None else None
    return f"{name}: {what}" if name is not None else what


def run(prog: str, body: Callable[[], int], argv: Sequence[str] | None = None,
        bad_input: tuple[type[BaseException], ...] = ()) -> int:
    """Run a command's ``body`` under the policy above and return its exit code.
    ``bad_input``: the exception types (besides UsageError and BadInput) whose message is
    a one-line account of bad input."""
    args = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in args
    guard: _PipeSafe | None = None
    if not isinstance(sys.stdout, _PipeSafe):
        guard = _PipeSafe(sys.stdout)
        sys.stdout = guard
    try:
        try:
            code = body()
        finally:
            with contextlib.suppress(OSError, ValueError):
                sys.stdout.flush()
        return code
    except KeyboardInterrupt:
        _say(prog, "interrupted", EXIT_INTERRUPTED, as_json)
        return EXIT_INTERRUPTED
    except (UsageError, BadInput) as e:
        _say(prog, str(e) or type(e).__name__, EXIT_USAGE, as_json)
        return EXIT_USAGE
    except bad_input as e:
        _say(prog, str(e) or type(e).__name__, EXIT_USAGE, as_json)
        return EXIT_USAGE
    except SystemExit as e:  # argparse's --help, or a user's code that got past the loader
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else EXIT_USAGE)
        if code not in (EXIT_OK, EXIT_USAGE):
            _say(prog, f"exit {code} requested from inside the run", EXIT_INTERNAL, as_json)
            return EXIT_INTERNAL
        return code
    except OSError as e:  # a file named on the command line: missing, unwritable, full
        _say(prog, _os_error(e), EXIT_USAGE, as_json)
        return EXIT_USAGE
    except MemoryError:
        _say(prog, "out of memory (fewer requests, or a smaller --max-states)", EXIT_USAGE,
             as_json)
        return EXIT_USAGE
    except Exception as e:
        if os.environ.get("BACKING_AIO_TRACEBACK"):
            raise
        _say(prog, f"internal error: {type(e).__name__}: {e} (BACKING_AIO_TRACEBACK=1 "
             "shows where)", EXIT_INTERNAL, as_json)
        return EXIT_INTERNAL
    finally:
        if guard is not None:
            sys.stdout = guard._inner
