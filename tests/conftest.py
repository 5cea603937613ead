"""Shared fixtures. `live` is one real AuditFlow sandbox for the whole session.

It runs in a temporary state directory on its own port block (GENESIS_TEST_PORT_BASE, default
28300), so a developer's own sandbox on the default block keeps running untouched, and it is
stopped and purged at the end of the session even when tests fail. Tests that never ask for it
(unit, promtool) never start anything.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from drills.sandbox.lifecycle import down, resolve, up
from drills.settings import Settings
from tests.support import LiveSandbox

TEST_PORT_BASE = int(os.environ.get("GENESIS_TEST_PORT_BASE", "28300"))
SUITE_SLO = Path(__file__).with_name("suite-slo.yaml")


@pytest.fixture(autouse=True)
def _suite_slo(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests on the shared sandbox run drills without the preflight's budget gate (see
    tests/suite-slo.yaml); unit tests keep the packaged configuration. By marker as well as by
    fixture: the plugin's fixtures reach the sandbox through `getfixturevalue`, out of sight of
    the static fixture closure."""
    if "live" in request.fixturenames or request.node.get_closest_marker("integration"):
        monkeypatch.setenv("GENESIS_SLO_CONFIG", str(SUITE_SLO))


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSandbox]:
    settings = Settings(state_dir=tmp_path_factory.mktemp("sandbox"), port_base=TEST_PORT_BASE)
    try:
        report = up(settings)
    except Exception:
        down(settings, purge=True)
        raise
    try:
        yield LiveSandbox(resolve(settings), report.seconds)
    finally:
        down(settings, purge=True)
