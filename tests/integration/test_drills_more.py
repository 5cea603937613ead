"""The issue-14 catalog drills, each run once on the shared sandbox with its figures asserted.

Each uses the shortest hold that still proves its alert (the whole tier must stay well under
45 minutes on two cores): TTD present and within its objective, the ledger exact. The
independent ground-truth observer of test_drills.py knows only the probes of the first four
drills, so these run without it; their figures come from the harness and are checked here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from drills import runner
from drills.spec import load
from drills.targets.local import LocalTarget
from tests.integration.test_drills import CATALOG, assert_drill_passed

pytestmark = pytest.mark.integration


def run_drill(live, tmp_path: Path, name: str):
    spec = load(CATALOG / f"{name}.yaml")
    result = runner.run(spec, LocalTarget(live.sandbox), runner.RunOptions(runs_dir=tmp_path))
    print(
        f"\n{name}: {result.outcome} TTD={result.ttd_seconds} TTN={result.ttn_seconds} "
        f"({result.ttn_reason}) TTR={result.ttr_seconds} ledger={result.ledger} "
        f"wall={result.wall_seconds}s fault={result.fault.figures if result.fault else None}"
    )
    return spec, result


def test_a_redis_outage(live, tmp_path):
    """redis-outage: events keep being stored, RedisDown fires, and the counters that Redis lost
    (no persistence) are re-seeded so the dashboard's totals equal PostgreSQL's."""
    spec, result = run_drill(live, tmp_path, "redis-outage")
    assert_drill_passed(live, spec, result)
    assert result.fault is not None
    checks = {c.name: c for c in result.fault.checks}
    parity = checks["dashboard totals equal PostgreSQL's after the outage"]
    assert parity.passed, parity.detail
    assert result.fault.figures["held_down_seconds"] >= 11
    assert result.fault.figures["counter_gap"] == 0


def test_b_notification_outage(live, tmp_path):
    """notification-outage: NotificationServiceDown fires while nobody can be told. After the
    restart either Alertmanager's retry delivers it (TTN after the restart, never before) or the
    alert resolves first and only the resolution arrives (TTN null with a reason) — a race the
    sandbox shows both ways; the drill reports which happened."""
    spec, result = run_drill(live, tmp_path, "notification-outage")
    print("notification service records:", _records(live, "NotificationServiceDown"))
    assert_drill_passed(live, spec, result)
    assert result.fault is not None
    held = result.fault.figures["held_down_seconds"]
    assert isinstance(held, float) and held >= 14
    assert result.ttd_seconds is not None
    records = _records(live, "NotificationServiceDown")
    if result.ttn_seconds is not None:  # the retry won the race: delivered after the restart
        assert result.ttn_seconds >= max(held, result.ttd_seconds)
    else:  # the alert resolved first: the resolution arrived, the firing page never did
        assert result.ttn_reason, "a missing TTN must say why"
        assert records, "not even the resolution reached the notification service"


def _records(live, name: str) -> list[dict[str, object]]:
    """What the notification service recorded of `name` (evidence printed with the figures)."""
    import httpx

    response = httpx.get(
        f"{live.url('notification-service')}/api/v1/alerts",
        params={"name": name, "source": "alertmanager"},
        timeout=5,
    )
    return list(response.json().get("alerts", []))
