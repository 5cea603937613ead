"""The backlog a drill waits on, exact: the generator's events not yet stored, from PostgreSQL.

A drill has recovered only once the events that piled up during the fault are stored again
(DESIGN.md §4). Until now that backlog was read from gauges: the broker's queue depth plus the
generator's buffer. The broker refreshes its queue statistics on its own interval
(`collect_statistics_interval`, 5 s by default), so the gauge lags: in one pod-kill run the queue
read 55 while 1,832 events waited, then 1,569 when 33 did.

Counters would not do either. `events_generated_total - events_processed_total{result="stored"}`
is exact only while no process restarts, and the drills restart processes on purpose: the killed
analysis service's counter starts again at 0, and what it stored between its last scrape and the
SIGKILL was never scraped at all — up to one scrape interval of events (~300 at the drills' load,
the whole `backlog_max`) that no PromQL over the counters can recover, `increase()` included.

PostgreSQL holds the answer event by event. Every event the generator produces carries its run id,
its sequence number and `occurred_at` (the generator's clock when it made it); the analysis
service stamps `stored_at` (PostgreSQL's clock_timestamp()) when it inserts the row. So at any
instant t

    backlog(t) = #{events of the run: occurred_at <= t < stored_at}

generated - stored, counted per event, unaffected by restarts, wherever the event waited (the
generator's buffer, the broker, an unacknowledged delivery, a failed batch). The ledger already
knows the generator's run and the last sequence number of the drill (the canary range's end): the
rows are those of that run up to that number stored after the window began. Every event generated
up to the last one's `occurred_at` has a lower number, so up to that instant the series misses
nothing that was stored; after it, events generated later may not be stored yet when the rows are
read, so the series ends there.

What it does not count, on purpose: an event never stored (lost: the ledger's `lost`, which fails
the drill on its own) and one the analysis service dead-lettered (not a generator event; the
malformed-events drill's messages are published by the harness). For a restore, rows that came
back from the archive carry the re-drive's `stored_at`: the backlog holds them until the data is
complete again, which is when such a drill has recovered.

The broker gauge (the drill's `backlog_query`) is still read and saved, as the cross-check: the
largest disagreement between the two is stated next to the "backlog drained" phase.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

from drills import measure
from drills.errors import TargetError
from drills.ledger import Ledger
from drills.measure import Sample
from drills.seams import Observer
from drills.spec import DrillSpec

# The key of the exact series in series.json (the other keys are the PromQL that was run).
EXACT_BACKLOG = "backlog: events generated and not yet stored (PostgreSQL rows of the run)"
RESOLUTION_S = 0.1  # a tenth of the sandbox's scrape: the drained instant to within 0.1 s

_ROWS = (
    "SELECT seq, extract(epoch FROM min(occurred_at))::float8, "
    "extract(epoch FROM min(stored_at))::float8 FROM audit_events "
    "WHERE run_id = %(run)s AND seq IN ("
    "SELECT seq FROM audit_events WHERE run_id = %(run)s AND seq <= %(last)s "
    "AND stored_at > to_timestamp(%(since)s)) "
    "GROUP BY seq"
)


@dataclass(frozen=True)
class EventBacklog:
    """Generated and stored times of the events that were waiting at some point in a window;
    `backlog(t)` is exact for `t` up to `until`."""

    occurred: tuple[float, ...]  # sorted
    stored: tuple[float, ...]  # sorted
    until: float

    @classmethod
    def of(cls, events: Sequence[tuple[float, float]], until: float) -> EventBacklog:
        """`events` are (occurred, stored) pairs; `until` is where the series stops being exact
        (the last event's generation), capped by the caller's window."""
        return cls(tuple(sorted(o for o, _ in events)), tuple(sorted(s for _, s in events)), until)

    def backlog(self, t: float) -> int:
        """Events generated at or before `t` and not stored by then."""
        generated = bisect.bisect_right(self.occurred, t)
        return generated - bisect.bisect_right(self.stored, t)

    def series(
        self, start: float, end: float, anchor: float, step: float = RESOLUTION_S
    ) -> list[Sample]:
        """The backlog at `anchor + k * step` for every k that falls in [start, min(end, until)]:
        anchored at the injection, so the instant the fault took effect is a point of its own."""
        last = min(end, self.until)
        first = math.ceil((start - anchor) / step - 1e-9)
        count = math.floor((last - anchor) / step + 1e-9) - first + 1
        times = [anchor + (first + i) * step for i in range(max(0, count))]
        return [(t, float(self.backlog(t))) for t in times]


@dataclass(frozen=True)
class Disagreement:
    """The largest gap between the broker gauge and the exact backlog, at a gauge sample."""

    events: float
    at: float
    gauge: float
    exact: int


def largest_disagreement(
    exact: EventBacklog, gauge: Sequence[Sample], since: float
) -> Disagreement | None:
    """Compare each gauge sample at or after `since`, within the exact series' span, with the
    exact backlog at the same instant; the worst one (the first, if several are as bad)."""
    worst: Disagreement | None = None
    for t, value in gauge:
        if t < since or t > exact.until:
            continue
        actual = exact.backlog(t)
        gap = abs(value - actual)
        if worst is None or gap > worst.events:
            worst = Disagreement(gap, t, value, actual)
    return worst


def stored_events(dsn: str, ledger: Ledger, since: float) -> list[tuple[float, float]]:
    """(occurred, stored) of each event of the ledger's run, up to its last sequence number,
    first stored after `since` — one row per sequence number (a duplicate is the ledger's
    business: the first copy is when the event stopped waiting)."""
    import psycopg  # here, not at the top: drills.live.warm_imports loads it meanwhile

    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
            rows = conn.execute(
                _ROWS, {"run": ledger.run_id, "last": ledger.last_seq, "since": since}
            ).fetchall()
    except psycopg.Error as exc:
        raise TargetError(f"cannot read the stored events' times from PostgreSQL: {exc}") from exc
    return [(float(occurred), float(stored)) for _, occurred, stored in rows if stored > since]


def exact_backlog(
    dsn: str | None, ledger: Ledger | None, start: float, end: float
) -> EventBacklog | str:
    """The exact backlog over [start, end], or why there is none (the caller falls back to the
    drill's backlog_query and says so)."""
    if dsn is None or ledger is None:
        return "no event ledger for this run (it ended before the ledger was settled)"
    if ledger.note or ledger.last_seq < ledger.first_seq or not ledger.run_id:
        return f"the ledger has no canary range ({ledger.note or 'no event was generated'})"
    try:
        events = stored_events(dsn, ledger, start)
    except TargetError as exc:
        return str(exc)
    if not events:
        return f"no event of run {ledger.run_id} was stored after the window began"
    return EventBacklog.of(events, min(end, max(o for o, _ in events)))


@dataclass(frozen=True)
class Window:
    """The instants the backlog is judged between: the range queries' start, the injection, the
    first SLO breach (or the injection), the end of the SLI observation window (where the gauge
    is read to, as the SLIs are), the end of the range queries, and when the component was
    ready again (None: the fault does not say)."""

    start: float
    t_inject: float
    after: float
    sli_end: float
    end: float
    ready_at: float | None
    step: float


@dataclass(frozen=True)
class Drainage:
    """When the drill's backlog drained, from which source, the series to save, and — when no
    backlog could be measured at all — why (TTR's reason)."""

    at: float | None
    source: str
    series: dict[str, list[Sample]]
    missing: str = ""


def drainage(
    spec: DrillSpec,
    observer: Observer,
    ledger: Ledger | None,
    pg_dsn: str | None,
    window: Window,
) -> Drainage:
    """The "backlog drained" instant of a run (DESIGN.md §4), from the exact backlog when the
    drill asks for it (`recovery.backlog_source: events`), else from its `backlog_query`.

    The query's series is saved either way; next to the exact one it is the cross-check, and the
    source says by how much the two disagreed at worst. Without a ledger (a run that ended early)
    or PostgreSQL the query stands in, and the source says why.
    """
    if not spec.backlog_source:
        return Drainage(None, "the drill waits on no backlog", {})
    query = spec.backlog_query
    gauge = observer.single_range(query, window.start, window.sli_end, window.step) if query else []
    series = {query: gauge} if query else {}
    exact: EventBacklog | str = "the drill reads its backlog from backlog_query"
    if spec.backlog_source == "events":
        exact = exact_backlog(pg_dsn, ledger, window.start, window.end)
    if isinstance(exact, EventBacklog):
        samples = exact.series(window.start, window.end, window.t_inject)
        series[EXACT_BACKLOG] = samples
        hold = (spec.recovery_samples - 1) * window.step  # K samples at the scrape step
        at = measure.drained_at(
            samples, window.after, spec.backlog_max, ready_at=window.ready_at, hold_s=hold
        )
        run = ledger.run_id if ledger else "?"
        source = f"postgres: events of run {run} generated and not yet stored (exact)"
        worst = largest_disagreement(exact, gauge, window.start)
        if query and worst is not None:
            source += (
                f"; cross-check prometheus: {query} — at most {worst.events:g} events apart "
                f"({worst.gauge:g} vs {worst.exact} at {worst.at - window.t_inject:+.1f} s)"
            )
        return Drainage(at, source, series)
    if spec.backlog_source == "events":
        if not gauge:
            return Drainage(None, "postgres: none", series, f"no backlog measured: {exact}")
        source = f"prometheus: {query} (the exact backlog is unavailable: {exact})"
    else:
        source = f"prometheus: {query}"
        if not gauge:
            return Drainage(None, source, series, "the backlog query returned no data")
    at = measure.drained_at(
        gauge, window.after, spec.backlog_max, spec.recovery_samples, ready_at=window.ready_at
    )
    return Drainage(at, source, series)
