"""CLI messages about files: empty directories, escape sequences, broken front matter."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from drills.cli.main import cli
from drills.cli.printable import printable


def invoke(args):
    return CliRunner().invoke(cli, args)


def test_validate_on_a_directory_without_drill_files_fails(tmp_path):
    """`validate DIR` with no *.yaml in DIR exits 2 saying so instead of 0 in silence."""
    result = invoke(["validate", str(tmp_path)])
    assert result.exit_code == 2
    assert f"no drill files (*.yaml) in {tmp_path}" in result.output


@pytest.mark.parametrize("command", ["validate", "run"])
def test_escape_sequences_from_a_file_are_printed_escaped(tmp_path, command):
    """A control sequence in a drill file's key reaches the terminal as `\\x1b`, not raw."""
    path = tmp_path / "drill.yaml"
    path.write_text('name: x\n"\\x1b]0;owned\\x07\\x1b[2J": 1\n')  # YAML escapes
    args = [command, str(path)]
    if command == "run":
        args += ["--dry-run", "--state-dir", str(tmp_path / "state"), "--port-base", "28550"]
    result = invoke(args)
    assert result.exit_code == 2, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "\\x1b]0;owned\\x07" in result.output


def test_printable_keeps_ordinary_text_and_escapes_controls():
    """Accents and CJK stay; C0/C1 controls and bidi overrides are escaped; newlines on request."""
    assert printable("é日本 ok") == "é日本 ok"
    assert printable("a\x1b[31m\u202eb\x9b") == "a\\x1b[31m\\u202eb\\x9b"
    assert printable("a\nb") == "a\\nb"
    assert printable("a\nb", keep_newlines=True) == "a\nb"


def test_review_reports_broken_front_matter_with_its_line(tmp_path):
    """Front matter that is not YAML is an error finding at its line, not silently ignored."""
    path = tmp_path / "pm.md"
    path.write_text("---\ntitle: x\nstatus: [draft\n---\n# Summary\n")
    result = invoke(["postmortem", "review", str(path)])
    assert result.exit_code == 1
    assert any(
        line.startswith(f"{path}:") and "front-matter: error" in line
        for line in result.output.splitlines()
    ), result.output


def test_review_reports_front_matter_that_is_not_a_mapping(tmp_path):
    """A front matter that is a list is reported too."""
    path = tmp_path / "pm.md"
    path.write_text("---\n- a\n---\n# Summary\n")
    result = invoke(["postmortem", "review", str(path)])
    assert f"{path}:2: front-matter: error: front matter must be a mapping" in result.output
