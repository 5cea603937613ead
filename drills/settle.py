"""Settling the ledger after recovery: the canary range against PostgreSQL (and the generator's
per-seq outcomes), the dead letters counted meanwhile, from the first Prometheus scrape that can
hold the final count, and the occurred → stored delay of the range's events.
"""

from __future__ import annotations

from dataclasses import replace

from drills.abort import Reader
from drills.clock import SYSTEM_CLOCK, Clock
from drills.delay import measure_delay, unmeasured
from drills.errors import TargetError
from drills.ledger import Ledger, counter_increase
from drills.reconcile import reconcile
from drills.run_state import RunState
from drills.seams import Generator, Observer

PROMETHEUS_NOW = "vector(time())"  # an instant vector: `time()` alone is a scalar result
DEAD_LETTERED = 'events_processed_total{result="dead_lettered"}'
DEAD_LETTERED_TOTAL = f"sum({DEAD_LETTERED})"
# Raw samples read back before the ledger's mark, so every series has its pre-drill value even
# with production scrape intervals (a counter is scraped whether or not it moved).
DEAD_LETTERED_MARGIN_S = 120.0
# When the analysis service was last scraped: its `stored` series exists as soon as it has stored
# anything, where the dead-lettered one has no series until the first dead letter.
ANALYSIS_SCRAPED_AT = "max(timestamp(events_processed_total))"
FRESH_POLL_S = 0.25


def settle_ledger(
    generator: Generator, state: RunState, dsn: str, observer: Observer
) -> Ledger | None:
    """Account for the canary range, then read how many messages were dead-lettered meanwhile.

    Stored rows first: once every confirmed event up to the final mark is in PostgreSQL, the
    analysis service has consumed everything published before them (one queue, in order), so the
    first scrape taken after that moment holds the final dead-letter count. The delay figures
    land on the result here too: they are read from the same settled rows.
    """
    if state.before is None:
        return None
    after = generator.wait_drained(timeout=60)
    ledger = reconcile(dsn, state.before, after, 0, source=generator)
    if ledger.note:
        delay = unmeasured(ledger.note)
    else:
        try:
            delay = measure_delay(dsn, ledger.run_id, ledger.first_seq, ledger.last_seq)
        except TargetError as exc:
            delay = unmeasured(str(exc))
    state.result = replace(state.result, delay=delay)
    fresh_counter(
        observer, DEAD_LETTERED_TOTAL, ANALYSIS_SCRAPED_AT, clock=state.clock
    )  # waits for that scrape
    return replace(
        ledger, dead_lettered=dead_lettered_since(observer, state.dead_lettered_since, state.clock)
    )


def dead_lettered_since(
    observer: Observer, since: float | None, clock: Clock = SYSTEM_CLOCK
) -> int:
    """Dead letters since the ledger's mark, from the counter's raw samples.

    Summing increments across samples survives a consumer restart (the counter drops to 0 and
    counts again), as Prometheus's `increase()` does; the difference of two readings did not — a
    restarted consumer that dead-lettered as many as before the drill read as 0. Raw samples (a
    range selector in an instant query), not a `query_range` grid that could skip the reset.
    """
    now = observer.value(PROMETHEUS_NOW) or clock.now()
    start = since if since is not None else now
    series = observer.raw_samples(DEAD_LETTERED, now - start + DEAD_LETTERED_MARGIN_S)
    return round(counter_increase([s.samples for s in series], start))


def fresh_counter(
    observer: Reader,
    query: str,
    scraped_at_query: str,
    timeout: float = 15.0,
    poll_s: float = FRESH_POLL_S,
    clock: Clock = SYSTEM_CLOCK,
) -> float | None:
    """A counter's value from the first scrape taken after this call started.

    The exact difference of two counter readings, not `increase()`, whose extrapolation over a
    window gave 284 or 320 for 300 dead-lettered messages; and only from a scrape newer than the
    moment the work was done, since a busy service can miss a scrape or two. "Newer" is judged on
    Prometheus' own clock (PROMETHEUS_NOW), so a harness whose clock differs from the cluster's
    cannot take a stale scrape for a fresh one; and from `scraped_at_query` (the service's latest
    scrape time), not from the counter: a counter never incremented since the service (re)started
    has no series at all and reads 0 — judged by its own timestamp it made every drill without dead
    letters wait out the whole timeout. Polled faster than the scrape interval, so the answer comes
    within a scrape of the work being done.
    """
    deadline = clock.monotonic() + timeout
    since = observer.value(PROMETHEUS_NOW)
    while True:
        scraped_at = observer.value(scraped_at_query)
        value = observer.value(query)
        if since is not None and scraped_at is not None and scraped_at >= since:
            return 0.0 if value is None else value
        if clock.monotonic() > deadline:
            return value
        if since is None:
            since = observer.value(PROMETHEUS_NOW)
        clock.sleep(poll_s)
