"""Do the dashboard's totals equal PostgreSQL's? The check behind redis-outage.

Redis holds only counters, and the sandbox runs it without persistence: a Redis that comes back
empty would leave the dashboard's totals below the number of stored events for good, with every
SLI green. So after a Redis outage the dashboard's `/api/counters` total is compared with
`count(*)` of the stored events.

Under load the two are never read at the same instant, and the counters lag by design (pushed
every 200 ms, after the commit). So PostgreSQL is counted before and after the dashboard is
read, and the check holds when `before - allowance <= dashboard <= after`: more than PostgreSQL
is a double count, exactly; less by more than `allowance` (two seconds of load) is a counter that
lost events. An empty-Redis reset loses every event stored before the outage, far beyond that.
The counters are given `timeout` seconds to catch up (a re-seed follows the reconnect).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from drills.errors import TargetError
from drills.faults.base import Check
from drills.targets.base import Endpoints

STORED_SQL = "SELECT count(*) FROM audit_events"
REDIS_SOURCE = "redis"  # the dashboard's `source` of counters read from Redis
POLL_S = 0.5
LAG_ALLOWANCE_S = 2.0
MIN_ALLOWANCE = 50


@dataclass(frozen=True)
class Parity:
    """One comparison: PostgreSQL counted before and after the dashboard was read."""

    db_before: int
    dashboard: int
    db_after: int
    allowance: int

    @property
    def holds(self) -> bool:
        return self.db_before - self.allowance <= self.dashboard <= self.db_after

    @property
    def gap(self) -> int:
        """Events PostgreSQL held that the dashboard did not count at this reading, in-flight ones
        included (negative: counted twice); `holds` says whether it is within the allowance."""
        return (
            self.db_before - self.dashboard
            if self.dashboard < self.db_before
            else min(0, self.db_after - self.dashboard)
        )


def allowance_for(rate: float) -> int:
    return max(MIN_ALLOWANCE, round(rate * LAG_ALLOWANCE_S))


def stored_events(dsn: str) -> int:
    import psycopg  # noqa: PLC0415 - only drills that check counters need it

    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
            row = conn.execute(STORED_SQL).fetchone()
    except psycopg.Error as exc:
        raise TargetError(f"counting the stored events failed: {exc}") from exc
    return int(row[0]) if row else 0


def dashboard_total(url: str) -> int | None:
    """The dashboard's counter total *from Redis*; None while it reports them unavailable or
    counted from PostgreSQL (its fallback while Redis is down: comparing that with PostgreSQL
    would prove nothing about the counters Redis lost). A dashboard that does not say its
    source predates the fallback: its counters are Redis's."""
    try:
        response = httpx.get(f"{url}/api/counters", timeout=5)
    except httpx.HTTPError as exc:
        raise TargetError(f"the dashboard at {url} did not answer: {exc}") from exc
    if response.status_code != 200:
        return None
    body = response.json()
    if body.get("source", REDIS_SOURCE) != REDIS_SOURCE:
        return None
    total = body.get("total")
    return int(total) if isinstance(total, int) else None


def compare(endpoints: Endpoints, rate: float) -> Parity | None:
    dsn = endpoints.pg_dsn.reveal()
    before = stored_events(dsn)
    shown = dashboard_total(endpoints.dashboard_url)
    after = stored_events(dsn)
    return None if shown is None else Parity(before, shown, after, allowance_for(rate))


def check(endpoints: Endpoints, rate: float, timeout: float = 20.0) -> tuple[Check, int | None]:
    """The parity check and the last gap seen (None when it could not be read)."""
    name = "dashboard totals equal PostgreSQL's after the outage"
    if not endpoints.dashboard_url:
        return Check(name, False, "this target gives no dashboard address to read"), None
    deadline = time.monotonic() + timeout
    last: Parity | None = None
    while True:
        try:
            last = compare(endpoints, rate) or last
        except TargetError as exc:
            return Check(name, False, str(exc)), None
        if last is not None and last.holds:
            break
        if time.monotonic() >= deadline:
            break
        time.sleep(POLL_S)
    if last is None:
        return Check(name, False, f"the dashboard reported no counters for {timeout:g} s"), None
    evidence = (
        f"dashboard {last.dashboard}, PostgreSQL {last.db_before}..{last.db_after} "
        f"(in-flight allowance {last.allowance})"
    )
    if not last.holds:
        evidence += f"; {last.gap} stored events not counted after {timeout:g} s"
    return Check(name, last.holds, evidence), last.gap
