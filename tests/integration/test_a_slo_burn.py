"""latency-budget-burn: the event-latency SLO's two burn-rate alerts proven by a 40 s write stall.

This module runs first in the integration tier, on purpose: a burn-rate alert fires when the
stall's late events are a large enough share of the *hour's* events (14.4 % for the fast one),
and the shared sandbox's hour grows with every drill the tier runs (300 events/s each). The
precondition is checked here from psql, not assumed from the file order: if another test ever
runs first and pushes the hour past the drill's bound, this fails saying so instead of calling
the alert missed.

The ground truth is taken from PostgreSQL (stored_at - published_at of every row, the quantity
the SLI's histogram measures): the share of the last hour's events stored more than 500 ms after
they were published must exceed the fast alert's 14.4 % once the drill is over, and neither
alert may have gone pending before the lock was released (nothing late is *stored* before).
"""

from __future__ import annotations

import pytest

from tests.integration.test_drills import assert_drill_passed
from tests.integration.test_drills_more import run_drill

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
        # Late events are observed when stored: nothing is stored while the lock is held.
        assert (pending - injected).total_seconds() >= held - 1.0, (name, pending, injected)
        assert (firing - pending).total_seconds() >= limit - 1.0, (name, pending, firing)
    late, total = _psql(live, LATE_SQL)
    print(f"psql: {late} of {total} events of the last hour stored > 500 ms after publish")
    assert late / total > 0.144, (late, total)
