"""Delay as the user sees it: occurred → stored for each event of the canary range, in SQL.

The latency SLI measures publish → stored, and the generator re-stamps `published_at` when it
re-publishes a buffered event, so the SLI leaves out the time an event waited in the generator's
buffer while the broker was down. A user of the dashboard waited from `occurred_at`. Both are
computed here from the same stored rows (the first stored copy of each seq), so they can be read
side by side: the difference is the time spent buffered.

`occurred_at` and `published_at` are the generator's clock, `stored_at` PostgreSQL's
(`clock_timestamp()` at insert): on one host (the sandbox) one clock; in a cluster, node clock
skew adds to every figure (the source says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drills.errors import TargetError

SOURCE = (
    "postgresql: stored_at (PostgreSQL clock) - occurred_at / published_at (generator clock), "
    "first stored copy per seq of the canary range"
)
_DELAY_SQL = """
WITH first_copy AS (
    SELECT DISTINCT ON (seq) seq,
        extract(epoch FROM stored_at - occurred_at)::float8 AS delay,
        extract(epoch FROM stored_at - published_at)::float8 AS latency
    FROM audit_events
    WHERE run_id = %s AND seq BETWEEN %s AND %s
    ORDER BY seq, stored_at
)
SELECT count(*),
    percentile_disc(0.5) WITHIN GROUP (ORDER BY delay),
    percentile_disc(0.99) WITHIN GROUP (ORDER BY delay),
    max(delay),
    (SELECT seq FROM first_copy ORDER BY seq LIMIT 1),
    (SELECT delay FROM first_copy ORDER BY seq LIMIT 1),
    percentile_disc(0.5) WITHIN GROUP (ORDER BY latency),
    percentile_disc(0.99) WITHIN GROUP (ORDER BY latency),
    max(latency)
FROM first_copy
"""


@dataclass(frozen=True)
class Delay:
    """Occurred → stored over the canary range's stored events, next to publish → stored.

    `oldest_*` is the range's oldest event (lowest seq: the first generated after the drill's
    mark, so already in the pipeline when the fault struck). Percentiles are of events
    (`percentile_disc`: a delay some event really had). `None` with a `reason` when not measured.
    """

    events: int
    p50_s: float | None
    p99_s: float | None
    max_s: float | None
    oldest_seq: int | None
    oldest_s: float | None
    published_p50_s: float | None
    published_p99_s: float | None
    published_max_s: float | None
    source: str
    reason: str = ""


def unmeasured(reason: str) -> Delay:
    return Delay(0, None, None, None, None, None, None, None, None, SOURCE, reason)


def from_row(row: tuple[Any, ...] | None) -> Delay:
    """The figures from `_DELAY_SQL`'s one row (pure; rounded to the millisecond)."""
    if row is None or not row[0]:
        return unmeasured("no stored events in the canary range")

    def s(value: Any) -> float | None:
        return None if value is None else round(float(value), 3)

    count, p50, p99, worst, oldest_seq, oldest, lat50, lat99, lat_max = row
    return Delay(
        events=int(count),
        p50_s=s(p50),
        p99_s=s(p99),
        max_s=s(worst),
        oldest_seq=None if oldest_seq is None else int(oldest_seq),
        oldest_s=s(oldest),
        published_p50_s=s(lat50),
        published_p99_s=s(lat99),
        published_max_s=s(lat_max),
        source=SOURCE,
    )


def measure_delay(dsn: str, run_id: str, first: int, last: int) -> Delay:
    """The delay figures of the canary range `[first, last]` of `run_id`, one query."""
    if last < first:
        return unmeasured("the canary range is empty")
    import psycopg  # here, not at the top: see drills.runner._warm_imports

    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            row = conn.execute(_DELAY_SQL, (run_id, first, last)).fetchone()
    except psycopg.Error as exc:
        raise TargetError(f"cannot measure the events' delay in PostgreSQL: {exc}") from exc
    return from_row(row)
