"""Events flow end to end through the real sandbox: generator → RabbitMQ → analysis → PostgreSQL."""

from __future__ import annotations

import pytest

from drills.sandbox.smoke import run_smoke

pytestmark = pytest.mark.integration


def test_sandbox_came_up_healthy_and_quickly(live):
    """`platform up` from cold brings every component to healthy within a generous bound."""
    from drills.sandbox.lifecycle import status_of

    components = status_of(live.sandbox)
    unhealthy = [(c.name, c.detail) for c in components if not c.healthy]
    assert unhealthy == []
    print(f"\nplatform up from cold: {live.up_seconds:.1f} s")
    assert live.up_seconds < 90


def test_every_confirmed_event_is_stored_exactly_once(live):
    """N events generated and confirmed by the broker become exactly N rows, none duplicated."""
    result = run_smoke(live.sandbox, count=5000, timeout=120)
    print(
        f"\nend to end: {result.stored} events in {result.seconds:.2f} s "
        f"= {result.events_per_second:,.0f} events/s"
    )
    assert result.confirmed >= 5000
    assert result.stored == result.confirmed
    assert result.lost == 0
    assert result.duplicated == 0


def test_up_is_idempotent(live):
    """A second `platform up` on a running sandbox restarts nothing and reports it was up."""
    from drills.sandbox.lifecycle import up

    before = {info.name: info.pid for info in live.sandbox.supervisor.processes()}
    report = up(live.settings)
    after = {info.name: info.pid for info in live.sandbox.supervisor.processes()}
    assert report.already_running
    assert after == before
