"""The burn-rate alerts of both SLOs, each proven by a catalog drill on the shared sandbox.

latency-budget-burn (a 40 s write stall) proves the event-latency SLO's two; migration-lock (an
ACCESS EXCLUSIVE lock: reads wait too, the dashboard's event API answers 503) proves
DashboardErrorRate and the dashboard-availability SLO's two.

This module runs first in the integration tier, on purpose: a burn-rate alert fires when the
drill's bad events (late events, failed requests) are a large enough share of the *hour's*
(14.4 % for the fast latency burn, 1.44 % for the availability one), and the shared sandbox's
hour grows with every drill the tier runs (300 events/s, and the client probe's requests, each).
The latency precondition is checked here from psql, not assumed from the file order: if another
test ever runs first and pushes the hour past the drill's bound, this fails saying so instead of
calling the alert missed.

The ground truth is taken from PostgreSQL (stored_at - published_at of every row, the quantity
the SLI's histogram measures): the share of the last hour's events stored more than 500 ms after
they were published must exceed the fast alert's 14.4 % once the drill is over, and neither
alert may have gone pending before the lock was released (nothing late is *stored* before).
"""

from __future__ import annotations

import time

import httpx
import pytest

from tests.integration.test_drills import assert_drill_passed
from tests.integration.test_drills_more import run_drill
from tests.sampler import Sampler

pytestmark = pytest.mark.integration

# The drill's hypothesis: the stall produces ~12,000+ late events; the fast alert needs them to
# be > 14.4 % of the hour, i.e. the hour's other events below ~70,000.
HOUR_BOUND = 70_000
HOUR_SQL = "SELECT count(*) FROM audit_events WHERE stored_at > now() - interval '1 hour'"
LATE_SQL = """
SELECT count(*) FILTER (WHERE stored_at - published_at > interval '500 milliseconds'), count(*)
FROM audit_events WHERE stored_at > now() - interval '1 hour'
"""


def _psql(live, sql: str) -> tuple[int, ...]:
    with live.pg() as conn:
        row = conn.execute(sql).fetchone()
    assert row is not None
    return tuple(int(v) for v in row)


def test_latency_budget_burn_pages_and_tickets(live, tmp_path):
    (before,) = _psql(live, HOUR_SQL)
    assert before < HOUR_BOUND, (
        f"the sandbox already stored {before} events in the last hour (bound {HOUR_BOUND}): "
        "this test must run before the drills that fill the hour (see its module docstring)"
    )
    spec, result = run_drill(live, tmp_path, "latency-budget-burn")
    print("alerts:", result.alerts)
    assert_drill_passed(live, spec, result)
    assert result.alerts is not None and result.fault is not None
    held = result.fault.figures["held_seconds"]
    assert isinstance(held, float) and held >= 40
    injected = result.injected_at
    assert injected is not None
    for name, limit in (("EventLatencyBudgetBurnFast", 15), ("EventLatencyBudgetBurnSlow", 60)):
        pending = result.alerts.first_pending_at[name]
        firing = result.alerts.first_firing_at[name]
        assert pending is not None and firing is not None, (name, result.alerts)
        # Late events are observed when stored: nothing is stored while the lock is held, so
        # the fast burn (14.4 %) cannot go pending before the release. The slow one (6 % of
        # 30 min and 6 h) may already be pending when the drill starts: on the suite's short
        # history the sandbox's own start-up (events published before the consumer was ready)
        # can be 6 % of everything (seen once: pending 0.4 s after the lock); it still fires
        # only after its `for:`, and after the release.
        if name == "EventLatencyBudgetBurnFast":
            assert (pending - injected).total_seconds() >= held - 1.0, (name, pending, injected)
        assert (firing - injected).total_seconds() >= held - 1.0, (name, firing, injected)
        assert (firing - pending).total_seconds() >= limit - 1.0, (name, pending, firing)
    late, total = _psql(live, LATE_SQL)
    print(f"psql: {late} of {total} events of the last hour stored > 500 ms after publish")
    assert late / total > 0.144, (late, total)


class DashboardWatch(Sampler):
    """Independent of the harness: every 0.25 s, who holds an AccessExclusiveLock on audit_events
    (psql, as the superuser), and what the dashboard's page and event API answer (own client)."""

    LOCKS = (
        "SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
        "WHERE l.relation = 'audit_events'::regclass AND l.mode = 'AccessExclusiveLock' "
        "AND l.granted AND a.application_name LIKE 'genesis-drill lock %'"
    )

    def __init__(self, live) -> None:
        super().__init__()
        self.live = live
        self.locked: list[float] = []
        self.api: list[tuple[float, int]] = []
        self.page: list[tuple[float, int, bool]] = []
        self.errors: list[str] = []

    def _run(self) -> None:
        import psycopg

        from drills.sandbox.connections import pg_dsn

        dsn = pg_dsn(
            self.live.port("postgres"),
            self.live.sandbox.secrets,
            superuser=True,
            dbname="auditflow",
        )
        base = self.live.url("event-audit-dashboard")
        try:
            with (
                psycopg.connect(dsn.reveal(), autocommit=True) as conn,
                httpx.Client(timeout=3) as http,
            ):
                while not self.stop.wait(0.25):
                    if conn.execute(self.LOCKS).fetchall():
                        self.locked.append(time.time())
                    try:
                        api = http.get(f"{base}/api/events/recent?limit=1")
                        self.api.append((time.time(), api.status_code))
                        page = http.get(f"{base}/")
                        banner = 'id="degraded-banner"' in page.text and "postgresql" in page.text
                        self.page.append((time.time(), page.status_code, banner))
                    except httpx.HTTPError as exc:
                        self.errors.append(repr(exc))
        except psycopg.Error as exc:
            self.errors.append(f"watch: {exc!r}")


def test_migration_lock_fails_the_event_api_while_the_page_is_served(live, tmp_path):
    with DashboardWatch(live) as watch:
        spec, result = run_drill(live, tmp_path, "migration-lock")
    print("alerts:", result.alerts)
    print("client probe:", result.client_unavailability)
    assert_drill_passed(live, spec, result)
    assert result.alerts is not None and result.fault is not None
    for name, limit in (
        ("DashboardErrorRate", 30),
        ("DashboardAvailabilityBudgetBurnFast", 15),
        ("DashboardAvailabilityBudgetBurnSlow", 60),
    ):
        pending = result.alerts.first_pending_at[name]
        firing = result.alerts.first_firing_at[name]
        assert pending is not None and firing is not None, (name, result.alerts)
        assert (firing - pending).total_seconds() >= limit - 1.0, (name, pending, firing)
    # Ground truth: psql saw the migration's lock for the whole hold, and while it was held the
    # dashboard's event API answered 503 and its page 200 with the banner naming PostgreSQL.
    assert watch.locked, ("psql never saw the AccessExclusiveLock", watch.errors)
    first, last = watch.locked[0], watch.locked[-1]
    hold = float(spec.fault.params["duration_s"])
    assert last - first >= hold - 2, (first, last)
    inside = [status for t, status in watch.api if first + 1.5 <= t <= last - 0.5]
    assert inside and set(inside) == {503}, inside
    pages = [(status, banner) for t, status, banner in watch.page if first + 1.5 <= t <= last - 0.5]
    assert pages and set(pages) == {(200, True)}, pages
    after = [status for t, status in watch.api if t > last + 3]
    assert after and set(after) == {200}, after
    # The client probe (the harness's) agrees with the watch within a probe interval or two.
    probe = result.client_unavailability
    assert probe is not None
    by_name = {api.name: api for api in probe.apis}
    assert by_name["dashboard page"].failed == 0, by_name["dashboard page"]
    seen = by_name["dashboard API"].unavailable_seconds
    assert abs(seen - (last - first)) <= 1.5, (seen, last - first)
