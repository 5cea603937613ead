"""Event accounting: every event the generator produced during the drill, and what became of it.

The generator numbers its events per run (`run_id`, `seq`), so the events of a drill are the
*canary range* `(seq_before, seq_after]` of one run id. Once the generator's buffer is empty all of
them are confirmed by the broker; the database then must hold exactly one row per sequence number.
`lost` = confirmed - distinct stored; `duplicated` = rows - distinct stored.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from drills.errors import TargetError, TemporaryError


@dataclass(frozen=True)
class GeneratorMark:
    """The generator's counters at one moment."""

    run_id: str
    last_seq: int
    confirmed: int
    buffered: int
    rate: float

    @classmethod
    def from_stats(cls, stats: dict[str, Any]) -> GeneratorMark:
        return cls(
            run_id=str(stats["run_id"]),
            last_seq=int(stats["last_seq"]),
            confirmed=int(stats["confirmed"]),
            buffered=int(stats["buffered"]),
            rate=float(stats["rate"]),
        )


@dataclass(frozen=True)
class Ledger:
    """Where every canary event of the drill ended up."""

    run_id: str
    first_seq: int
    last_seq: int
    confirmed: int
    stored: int
    dead_lettered: int
    lost: int
    duplicated: int
    missing_sample: tuple[int, ...] = ()
    note: str = ""


def compute(
    run_id: str, first_seq: int, last_seq: int, rows: int, distinct: int, dead_lettered: int
) -> Ledger:
    """Ledger arithmetic for the canary range [first_seq, last_seq] (pure, unit-tested)."""
    confirmed = max(0, last_seq - first_seq + 1)
    return Ledger(
        run_id=run_id,
        first_seq=first_seq,
        last_seq=last_seq,
        confirmed=confirmed,
        stored=distinct,
        dead_lettered=dead_lettered,
        lost=max(0, confirmed - distinct),
        duplicated=max(0, rows - distinct),
    )


class GeneratorClient:
    """The generator's admin API, used for load control and ledger marks."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        # Plain http (the sandbox, a port-forward) needs no CA bundle: loading one into an SSL
        # context cost ~0.1-0.5 s of every drill's start-up. An https URL is verified as usual.
        self._http = httpx.Client(
            base_url=base_url,
            timeout=5.0,
            headers={"Authorization": f"Bearer {token}"},
            verify=base_url.lower().startswith("https://"),
        )

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            response = self._http.request(method, path, json=body)
            response.raise_for_status()
            return response.json()
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            # Nothing listens: the generator died or was never started — say so, not ConnectError.
            raise TemporaryError(
                f"audit-event-generator at {self.base_url} is not answering "
                f"({type(exc).__name__}; is it running? `genesis-drill platform status`)"
            ) from exc
        except httpx.HTTPError as exc:
            raise TargetError(f"generator admin API {path}: {type(exc).__name__}: {exc}") from exc

    def mark(self) -> GeneratorMark:
        return GeneratorMark.from_stats(self._call("GET", "/admin/stats"))

    def set_rate(self, rate: float) -> None:
        self._call("POST", "/admin/rate", {"rate": rate})

    def wait_drained(self, timeout: float) -> GeneratorMark:
        """Wait until every generated event is confirmed by the broker (buffer empty)."""
        deadline = time.monotonic() + timeout
        while True:
            mark = self.mark()
            if mark.buffered == 0 or time.monotonic() > deadline:
                return mark
            time.sleep(0.2)

    def close(self) -> None:
        self._http.close()


def counter_increase(series: Sequence[Sequence[tuple[float, float]]], since: float) -> float:
    """How much counters grew after `since`, resets counted as Prometheus's `increase()` does.

    Each series is a counter's raw samples `(t, value)` in time order. Its value at `since` is
    its last sample at or before then (0 for a series born later, e.g. the first dead letter of
    a restarted consumer); every later sample adds its increment, and a drop — the process
    restarted and counts from 0 again — adds the post-reset value. Unlike `increase()` there is
    no extrapolation to the window's edges: the figure is an exact count.
    """
    total = 0.0
    for samples in series:
        previous = 0.0
        for at, value in samples:
            if at > since:
                total += value - previous if value >= previous else value
            previous = value
    return total


_COUNT_RANGE = (
    "SELECT count(*), count(DISTINCT seq) FROM audit_events "
    "WHERE run_id = %s AND seq BETWEEN %s AND %s"
)
# How often the ledger re-counts while the last events are still being stored: the count is one
# index range scan on (run_id, seq), and every poll interval is waited out after the pipeline
# already caught up.
SETTLE_POLL_S = 0.1


def _count_until(
    dsn: str, run_id: str, first_seq: int, last_seq: int, settle_timeout: float
) -> tuple[int, int]:
    """(rows, distinct seqs) of the canary range in PostgreSQL, re-counted on one connection
    until the range is complete or `settle_timeout` has passed."""
    import psycopg  # here, not at the top: see drills.runner._warm_imports

    expected = last_seq - first_seq + 1
    deadline = time.monotonic() + settle_timeout
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            while True:
                row = conn.execute(_COUNT_RANGE, (run_id, first_seq, last_seq)).fetchone()
                rows, distinct = (int(row[0]), int(row[1])) if row else (0, 0)
                if distinct >= expected or time.monotonic() >= deadline:
                    return rows, distinct
                time.sleep(SETTLE_POLL_S)
    except psycopg.Error as exc:
        raise TargetError(f"cannot count stored events in PostgreSQL: {exc}") from exc


def missing_seqs(
    dsn: str, run_id: str, first_seq: int, last_seq: int, limit: int = 20
) -> list[int]:
    """A few sequence numbers of the range that are not stored (evidence for a loss)."""
    import psycopg

    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT s FROM generate_series(%s::bigint, %s::bigint) AS s "
                "WHERE NOT EXISTS (SELECT 1 FROM audit_events e WHERE e.run_id = %s AND e.seq = s) "
                "ORDER BY s LIMIT %s",
                (first_seq, last_seq, run_id, limit),
            ).fetchall()
    except psycopg.Error as exc:
        raise TargetError(f"cannot list missing events: {exc}") from exc
    return [int(r[0]) for r in rows]


def reconcile(
    dsn: str,
    before: GeneratorMark,
    after: GeneratorMark,
    dead_lettered: int,
    settle_timeout: float = 60.0,
) -> Ledger:
    """Wait (bounded) until the canary range is fully stored, then account for it."""
    if before.run_id != after.run_id:
        return Ledger(
            run_id=after.run_id,
            first_seq=0,
            last_seq=0,
            confirmed=0,
            stored=0,
            dead_lettered=dead_lettered,
            lost=0,
            duplicated=0,
            note=(
                f"the generator restarted during the drill (run {before.run_id} → "
                f"{after.run_id}); the canary range cannot be reconstructed"
            ),
        )
    first, last = before.last_seq + 1, after.last_seq
    rows, distinct = _count_until(dsn, after.run_id, first, last, settle_timeout)
    ledger = compute(after.run_id, first, last, rows, distinct, dead_lettered)
    if ledger.lost:
        sample = tuple(missing_seqs(dsn, after.run_id, first, last))
        return Ledger(**{**ledger.__dict__, "missing_sample": sample})
    return ledger
