"""The bad-input tier's one contract check, and its tally of what it tried.

Every hostile input goes through `check`: the CLI must end with exit 2 or 3, exactly one error line
on stderr (click's usage errors add `Usage:`/`Try` lines around theirs), no traceback, and nothing
created, changed or removed in the working directory (the test's temporary directory, also the
command's cwd, so relative defaults such as runs/ and .genesis/ land there and are seen).
"""

from __future__ import annotations

import contextlib
import inspect
import os
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from click.testing import CliRunner, Result

from drills.cli.main import cli
from tests import REPO_ROOT

PORT_BASE = "28550"
ENTRY_POINT = REPO_ROOT / ".venv" / "bin" / "genesis-drill"


@dataclass
class Tally:
    """Bad inputs tried, and the tracebacks (and other contract breaks) they caused."""

    tried: int = 0
    tracebacks: int = 0
    broken: list[str] = field(default_factory=list)


TALLY = Tally()


def snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every entry under `root` (not following symlinks): mode, size, mtime."""
    entries = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(directory, name)
            info = path.lstat()
            entries[str(path.relative_to(root))] = (info.st_mode, info.st_size, info.st_mtime_ns)
    return entries


def _runner() -> CliRunner:
    # click < 8.2 mixes stderr into output unless told not to; 8.2+ always keeps it separate.
    if "mix_stderr" in inspect.signature(CliRunner).parameters:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    return CliRunner()


@contextlib.contextmanager
def _cwd(path: Path) -> Iterator[None]:
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def check(
    workdir: Path,
    args: Sequence[str],
    env: Mapping[str, str] | None = None,
    *,
    subprocess_run: bool = False,
    codes: tuple[int, ...] = (2, 3),
) -> str:
    """Run the CLI on one bad input and assert the contract; returns the error line."""
    TALLY.tried += 1
    label = " ".join(repr(a) if not a.isprintable() else a for a in args)
    before = snapshot(workdir)
    clean_env = {key: value for key, value in os.environ.items() if not key.startswith("GENESIS_")}
    clean_env.update(env or {})
    if subprocess_run:
        proc = subprocess.run(
            [str(ENTRY_POINT), *args],
            cwd=workdir,
            env=clean_env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        code, stderr, crashed = proc.returncode, proc.stderr, "Traceback" in proc.stderr
    else:
        unset = {key: None for key in os.environ if key.startswith("GENESIS_")}
        with _cwd(workdir):
            result: Result = _runner().invoke(cli, list(args), env={**unset, **(env or {})})
        code, stderr = result.exit_code, result.stderr
        crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
        crashed = crashed or "Traceback" in result.output
    if crashed:
        TALLY.tracebacks += 1
    after = snapshot(workdir)
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.lower().startswith("error")]
    usage = bool(lines) and lines[0].startswith("Usage:")
    problems = []
    if crashed:
        problems.append("traceback")
    if code not in codes:
        problems.append(f"exit {code}")
    if len(errors) != 1 or (not usage and len(lines) != 1):
        problems.append(f"{len(lines)} stderr lines")
    if before != after:
        changed = sorted(set(before.items()) ^ set(after.items()))
        problems.append(f"disk changed: {changed[:3]}")
    if problems:
        TALLY.broken.append(f"{label}: {', '.join(problems)}")
    assert not problems, f"{label}: {problems}\nstderr: {stderr[-2000:]}"
    return errors[0]
