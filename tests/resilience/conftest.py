"""Wiring of the resilience suite in this repository: the plugin's platform is the session's
`live` sandbox (tests/conftest.py), so `pytest` from the repo root starts one sandbox, not two.

A user's project needs none of this: the plugin connects to (or starts) the sandbox named by
GENESIS_STATE_DIR / GENESIS_PORT_BASE or --genesis-state-dir / --genesis-port-base.
"""

from __future__ import annotations

import pytest

from drills.settings import Settings
from tests.support import LiveSandbox


@pytest.fixture(scope="session")
def genesis_settings(live: LiveSandbox) -> Settings:
    """The plugin reuses the running `live` sandbox instead of starting its own."""
    return live.settings
