"""`platform down --purge` removes only a state directory the sandbox created (no sandbox)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from drills.cli.main import cli
from drills.sandbox import ownership


def purge(state_dir: str) -> Result:
    return CliRunner().invoke(
        cli, ["platform", "down", "--purge", "--state-dir", state_dir, "--port-base", "28450"]
    )


def someones_files(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "thesis.tex").write_text("years of work\n")
    (directory / "logs").mkdir()
    return directory


def test_plain_directory_of_files_survives_purge(tmp_path: Path) -> None:
    """A directory without the sandbox's marker is refused with exit 2 and left intact."""
    victim = someones_files(tmp_path / "x")
    result = purge(str(victim))
    assert result.exit_code == 2, result.output
    assert str(victim) in result.output and "marker" in result.output
    assert (victim / "thesis.tex").read_text() == "years of work\n"
    assert "Traceback" not in result.output


def test_empty_state_dir_flag_does_not_remove_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--state-dir ""` is refused (it used to resolve to the cwd and remove it)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keep.txt").write_text("mine\n")
    result = purge("")
    assert result.exit_code == 2, result.output
    assert (tmp_path / "keep.txt").read_text() == "mine\n"


def test_symlinked_state_dir_is_refused_and_its_target_kept(tmp_path: Path) -> None:
    """A state dir that is a symbolic link is refused, even to a marked sandbox directory."""
    target = tmp_path / "real"
    ownership.claim(target)
    (target / "logs").mkdir()
    link = tmp_path / "link"
    link.symlink_to(target)
    result = purge(str(link))
    assert result.exit_code == 2, result.output
    assert "symbolic link" in result.output
    assert (target / ownership.MARKER_NAME).is_file() and (target / "logs").is_dir()


def test_marker_written_for_another_path_is_refused(tmp_path: Path) -> None:
    """A marker copied from elsewhere does not make a directory purgeable."""
    victim = tmp_path / "x"
    victim.mkdir()
    (victim / ownership.MARKER_NAME).write_text(
        json.dumps({"format": ownership.MARKER_FORMAT, "root": str(tmp_path / "elsewhere")})
    )
    result = purge(str(victim))
    assert result.exit_code == 2 and "written for" in result.output
    assert victim.is_dir()


def test_marked_directory_with_unexpected_files_is_refused(tmp_path: Path) -> None:
    """Files the sandbox never writes at the top level make the purge refuse, naming them."""
    root = tmp_path / "state"
    ownership.claim(root)
    (root / "thesis.tex").write_text("x")
    result = purge(str(root))
    assert result.exit_code == 2 and "thesis.tex" in result.output
    assert (root / "thesis.tex").exists()


def test_directory_the_sandbox_created_is_purged_without_following_links(tmp_path: Path) -> None:
    """A marked state dir is removed; a link inside it is removed, not its target."""
    root = tmp_path / "state"
    ownership.claim(root)
    outside = someones_files(tmp_path / "outside")
    (root / "logs").mkdir()
    (root / "logs" / "supervisord.log").write_text("log\n")
    (root / "data").mkdir()
    (root / "data" / "escape").symlink_to(outside)
    result = purge(str(root))
    assert result.exit_code == 0, result.output
    assert not os.path.lexists(root)
    assert (outside / "thesis.tex").read_text() == "years of work\n"


def test_claim_never_marks_an_existing_non_empty_directory(tmp_path: Path) -> None:
    """Pointing the sandbox at a directory of files does not make that directory purgeable."""
    victim = someones_files(tmp_path / "x")
    ownership.claim(victim)
    assert not (victim / ownership.MARKER_NAME).exists()
    fresh = tmp_path / "fresh"
    ownership.claim(fresh)
    marker = json.loads((fresh / ownership.MARKER_NAME).read_text())
    assert marker == {"format": ownership.MARKER_FORMAT, "root": str(fresh)}
