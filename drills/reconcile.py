"""Reconciling a canary range: the generator's per-seq outcomes against what PostgreSQL holds.

Order matters, and each step says why:

1. the generator's outcomes for the range, read once its buffer drained (so every event that
   will be confirmed is);
2. the stored rows, re-counted until every `ok` seq is there or the settle timeout passes (one
   index range scan on (run_id, seq) per poll; the stored seqs as intervals only when the range
   is not complete, so the usual drill costs one count);
3. rows of the run id outside anything published: PostgreSQL's clock is read first, then the
   generator's last seq, then the rows with a higher seq (or below 1) stored before that clock
   reading. A row inserted before the reading was generated before it, so it cannot be above the
   last seq read after it — whatever is, was never published.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from drills.errors import OutcomesUnavailable, TargetError
from drills.intervals import Intervals, normalise, size, span, subtract
from drills.ledger import SAMPLE, GeneratorMark, Ledger, Outside, compute
from drills.outcomes import PublishOutcomes

_COUNT_RANGE = (
    "SELECT count(*), count(DISTINCT seq) FROM audit_events "
    "WHERE run_id = %s AND seq BETWEEN %s AND %s"
)
# Gaps and islands: consecutive distinct seqs share `seq - row_number()`.
_STORED_ISLANDS = (
    "SELECT min(seq), max(seq) FROM ("
    "  SELECT seq, seq - row_number() OVER (ORDER BY seq) AS island FROM ("
    "    SELECT DISTINCT seq FROM audit_events WHERE run_id = %s AND seq BETWEEN %s AND %s"
    "  ) AS s"
    ") AS t GROUP BY island ORDER BY 1"
)
_OUTSIDE_WHERE = "run_id = %s AND (seq > %s OR seq < 1) AND stored_at <= %s"
_OUTSIDE_COUNT = f"SELECT count(*) FROM audit_events WHERE {_OUTSIDE_WHERE}"  # noqa: S608
_OUTSIDE_SAMPLE = (
    f"SELECT DISTINCT seq FROM audit_events WHERE {_OUTSIDE_WHERE} "  # noqa: S608
    "ORDER BY seq LIMIT %s"
)
# How often the ledger re-counts while the last events are still being stored: the count is one
# index range scan on (run_id, seq), and every poll interval is waited out after the pipeline
# already caught up.
SETTLE_POLL_S = 0.1


class OutcomeSource(Protocol):
    """What the ledger asks the generator (drills.ledger.GeneratorClient)."""

    def mark(self) -> GeneratorMark: ...

    def outcomes(self, run_id: str, first: int, last: int) -> PublishOutcomes: ...


def _restarted(before: GeneratorMark, after: GeneratorMark, dead_lettered: int) -> Ledger:
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


def reconcile(
    dsn: str,
    before: GeneratorMark,
    after: GeneratorMark,
    dead_lettered: int,
    settle_timeout: float = 60.0,
    source: OutcomeSource | None = None,
) -> Ledger:
    """Wait (bounded) until the canary range's confirmed events are stored, then account for it.

    Without `source` (or when the generator has no outcomes to give) every event of the range
    counts as confirmed and rows outside the range are not looked for.
    """
    if before.run_id != after.run_id:
        return _restarted(before, after, dead_lettered)
    run_id, first, last = after.run_id, before.last_seq + 1, after.last_seq
    outcomes: PublishOutcomes | None = None
    why_not = "assumed: every event of the drained range confirmed (no outcome source)"
    if source is not None:
        try:
            outcomes = source.outcomes(run_id, first, last)
            why_not = ""
        except OutcomesUnavailable as exc:
            why_not = f"assumed: every event of the drained range confirmed ({exc})"
    wanted = outcomes.ok_seqs if outcomes is not None else span(first, last)
    import psycopg  # here, not at the top: see drills.runner._warm_imports

    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            rows, distinct, stored = _count_until(conn, run_id, first, last, wanted, settle_timeout)
            outside = _outside(conn, run_id, source) if source is not None else Outside()
    except psycopg.Error as exc:
        raise TargetError(f"cannot count stored events in PostgreSQL: {exc}") from exc
    return compute(
        run_id,
        first,
        last,
        rows,
        distinct,
        dead_lettered,
        stored=stored,
        outcomes=outcomes,
        outside=outside,
        outcomes_source=why_not,
    )


def _count_until(
    conn: Any, run_id: str, first: int, last: int, wanted: Intervals, settle_timeout: float
) -> tuple[int, int, Intervals]:
    """(rows, distinct seqs, stored seqs as intervals) of the range, re-counted until every seq
    in `wanted` is stored or `settle_timeout` has passed."""
    whole = span(first, last)
    deadline = time.monotonic() + settle_timeout
    while True:
        row = conn.execute(_COUNT_RANGE, (run_id, first, last)).fetchone()
        rows, distinct = (int(row[0]), int(row[1])) if row else (0, 0)
        if distinct >= size(whole):
            return rows, distinct, whole
        if size(wanted) < size(whole) or time.monotonic() >= deadline:
            # Some seqs of the range are not expected (info, fail, unpublished), or time is up:
            # which ones are stored decides.
            islands = conn.execute(_STORED_ISLANDS, (run_id, first, last)).fetchall()
            stored = normalise((int(lo), int(hi)) for lo, hi in islands)
            if not subtract(wanted, stored) or time.monotonic() >= deadline:
                return rows, distinct, stored
        time.sleep(SETTLE_POLL_S)


def _outside(conn: Any, run_id: str, source: OutcomeSource) -> Outside:
    """Rows of the run that the generator never published (see the module's step 3)."""
    clock = conn.execute("SELECT clock_timestamp()").fetchone()[0]
    mark = source.mark()
    if mark.run_id != run_id:  # restarted since: which seqs the old run reached is unknown
        return Outside()
    args = (run_id, mark.last_seq, clock)
    count = conn.execute(_OUTSIDE_COUNT, args).fetchone()
    seqs = conn.execute(_OUTSIDE_SAMPLE, (*args, SAMPLE)).fetchall()
    return Outside(int(count[0]) if count else 0, tuple(int(r[0]) for r in seqs))
