"""Directory options checked at the edge: one line naming the path and what is wrong, exit 2.

`--state-dir /dev/null/x`, `--runs-dir /proc/x` or a read-only directory used to surface deep in
a command as a traceback (NotADirectoryError, PermissionError, sqlite3.OperationalError). Each
directory option now goes through `WritableDirectory`, which refuses, before the command runs:
an empty path (it would mean the current directory), a path that exists but is not a directory,
a path below a file, and a directory the command could not write in. Writability is tested by
trying — creating and removing a temporary file in the directory, or in its nearest existing
ancestor when it does not exist yet — because root ignores permission bits, and /proc or a
read-only mount refuse even root.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import click

from drills.errors import InvalidInput


class BadDirectory(click.ClickException):
    """Click's own one-line error (`Error: ...`, no usage block), with the invalid-input code."""

    exit_code = InvalidInput.exit_code


def directory_problem(raw: str) -> str | None:
    """What makes `raw` unusable as a directory the harness writes in, or None.

    A string, not a Path: `Path("")` is `.`, and an empty flag must not mean the current directory.
    """
    if not raw.strip() or "\0" in raw:
        return "empty or not a path (use '.' for the current directory explicitly)"
    absolute = Path(os.path.abspath(raw))
    if absolute.exists() and not absolute.is_dir():
        return "exists and is not a directory"
    existing = absolute
    while not existing.exists():
        if existing.is_symlink():
            return f"{existing} is a dangling symbolic link"
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a directory, so nothing can be created below it"
    try:
        fd, probe = tempfile.mkstemp(prefix=".genesis-write-probe-", dir=existing)
    except OSError as error:
        return f"not writable: a file cannot be created in {existing} ({error.strerror or error})"
    os.close(fd)
    os.unlink(probe)
    return None


def check_directory(raw: str | Path, source: str) -> Path:
    """`raw` as a usable directory, or `InvalidInput` naming `source` (a flag or variable)."""
    problem = directory_problem(str(raw))
    if problem:
        raise InvalidInput(f"{source}={str(raw)!r}: {problem}")
    return Path(raw)


class WritableDirectory(click.ParamType[Path]):
    """A click type for `--state-dir` / `--runs-dir`: a directory that is, or can be, written."""

    name = "directory"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path:
        flag = param.opts[0] if param is not None and param.opts else "directory"
        text = str(value) if isinstance(value, Path) else value
        if not isinstance(text, str):
            raise BadDirectory(f"{flag}: {value!r} is not a path")
        problem = directory_problem(text)
        if problem:
            raise BadDirectory(f"{flag} {text!r}: {problem}")
        return Path(text)
