"""Sets of sequence numbers as sorted, disjoint, closed intervals `((lo, hi), ...)`: the ledger's
set algebra (lost = ok - stored, recovered = info ∩ stored, ...) done without materialising a
number per event. A canary range of a million events with nothing lost is one interval.

Pure functions on tuples; `normalise` is the only way in, so every other function may assume
sorted, disjoint, non-adjacent input.
"""

from __future__ import annotations

from collections.abc import Iterable

Interval = tuple[int, int]
Intervals = tuple[Interval, ...]


def normalise(pairs: Iterable[Iterable[int]]) -> Intervals:
    """Any `[lo, hi]` pairs (unsorted, overlapping, touching) as canonical intervals; an empty
    pair (`hi < lo`) is dropped. ValueError if an item is not a pair of integers."""
    cleaned: list[Interval] = []
    for pair in pairs:
        items = tuple(pair)
        if len(items) != 2 or not all(type(v) is int for v in items):
            raise ValueError(f"not an interval [lo, hi] of integers: {list(items)!r}")
        lo, hi = items
        if hi >= lo:
            cleaned.append((lo, hi))
    cleaned.sort()
    merged: list[Interval] = []
    for lo, hi in cleaned:
        if merged and lo <= merged[-1][1] + 1:
            if hi > merged[-1][1]:
                merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return tuple(merged)


def span(first: int, last: int) -> Intervals:
    return ((first, last),) if last >= first else ()


def size(ivs: Intervals) -> int:
    return sum(hi - lo + 1 for lo, hi in ivs)


def union(a: Intervals, b: Intervals) -> Intervals:
    return normalise((*a, *b))


def intersect(a: Intervals, b: Intervals) -> Intervals:
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def subtract(a: Intervals, b: Intervals) -> Intervals:
    """Members of `a` that are not in `b`."""
    out: list[Interval] = []
    j = 0
    for lo, hi in a:
        start = lo
        while j < len(b) and b[j][1] < start:
            j += 1
        k = j
        while k < len(b) and b[k][0] <= hi:
            if b[k][0] > start:
                out.append((start, b[k][0] - 1))
            start = max(start, b[k][1] + 1)
            k += 1
        if start <= hi:
            out.append((start, hi))
    return tuple(out)


def sample(ivs: Intervals, limit: int) -> tuple[int, ...]:
    """The lowest `limit` members (evidence for a report, never the whole set)."""
    out: list[int] = []
    for lo, hi in ivs:
        for seq in range(lo, min(hi, lo + limit - len(out) - 1) + 1):
            out.append(seq)
        if len(out) >= limit:
            break
    return tuple(out)
