"""Bad-input tier: hostile drill files, plans, flags and environment values against the CLI.

No test here can start or touch a sandbox: every command gets `--state-dir` a path that does not
exist and `--port-base 28550`, and `run` only `--dry-run` or an invalid drill. The session ends
with one line the lead can quote: how many bad inputs were tried, how many tracebacks remain.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.badinput.support import TALLY


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    """An empty working directory for one command (the snapshot's root)."""
    work = tmp_path / "work"
    work.mkdir()
    yield work


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not TALLY.tried:
        return
    terminalreporter.write_line(
        f"bad-input tier: {TALLY.tried} bad inputs tried, {TALLY.tracebacks} tracebacks, "
        f"{len(TALLY.broken)} contract breaks"
    )
    for line in TALLY.broken[:20]:
        terminalreporter.write_line(f"  broken: {line}")
