"""The platform commands fail with one clear line and a distinct exit code, never a traceback."""

from __future__ import annotations

import socket

import pytest
from click.testing import CliRunner

from drills.cli.main import cli

pytestmark = pytest.mark.integration


def test_status_of_a_sandbox_that_is_not_running_exits_3_with_advice(tmp_path):
    """`platform status` on a stopped sandbox says so and how to start it (exit 3)."""
    result = CliRunner().invoke(
        cli, ["platform", "status", "--state-dir", str(tmp_path), "--port-base", "28400"]
    )
    assert result.exit_code == 3, result.output
    assert "not running" in result.output
    assert "platform up" in result.output
    assert "Traceback" not in result.output


def test_up_refuses_a_busy_port_and_names_it(tmp_path):
    """`platform up` whose block holds a foreign listener stops before starting anything and
    names the port and the component (exit 3)."""
    base = 28450
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", base + 11))  # the redis port
        squatter.listen()
        result = CliRunner().invoke(
            cli, ["platform", "up", "--state-dir", str(tmp_path), "--port-base", str(base)]
        )
    assert result.exit_code == 3, result.output
    assert f"{base + 11} (redis)" in result.output
    assert not (tmp_path / "supervisord.pid").exists()
    down = CliRunner().invoke(
        cli, ["platform", "down", "--state-dir", str(tmp_path), "--port-base", str(base), "--purge"]
    )
    assert down.exit_code == 0, down.output


def test_bad_port_base_is_invalid_input(tmp_path):
    """An out-of-range --port-base is rejected as invalid input (exit 2) naming the flag."""
    result = CliRunner().invoke(
        cli, ["platform", "status", "--state-dir", str(tmp_path), "--port-base", "70000"]
    )
    assert result.exit_code == 2
    assert "--port-base" in result.output


def test_run_against_a_stopped_sandbox_is_a_target_error(tmp_path):
    """`run` when the sandbox is not running exits 3 with advice, and injects nothing."""
    result = CliRunner().invoke(
        cli,
        [
            "run",
            "pod-kill",
            "--state-dir",
            str(tmp_path / "state"),
            "--port-base",
            "28400",
            "--runs-dir",
            str(tmp_path / "runs"),
        ],
    )
    assert result.exit_code == 3, result.output
    assert "platform up" in result.output
