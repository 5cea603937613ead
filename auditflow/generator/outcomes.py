"""What became of every publish of this run, per sequence number, as Jepsen's checkers see it.

Jepsen records each operation as invoke → ok | fail | info (outcome unknown). For the generator
an operation is one *publish attempt* of an event, and an event can have several: a nacked,
returned, timed-out or connection-lost publish puts the event back in the buffer, and it is
published again (same event id) until the broker confirms it. The **final status** of a sequence
number, as `/admin/outcomes` reports it, is therefore defined over all of its attempts:

- `ok`          some attempt was confirmed (the event leaves the buffer; nothing follows);
- `info`        no attempt confirmed, and at least one attempt's outcome is unknown: its confirm
                was lost with the connection, timed out, or is still outstanding. An unknown
                attempt may have reached the queue, so a later nack cannot make the event `fail`;
- `fail`        no attempt confirmed and every attempt was refused (nacked or returned
                unroutable): the broker said, each time, that it did not take the event;
- `unpublished` generated but not published yet (waiting in the buffer, e.g. while the broker
                is down).

Besides the final status, two flags per sequence number say what happened on the way:
`had_info` (an attempt was unconfirmed at a connection loss or timed out — the event was
re-published) and `had_fail` (an attempt was nacked or returned).

Memory is bounded without a record per event: every sequence number not yet confirmed is in the
buffer (which never drops one), so its status follows from the buffer and the two flag sets;
confirmed numbers and the flags are interval sets (`SeqRanges`). If a pathological pattern of
outcomes makes the interval sets grow past `MAX_INTERVALS`, the oldest intervals are forgotten and
`known_from` moves up: a range starting below it is reported as incomplete, never guessed.
"""

from __future__ import annotations

from typing import Any

from auditflow.generator.seq_ranges import SeqRanges

MAX_INTERVALS = 50_000  # per set; ~1.5 MB at worst, and the usual run holds a handful
MAX_REPORTED_INTERVALS = 10_000  # per status in one `/admin/outcomes` answer


class PublishHistory:
    """Confirmed sequence numbers and the had-info / had-fail flags of one run, bounded."""

    def __init__(self, max_intervals: int = MAX_INTERVALS) -> None:
        if max_intervals < 1:
            raise ValueError("max_intervals must be >= 1")
        self.max_intervals = max_intervals
        self.confirmed = SeqRanges()
        self.had_info = SeqRanges()
        self.had_fail = SeqRanges()
        self.known_from = 1  # outcomes of lower sequence numbers were forgotten

    def ok(self, seq: int) -> None:
        self.confirmed.add(seq)
        if self.confirmed.intervals > self.max_intervals:
            self._forget_oldest(self.confirmed)

    def unknown(self, seq: int) -> None:
        self.had_info.add(seq)
        if self.had_info.intervals > self.max_intervals:
            self._forget_oldest(self.had_info)

    def refused(self, seq: int) -> None:
        self.had_fail.add(seq)
        if self.had_fail.intervals > self.max_intervals:
            self._forget_oldest(self.had_fail)

    def _forget_oldest(self, grown: SeqRanges) -> None:
        """Drop the oldest quarter of `grown`'s intervals, and the same span of the others, so
        the three sets always describe the same sequence numbers."""
        for _ in range(max(1, self.max_intervals // 4)):
            end = grown.oldest_end()
            if end is None:
                break
            self.known_from = max(self.known_from, end + 1)
            grown.forget_through(end)
        for ranges in (self.confirmed, self.had_info, self.had_fail):
            ranges.forget_through(self.known_from - 1)


def _intervals(seqs: list[int], limit: int) -> tuple[list[list[int]], bool]:
    """Sorted seqs as `[[lo, hi], ...]`, at most `limit` intervals; True if cut short."""
    out: list[list[int]] = []
    for seq in seqs:
        if out and out[-1][1] == seq - 1:
            out[-1][1] = seq
        elif len(out) >= limit:
            return out, True
        else:
            out.append([seq, seq])
    return out, False


def report(
    history: PublishHistory,
    unconfirmed: dict[int, bool],
    run_id: str,
    last_seq: int,
    first: int,
    last: int,
    limit: int = MAX_REPORTED_INTERVALS,
) -> dict[str, Any]:
    """The `/admin/outcomes` answer for `[first, last]` (clipped to what was generated).

    `unconfirmed` is the buffer's view: every generated, unconfirmed sequence number of the range
    → whether an attempt of it is in flight right now (its outcome is not known yet: `info`, as
    Jepsen treats an operation that has not completed).
    """
    top = min(last, last_seq)
    info: list[int] = []
    fail: list[int] = []
    unpublished: list[int] = []
    for seq in sorted(unconfirmed):
        if seq in history.had_info or unconfirmed[seq]:
            info.append(seq)
        elif seq in history.had_fail:
            fail.append(seq)
        else:
            unpublished.append(seq)
    info_iv, cut_info = _intervals(info, limit)
    fail_iv, cut_fail = _intervals(fail, limit)
    unpublished_iv, cut_unpublished = _intervals(unpublished, limit)
    return {
        "run_id": run_id,
        "first": first,
        "last": last,
        "last_seq": last_seq,
        "known_from": history.known_from,
        "generated": max(0, top - first + 1),
        "ok": history.confirmed.count(first, top),
        "info": len(info),
        "fail": len(fail),
        "unpublished": len(unpublished),
        "had_info": history.had_info.count(first, top),
        "had_fail": history.had_fail.count(first, top),
        "info_seqs": info_iv,
        "fail_seqs": fail_iv,
        "unpublished_seqs": unpublished_iv,
        "truncated": cut_info or cut_fail or cut_unpublished,
    }
