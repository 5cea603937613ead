"""A handful of bad inputs through the real `genesis-drill` executable (not CliRunner), proving
the contract holds at the process boundary: exit code, one stderr line, no traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.badinput.support import ENTRY_POINT, PORT_BASE, check

pytestmark = pytest.mark.skipif(not ENTRY_POINT.exists(), reason="no .venv/bin/genesis-drill")


def test_a_fifo_drill_file_does_not_hang_the_process(tmp_path, workdir):
    """`validate FIFO` returns at once with exit 2 (it blocked forever before)."""
    fifo = tmp_path / "drill.yaml"
    os.mkfifo(fifo)
    assert "FIFO" in check(workdir, ["validate", str(fifo)], subprocess_run=True)


def test_a_python_tag_is_refused_by_the_process(tmp_path, workdir):
    """`run FILE --dry-run` with a !!python/name tag: exit 2, one line, no traceback."""
    path = tmp_path / "drill.yaml"
    path.write_text("name: !!python/name:os.system x\n")
    args = ["run", str(path), "--dry-run", "--state-dir", str(tmp_path / "s")]
    check(workdir, [*args, "--port-base", PORT_BASE], subprocess_run=True)


@pytest.mark.parametrize("flag", ["--max-duration", "--load"])
def test_nan_flags_are_refused_by_the_process(tmp_path, workdir, flag):
    """`--max-duration nan` / `--load nan` are usage errors (exit 2), not an internal error."""
    args = ["run", "rabbitmq-outage", "--dry-run", flag, "nan", "--state-dir", str(tmp_path / "s")]
    check(workdir, [*args, "--port-base", PORT_BASE], subprocess_run=True)


def test_deep_nesting_is_refused_by_the_process(tmp_path, workdir):
    """100,000 nested lists: exit 2 at once, no RecursionError."""
    path = tmp_path / "drill.yaml"
    path.write_text("name: " + "[" * 100_000 + "\n")
    check(workdir, ["validate", str(path)], subprocess_run=True)


def test_a_hostile_environment_port_base_is_refused_by_the_process(tmp_path, workdir):
    """GENESIS_PORT_BASE=garbage is one error line naming the variable (exit 2)."""
    args = ["run", "rabbitmq-outage", "--dry-run", "--state-dir", str(tmp_path / "s")]
    line = check(workdir, args, env={"GENESIS_PORT_BASE": "garbage"}, subprocess_run=True)
    assert "GENESIS_PORT_BASE" in line


def test_postmortem_review_of_dev_zero_is_refused_by_the_process(workdir):
    """`postmortem review /dev/zero`: refused as not a regular file (it ran out of memory)."""
    check(workdir, ["postmortem", "review", str(Path("/dev/zero"))], subprocess_run=True)
