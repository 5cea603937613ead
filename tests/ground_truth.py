"""An independent check of a drill's figures (issue 13): ground truth measured another way.

The harness measures through Prometheus (drills.observe → drills.measure → drills.measurement).
This module shares none of that code, so it cannot share a bug with it:

- the fault's time and the component's return from the OS — a thread connects to the component's
  ports every 10 ms and records when they refuse and accept (`PortWatch`);
- detection from Prometheus's raw `ALERTS` samples, read over HTTP with a range selector in an
  instant query (the rule evaluations' own timestamps);
- the steady state, the backlog and "every event present again" from psql: one row per stored
  event with its occurred_at / published_at / stored_at, from which the stored rate, the latency
  SLI and the backlog (generated - stored) are recomputed at 0.1 s resolution.

Recovery follows DESIGN.md §4 on that data: the start of the final stretch, within the
observation window, in which every steady-state condition holds for K-1 scrape intervals (K
consecutive samples), no earlier than the backlog drained (after the component is ready and after
the backlog's peak) and, for a restore, no earlier than the last event committed before the fault
is stored again.
"""

from __future__ import annotations

import bisect
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg

WATCH_INTERVAL_S = 0.01
RESOLUTION_S = 0.1
SCRAPE_S = 1.0  # the sandbox's scrape interval: K samples span K-1 of them


def accepting(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


@dataclass
class PortWatch:
    """Every 10 ms, whether each port accepts a TCP connection: (time, {port: accepting})."""

    ports: dict[str, int]
    host: str = "127.0.0.1"
    samples: list[tuple[float, dict[str, bool]]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> PortWatch:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            t = time.time()
            self.samples.append((t, {n: accepting(self.host, p) for n, p in self.ports.items()}))
            self._stop.wait(WATCH_INTERVAL_S)

    def first_refused(self, name: str, after: float = 0.0) -> float | None:
        """First refused connection after one that was accepted."""
        seen_up = False
        for t, up in self.samples:
            if t < after:
                continue
            if up[name]:
                seen_up = True
            elif seen_up:
                return t
        return None

    def first_accepted(self, name: str, after: float) -> float | None:
        for t, up in self.samples:
            if t >= after and up[name]:
                return t
        return None

    def up_within(self, name: str, window: float = 0.0) -> Callable[[float], bool]:
        """Whether the port accepted at t (window 0), or at any time in (t - window, t]."""
        times = [t for t, _ in self.samples]
        ups = [up[name] for _, up in self.samples]
        prefix = [0]
        for accepted in ups:
            prefix.append(prefix[-1] + accepted)

        def up(t: float) -> bool:
            hi = bisect.bisect_right(times, t)
            if window <= 0:
                return hi > 0 and ups[hi - 1]
            lo = bisect.bisect_right(times, t - window)
            return prefix[hi] - prefix[lo] > 0

        return up


def raw_firing_times(prometheus_url: str, alertname: str, start: float, end: float) -> list[float]:
    """The rule evaluations at which `alertname` was firing, in [start, end]."""
    window = max(1, int(end - start) + 2)
    query = f'ALERTS{{alertname="{alertname}",alertstate="firing"}}[{window}s]'
    response = httpx.get(
        f"{prometheus_url}/api/v1/query", params={"query": query, "time": end}, timeout=10
    )
    response.raise_for_status()
    times = [
        float(t)
        for series in response.json()["data"]["result"]
        for t, v in series["values"]
        if float(v) == 1 and start <= float(t) <= end
    ]
    return sorted(times)


def prometheus_query(prometheus_url: str, query: str, at: float) -> list[dict[str, Any]]:
    """An instant query straight to Prometheus' HTTP API (not through drills.observe)."""
    response = httpx.get(
        f"{prometheus_url}/api/v1/query", params={"query": query, "time": f"{at:.3f}"}, timeout=10
    )
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()["data"]["result"]
    return result


def raw_gauge_samples(
    prometheus_url: str, selector: str, start: float, end: float
) -> list[tuple[float, float]]:
    """Every raw sample of `selector` (all its series) with a timestamp in [start, end]."""
    window = max(1, int(end - start) + 2)
    return sorted(
        (float(t), float(v))
        for series in prometheus_query(prometheus_url, f"{selector}[{window}s]", end)
        for t, v in series["values"]
        if start <= float(t) <= end
    )


@dataclass(frozen=True)
class Row:
    seq: int
    occurred: float
    published: float
    stored: float


def rows_around(dsn: str, start: float, end: float) -> list[Row]:
    """Every event stored after `start` or generated before `end`, by psql."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        fetched = conn.execute(
            "SELECT seq, extract(epoch FROM occurred_at), extract(epoch FROM published_at), "
            "extract(epoch FROM stored_at) FROM audit_events "
            "WHERE stored_at >= to_timestamp(%s) AND occurred_at <= to_timestamp(%s)",
            (start, end),
        ).fetchall()
    return [Row(int(s), float(o), float(p), float(st)) for s, o, p, st in fetched]


def ledger_counts(dsn: str, run_id: str, first_seq: int, last_seq: int) -> tuple[int, int]:
    """(rows, distinct sequence numbers) of the canary range, by psql."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT seq) FROM audit_events "
            "WHERE run_id = %s AND seq BETWEEN %s AND %s",
            (run_id, first_seq, last_seq),
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


class EventTimes:
    """The stored rows as sorted arrays, for window counts at any instant."""

    def __init__(self, rows: Sequence[Row]) -> None:
        by_stored = sorted(rows, key=lambda r: r.stored)
        self.stored = [r.stored for r in by_stored]
        self.occurred = sorted(r.occurred for r in rows)
        self.published = sorted(r.published for r in rows)
        self._latency = [r.stored - r.published for r in by_stored]
        self._late: dict[float, list[int]] = {}
        self._pairs = [(r.occurred, r.stored) for r in rows]

    def first_stored_after(self, t: float) -> float | None:
        i = bisect.bisect_right(self.stored, t)
        return self.stored[i] if i < len(self.stored) else None

    def last_stored_of_generated_before(self, t: float) -> float | None:
        """When the last event generated before t was stored (a restore's data complete)."""
        stored = [s for o, s in self._pairs if o <= t]
        return max(stored) if stored else None

    def stored_rate(self, t: float, window: float) -> float:
        """Events stored in (t - window, t], per second."""
        return self._count(self.stored, t, window) / window

    def published_in(self, t: float, window: float) -> int:
        return self._count(self.published, t, window)

    def backlog(self, t: float) -> int:
        """Generated at or before t and not yet stored at t (generated - stored)."""
        return bisect.bisect_right(self.occurred, t) - bisect.bisect_right(self.stored, t)

    def within_latency(self, t: float, window: float, limit: float) -> float | None:
        """Share of the events stored in (t - window, t] whose publish → stored was ≤ limit."""
        if limit not in self._late:
            late = [0]
            for latency in self._latency:
                late.append(late[-1] + (latency > limit))
            self._late[limit] = late
        late = self._late[limit]
        hi = bisect.bisect_right(self.stored, t)
        lo = bisect.bisect_right(self.stored, t - window)
        if hi == lo:
            return None
        return 1 - (late[hi] - late[lo]) / (hi - lo)

    @staticmethod
    def _count(times: list[float], t: float, window: float) -> int:
        return bisect.bisect_right(times, t) - bisect.bisect_right(times, t - window)


Condition = Callable[[float], bool]


def final_run_start(
    conditions: Sequence[Condition], after: float, end: float, hold_s: float
) -> float | None:
    """Start of the last stretch in [after, end] where every condition holds, lasting ≥ hold_s
    (or up to `end`)."""
    t, start, found = after, None, None
    while t <= end:
        if all(c(t) for c in conditions):
            if start is None:
                start = t
        else:
            if start is not None and t - start >= hold_s:
                found = start
            start = None
        t = round(t + RESOLUTION_S, 6)
    if start is not None and end - start >= hold_s:
        found = start
    return found


def first_breach(conditions: Sequence[Condition], after: float, end: float) -> float | None:
    t = after
    while t <= end:
        if not all(c(t) for c in conditions):
            return t
        t = round(t + RESOLUTION_S, 6)
    return None


def drained(
    events: EventTimes, ready: float, start: float, end: float, limit: float, hold_s: float
) -> float | None:
    """After the component is ready and after the backlog's peak: the first moment from which the
    backlog stays ≤ limit for hold_s. A peak at or under the limit is no backlog: it bounds
    nothing (the malformed-events drill's backlog hovers at 0-30, its maximum anywhere)."""
    t, peak_t, peak = start, start, -1
    while t <= end:
        b = events.backlog(t)
        if b > peak:
            peak, peak_t = b, t
        t = round(t + RESOLUTION_S, 6)
    t, since = max(ready, peak_t if peak > limit else ready), None
    while t <= end:
        if events.backlog(t) <= limit:
            since = t if since is None else since
            if t - since >= hold_s:
                return since
        else:
            since = None
        t = round(t + RESOLUTION_S, 6)
    return since


def _at_least(events: EventTimes, low: float | None) -> Condition:
    assert low is not None
    return lambda t: events.stored_rate(t, 5.0) >= low


def _backlog_at_most(events: EventTimes, high: float | None) -> Condition:
    assert high is not None
    return lambda t: events.backlog(t) <= high


# Each catalog steady-state probe, recomputed from the OS or psql: (the part of the query that
# fixes its semantics, how to evaluate it). A probe missing here fails the check loudly.
def conditions_for(spec, watch: PortWatch, events: EventTimes) -> list[Condition]:
    conditions: list[Condition] = []
    for probe in spec.steady_state:
        tol = probe.tolerance
        name, query = probe.name, probe.query
        if name == "analysis up":
            assert query == 'min(up{job="audit-log-analysis"})', query
            up = watch.up_within("analysis")
            conditions.append(up)
        elif name == "broker up":
            assert 'max_over_time(up{job="rabbitmq"}[3s])' in query, query
            conditions.append(watch.up_within("rabbitmq-metrics", 3.0))
        elif name == "postgres up":
            assert query == "min(pg_up)", query
            conditions.append(watch.up_within("postgres"))
        elif name == "events stored per second":
            assert 'rate(events_processed_total{result="stored"}[5s])' in query, query
            conditions.append(_at_least(events, tol.min))
        elif name == "queue backlog":
            assert "rabbitmq_queue_messages_ready" in query, query
            conditions.append(_backlog_at_most(events, tol.max))
        elif name == "generator connected":
            assert query == "min(generator_broker_connected)", query
            conditions.append(lambda t: events.published_in(t, 1.0) > 0)
        elif name == "p99 publish-to-stored latency (s)":
            assert "histogram_quantile(0.99" in query and "[10s]" in query, query
            limit = tol.max
            assert limit is not None

            def latency_ok(t: float, limit: float = limit) -> bool:
                share = events.within_latency(t, 10.0, limit)
                return share is not None and share >= 0.99

            conditions.append(latency_ok)
        else:
            raise AssertionError(f"no ground truth for steady-state probe {name!r}: add it here")
    return conditions


@dataclass(frozen=True)
class Truth:
    """The independent figures of one drill run (absolute unix times; None: not seen)."""

    fault_at: float
    fault_source: str
    ready_at: float | None
    detected_at: float | None
    breach_at: float | None
    steady_at: float | None
    drained_at: float | None
    complete_at: float | None
    recovered_at: float | None

    @property
    def ttd(self) -> float | None:
        return None if self.detected_at is None else round(self.detected_at - self.fault_at, 3)

    @property
    def ttr(self) -> float | None:
        return None if self.recovered_at is None else round(self.recovered_at - self.fault_at, 3)


def measure_truth(
    spec,
    watch: PortWatch,
    events: EventTimes,
    prometheus_url: str,
    fault: tuple[str, float | None],
    ready_at: float | None,
    end: float,
    restore: bool = False,
) -> Truth:
    """The drill's figures from the OS, raw ALERTS and psql. `fault` is (source, time): the
    caller's OS observation of when the fault took effect."""
    source, fault_at = fault
    assert fault_at is not None, f"the OS never saw the fault ({source})"
    firing = [
        t
        for name in spec.expected_alerts
        for t in raw_firing_times(prometheus_url, name, fault_at, end)
    ]
    conditions = conditions_for(spec, watch, events)
    breach = first_breach(conditions, fault_at, end)
    hold = (spec.recovery_samples - 1) * SCRAPE_S
    steady = final_run_start(conditions, breach or fault_at, end, hold)
    drain = drained(events, ready_at or fault_at, fault_at, end, spec.backlog_max, hold)
    complete = None
    if restore:  # every event generated before the fault is stored again
        complete = events.last_stored_of_generated_before(fault_at)
    parts = [steady, drain] + ([complete] if restore else [])
    recovered = None if any(p is None for p in parts) else max(p for p in parts if p is not None)
    return Truth(
        fault_at=fault_at,
        fault_source=source,
        ready_at=ready_at,
        detected_at=min(firing) if firing else None,
        breach_at=breach,
        steady_at=steady,
        drained_at=drain,
        complete_at=complete,
        recovered_at=recovered,
    )
