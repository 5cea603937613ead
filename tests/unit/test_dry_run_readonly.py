"""`genesis-drill run --dry-run` on the local target changes nothing on disk."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from drills.cli.main import cli
from drills.sandbox import ownership
from drills.sandbox.secrets import SandboxSecrets

CATALOG_DRILLS = ["pod-kill", "rabbitmq-outage", "pvc-wipe-restore"]


def dry_run(drill: str, state_dir: Path) -> Result:
    return CliRunner().invoke(
        cli, ["run", drill, "--dry-run", "--state-dir", str(state_dir), "--port-base", "28450"]
    )


def snapshot(root: Path) -> dict[str, tuple[int, str]]:
    """Every path under root with its mode and content digest (directories: empty digest)."""
    found = {}
    for path in [root, *root.rglob("*")]:
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
        found[str(path)] = (path.lstat().st_mode, digest)
    return found


@pytest.mark.parametrize("drill", CATALOG_DRILLS)
def test_dry_run_against_a_missing_state_dir_creates_nothing(
    drill: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plan prints, says the sandbox is not created yet, and the state dir stays absent."""
    monkeypatch.chdir(tmp_path)
    state = tmp_path / "state"
    result = dry_run(drill, state)
    assert result.exit_code == 0, result.output
    assert f"drill {drill}" in result.output and "not created yet" in result.output
    assert not state.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_dry_run_against_an_existing_state_dir_changes_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against an existing sandbox no file is added, removed or changed, secrets included."""
    monkeypatch.chdir(tmp_path)
    state = tmp_path / "state"
    ownership.claim(state)
    SandboxSecrets.load_or_create(state / "secrets.json")
    (state / "logs").mkdir()
    before = snapshot(tmp_path)
    result = dry_run("rabbitmq-outage", state)
    assert result.exit_code == 0, result.output
    assert "not created yet" not in result.output
    assert snapshot(tmp_path) == before
