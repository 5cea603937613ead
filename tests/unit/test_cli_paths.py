"""Bad directories and environment values: one error line naming the culprit, exit 2, no trace."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from drills.cli.main import cli
from drills.settings import Settings

BAD_DIRS = ["/proc/x", "/dev/null/x", ""]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A refused check must not fall back to the cwd; if it did, only tmp_path would suffer.
    monkeypatch.chdir(tmp_path)


def invoke(args: list[str], env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, args, env=env)


def assert_one_line_error(result: Result, *names: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    for name in names:
        assert name in lines[0]


@pytest.mark.parametrize("bad", BAD_DIRS)
@pytest.mark.parametrize(
    "command",
    [["platform", "status"], ["platform", "down"], ["run", "pod-kill", "--dry-run"], ["recover"]],
)
def test_bad_state_dir_is_one_line_exit_2(command: list[str], bad: str) -> None:
    """--state-dir that cannot hold a sandbox is refused before anything runs."""
    assert_one_line_error(invoke([*command, "--state-dir", bad]), "--state-dir", repr(bad))


@pytest.mark.parametrize("bad", BAD_DIRS)
@pytest.mark.parametrize(
    "command",
    [
        ["history"],
        ["run", "pod-kill", "--dry-run"],
        ["recover"],
        ["gameday", "run", "drills/gamedays/weekly.yaml"],
    ],
)
def test_bad_runs_dir_is_one_line_exit_2(command: list[str], bad: str) -> None:
    """--runs-dir that cannot be written (even by root) is refused with its path."""
    assert_one_line_error(invoke([*command, "--runs-dir", bad]), "--runs-dir", repr(bad))


def test_file_as_directory_is_refused(tmp_path: Path) -> None:
    """A regular file given as a directory is named as not a directory."""
    file = tmp_path / "f"
    file.write_text("x")
    result = invoke(["history", "--runs-dir", str(file)])
    assert_one_line_error(result, str(file), "not a directory")


def test_port_base_flag_beats_garbage_environment(tmp_path: Path) -> None:
    """`--port-base` given: a garbage GENESIS_PORT_BASE is never parsed."""
    env = {"GENESIS_PORT_BASE": "garbage", "GENESIS_STATE_DIR": "/dev/null/x"}
    settings = Settings.from_env(env, state_dir=tmp_path, port_base=28450)
    assert settings.port_base == 28450 and settings.state_dir == tmp_path
    result = invoke(
        ["platform", "status", "--port-base", "28450", "--state-dir", str(tmp_path / "s")],
        env=env,
    )
    assert "GENESIS" not in result.output and "garbage" not in result.output
    assert result.exit_code == 3  # the sandbox is not running: a target error, not bad input
    assert not (tmp_path / "s").exists()  # looking at the status creates nothing


@pytest.mark.parametrize(
    ("name", "value"), [("GENESIS_PORT_BASE", "garbage"), ("GENESIS_STATE_DIR", "/dev/null/x")]
)
def test_garbage_environment_without_flag_is_one_line_exit_2(name: str, value: str) -> None:
    """Without the flag, a bad GENESIS_* value is one line naming the variable."""
    assert_one_line_error(invoke(["platform", "status"], env={name: value}), name, value)
