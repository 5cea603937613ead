"""Event accounting: every event the generator produced during the drill, and what became of it.

The generator numbers its events per run (`run_id`, `seq`), so the events of a drill are the
*canary range* `(seq_before, seq_after]` of one run id. The ledger is Jepsen's queue checker on
that range: the generator's final status of each sequence number (`drills.outcomes`: ok, fail,
info = outcome unknown, unpublished) against the rows PostgreSQL holds, and

    lost        = ok, yet not stored
    recovered   = published but never confirmed (info, or refused), yet stored
    unexpected  = stored, never published: an unpublished seq of the range, or a row of the run
                  id outside anything the generator published
    duplicated  = rows - distinct seqs stored. Counted on the sequence, not on `event_id` (the
                  primary key): a re-publish keeps its id (uuid5 of run id and seq) and is
                  de-duplicated by the store, so only a second writer of the same (run_id, seq)
                  with another id can make one — exactly what the checker must catch.

A confirm lost with a dropped connection is `info`, never `ok` (it cannot be counted lost) nor
forgotten: if the event is stored it is *recovered*, otherwise it stays `info`. A generator that
cannot report outcomes (an older version) leaves the old, conservative accounting: every event of
the drained range counts as confirmed (`outcomes_source` says so), so an absent one is lost.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from drills.errors import OutcomesUnavailable, TargetError, TemporaryError
from drills.intervals import Intervals, intersect, sample, size, span, subtract, union
from drills.outcomes import PublishOutcomes

SAMPLE = 20  # sequence numbers kept as evidence per category
OUTCOMES_SOURCE = "generator: per-seq publish outcomes (/admin/outcomes)"


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
    """Where every canary event of the drill ended up (counts of sequence numbers).

    `confirmed` is the `ok` count; `confirmed + failed + info + unpublished` is the range.
    `had_info` / `had_fail` count seqs with at least one attempt unconfirmed at a connection loss
    (or timed out) / nacked, whatever their final status: they were re-published.
    """

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
    published: int = 0
    failed: int = 0
    info: int = 0
    unpublished: int = 0
    had_info: int = 0
    had_fail: int = 0
    recovered: int = 0
    unexpected: int = 0
    info_sample: tuple[int, ...] = ()
    fail_sample: tuple[int, ...] = ()
    unexpected_sample: tuple[int, ...] = ()
    outcomes_source: str = ""


@dataclass(frozen=True)
class Outside:
    """Rows of the run id outside anything the generator published (seq above its last, or
    below 1): how many, and the lowest few."""

    rows: int = 0
    sample: tuple[int, ...] = ()


def compute(
    run_id: str,
    first_seq: int,
    last_seq: int,
    rows: int,
    distinct: int,
    dead_lettered: int,
    *,
    stored: Intervals | None = None,
    outcomes: PublishOutcomes | None = None,
    outside: Outside = Outside(),
    outcomes_source: str = "",
) -> Ledger:
    """The checker for the canary range [first_seq, last_seq] (pure, unit-tested).

    `rows` / `distinct`: rows and distinct seqs stored in the range; `stored`: those seqs as
    intervals (needed with `outcomes`; without it only the counts are known). Without `outcomes`
    every seq of the range counts as confirmed, as before the generator reported outcomes.
    """
    whole = span(first_seq, last_seq)
    if stored is None:
        if outcomes is not None:
            raise ValueError("per-seq outcomes need the stored seqs as intervals")
        stored = whole if distinct >= size(whole) else None
    ok: Intervals = whole
    info: Intervals = ()
    fail: Intervals = ()
    unpublished: Intervals = ()
    if outcomes is None:
        confirmed = size(whole)
        source = outcomes_source or "assumed: every event of the drained range confirmed"
    else:
        ok, info, fail = outcomes.ok_seqs, outcomes.info_seqs, outcomes.fail_seqs
        unpublished = outcomes.unpublished_seqs
        confirmed = size(ok)
        source = outcomes_source or OUTCOMES_SOURCE
    unpublished_stored = intersect(unpublished, stored) if stored is not None else ()
    missing = subtract(ok, stored) if stored is not None else None
    return Ledger(
        run_id=run_id,
        first_seq=first_seq,
        last_seq=last_seq,
        confirmed=confirmed,
        stored=distinct,
        dead_lettered=dead_lettered,
        lost=size(missing) if missing is not None else max(0, confirmed - distinct),
        duplicated=max(0, rows - distinct),
        missing_sample=sample(missing, SAMPLE) if missing is not None else (),
        published=size(whole) - size(unpublished),
        failed=size(fail),
        info=size(info),
        unpublished=size(unpublished),
        had_info=outcomes.had_info if outcomes else 0,
        had_fail=outcomes.had_fail if outcomes else 0,
        recovered=size(intersect(union(info, fail), stored)) if stored is not None else 0,
        unexpected=size(unpublished_stored) + outside.rows,
        info_sample=sample(info, SAMPLE),
        fail_sample=sample(fail, SAMPLE),
        unexpected_sample=(*sample(unpublished_stored, SAMPLE), *outside.sample)[:SAMPLE],
        outcomes_source=source,
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

    def outcomes(self, run_id: str, first: int, last: int) -> PublishOutcomes:
        """The generator's per-seq outcomes of `[first, last]`; OutcomesUnavailable (with the
        reason the ledger records) when it has none to give — an older generator (404), a
        refused token, or an answer that does not add up."""
        try:
            response = self._http.get("/admin/outcomes", params={"first": first, "last": last})
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise TemporaryError(
                f"audit-event-generator at {self.base_url} is not answering "
                f"({type(exc).__name__}; is it running? `genesis-drill platform status`)"
            ) from exc
        except httpx.HTTPError as exc:
            raise OutcomesUnavailable(f"/admin/outcomes: {type(exc).__name__}: {exc}") from exc
        if response.status_code == 404:
            raise OutcomesUnavailable("the generator has no /admin/outcomes (an older version)")
        if response.status_code != 200:
            raise OutcomesUnavailable(
                f"/admin/outcomes answered HTTP {response.status_code}: {response.text[:120]}"
            )
        try:
            raw = response.json()
        except ValueError:
            raise OutcomesUnavailable("/admin/outcomes did not answer JSON") from None
        return PublishOutcomes.from_json(raw, run_id, first, last)

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
