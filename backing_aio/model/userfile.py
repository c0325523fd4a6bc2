"""Variants from a user's own Python file, checked without editing the package.

The file builds variants with ``backing_aio.model.lang`` (``stmt``, ``Variant``) and exposes them
either as a module-level ``VARIANTS`` list or simply as module-level ``Variant`` objects. Anything
wrong with the file (missing, not Python, a statement with a missing argument, a jump to
nowhere) becomes a ``UserFileError`` with a one-line message naming the file and line.

The file is the user's code, run in this process, so it is kept from changing the outcome:
what it prints while it is imported is captured (it would corrupt ``--json``), and
``sys.exit`` or any other exception it raises is bad input naming the file, never the
process's exit code.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import sys
import traceback
from pathlib import Path

from backing_aio.model.lang import Variant, VariantError


class UserFileError(Exception):
    """A user's variant file cannot be used (one-line message)."""


def _where(path: Path, exc: BaseException) -> str:
    """file:line of the innermost frame of the user's file in the exception's traceback."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename).resolve() == path.resolve():
            line = frame.lineno
    if isinstance(exc, SyntaxError) and exc.lineno is not None:
        line = exc.lineno
    return f"{path}:{line}" if line is not None else str(path)


def load_variants(path: Path) -> dict[str, Variant]:
    """Import ``path`` and return its variants by name (in file order)."""
    if not path.is_file():
        raise UserFileError(f"{path}: no such file")
    if path.suffix != ".py":
        raise UserFileError(f"{path}: a variant file is Python source ending in .py")
    name = f"backing_aio_user_{abs(hash(path.resolve()))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UserFileError(f"{path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            spec.loader.exec_module(module)
    except SystemExit as e:
        raise UserFileError(f"{_where(path, e)}: the file calls sys.exit({e.code!r}) "
                            "while it is loaded") from None
    except KeyboardInterrupt:
        raise
    except VariantError as e:
        raise UserFileError(f"{_where(path, e)}: {e}") from None
    except SyntaxError as e:
        raise UserFileError(f"{_where(path, e)}: syntax error: {e.msg}") from None
    except BaseException as e:  # the user's code: any failure is bad input, in one line
        msg = str(e).splitlines()[0] if str(e) else ""
        raise UserFileError(f"{_where(path, e)}: {type(e).__name__}: {msg}") from None
    finally:
        sys.modules.pop(name, None)
    if printed.getvalue():
        lines = len(printed.getvalue().splitlines()) or 1
        sys.stderr.write(f"note: {path} printed {lines} line(s) while it was loaded "
                         "(ignored: standard output carries only the results)\n")
    found: list[Variant]
    listed = getattr(module, "VARIANTS", None)
    if listed is not None:
        if not isinstance(listed, list | tuple) or not all(isinstance(v, Variant) for v in listed):
            raise UserFileError(f"{path}: VARIANTS must be a list of Variant objects")
        found = list(listed)
    else:
        found = [v for v in vars(module).values() if isinstance(v, Variant)]
    if not found:
        raise UserFileError(f"{path}: defines no variants (no VARIANTS list, no Variant objects)")
    out: dict[str, Variant] = {}
    for v in found:
        if v.name in out and out[v.name] is not v:
            raise UserFileError(f"{path}: two variants are named {v.name!r}")
        out[v.name] = v
    return out
