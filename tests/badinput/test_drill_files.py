"""Hostile drill files through `validate` and `run --dry-run`: exit 2, one line, no traceback,
nothing written."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from tests.badinput.hostile import (
    CATALOG,
    HOSTILE_FILES,
    composite_cases,
    mutated_document,
    mutated_text,
)
from tests.badinput.support import PORT_BASE, check

TIER = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _commands(path: Path, state: Path) -> list[list[str]]:
    return [
        ["validate", str(path)],
        ["run", str(path), "--dry-run", "--state-dir", str(state), "--port-base", PORT_BASE],
    ]


def _try_all(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        path = root / "drill.yaml"
        path.write_bytes(data)
        work = root / "work"
        work.mkdir()
        for args in _commands(path, root / "no-state"):
            line = check(work, args)
            assert str(path) in line


@TIER
@given(document=mutated_document(CATALOG))
def test_catalog_drills_with_a_hostile_number_are_refused(document):
    """A catalog drill with one number made NaN, infinite, negative, huge or of the wrong type."""
    _try_all(document.encode())


@TIER
@given(data=mutated_text(CATALOG))
def test_catalog_drills_broken_as_text_are_refused(data):
    """A catalog drill with a control character, a tag, an escape key, deep nesting or junk."""
    _try_all(data)


@pytest.mark.parametrize("case", sorted(HOSTILE_FILES))
def test_hostile_files_are_refused(case):
    """Each hand-written hostile file (tags, 100,000-deep nesting, a 5,000-digit number, 50 MB)."""
    _try_all(HOSTILE_FILES[case])


COMPOSITE = composite_cases()


@pytest.mark.parametrize("case", sorted(COMPOSITE))
def test_broken_composite_drills_are_refused(case):
    """The composite catalog drill with its steps broken: both `fault` and `steps`, one step,
    duplicate names, unknown, self or forward references, both start rules, no start, a start
    on the first step, an unknown step field, nine steps."""
    _try_all(COMPOSITE[case])


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "directory", "missing", "empty-dir"])
def test_files_that_are_not_drill_files_are_refused(tmp_path, workdir, kind):
    """A FIFO (would hang), /dev/zero (endless), a directory, a missing path, an empty dir."""
    path = {
        "fifo": tmp_path / "fifo.yaml",
        "dev-zero": Path("/dev/zero"),
        "directory": tmp_path / "dir.yaml",
        "missing": tmp_path / "missing.yaml",
        "empty-dir": tmp_path / "empty",
    }[kind]
    if kind == "fifo":
        os.mkfifo(path)
    elif kind in ("directory", "empty-dir"):
        path.mkdir()
    check(workdir, ["validate", str(path)])
    if kind != "empty-dir":  # `run` takes a file or a catalog name, not a directory
        check(workdir, _commands(path, tmp_path / "s")[1])


def test_escape_sequences_never_reach_the_terminal(workdir, tmp_path):
    """An escape sequence in a field name is printed escaped in the one error line."""
    path = tmp_path / "drill.yaml"
    path.write_text(CATALOG[0].read_text() + '"\\x1b]0;owned\\x07": 1\n')
    line = check(workdir, ["validate", str(path)])
    assert "\x1b" not in line and "\\x1b]0;owned\\x07" in line
