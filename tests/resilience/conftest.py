"""Wiring of the resilience suite in this repository: the plugin's platform is the session's
`live` sandbox (tests/conftest.py), so `pytest` from the repo root starts one sandbox, not two.

A user's project needs none of this: the plugin connects to (or starts) the sandbox named by
GENESIS_STATE_DIR / GENESIS_PORT_BASE or --genesis-state-dir / --genesis-port-base.
"""

from __future__ import annotations

import pytest

from drills.settings import Settings


@pytest.fixture(scope="session")
def genesis_settings(live) -> Settings:
    """The plugin reuses the running `live` sandbox instead of starting its own."""
    return live.settings


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run this suite before tests/integration/test_zz_platform_down.py, which stops the shared
    sandbox; otherwise the plugin would have to bring it up again (~20 s)."""
    mine = [item for item in items if "tests/resilience/" in item.nodeid]
    if not mine:
        return
    rest = [item for item in items if item not in mine]
    stop_at = next(
        (i for i, item in enumerate(rest) if "test_zz_platform_down" in item.nodeid), len(rest)
    )
    items[:] = rest[:stop_at] + mine + rest[stop_at:]
