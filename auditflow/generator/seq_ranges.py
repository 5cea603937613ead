"""A set of sequence numbers held as sorted, disjoint, closed intervals.

The generator confirms its events almost in sequence order, so the set of confirmed sequence
numbers of a run is one interval with a few short-lived holes (events waiting for a re-publish),
and the sets of events that were ever unconfirmed at a connection loss or nacked are a handful of
clusters. Intervals keep that in memory proportional to the number of clusters, not of events; a
dict or set per event would grow by ~100 bytes per event for as long as the generator runs.

Adding the next number after the highest (the usual case) is O(1); anything else is a bisect and a
list insert. Pure logic, no I/O.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right


class SeqRanges:
    """Integers as intervals `[lo, hi]`: add, membership, counting within a range, forgetting."""

    __slots__ = ("_hi", "_lo")

    def __init__(self) -> None:
        self._lo: list[int] = []
        self._hi: list[int] = []

    @property
    def intervals(self) -> int:
        """How many intervals are held (the memory this set costs)."""
        return len(self._lo)

    def add(self, seq: int) -> None:
        lo, hi = self._lo, self._hi
        if hi:
            top = hi[-1]
            if seq == top + 1:  # the next in sequence: extend the last interval
                hi[-1] = seq
                return
            if seq > top:
                lo.append(seq)
                hi.append(seq)
                return
        i = bisect_right(lo, seq) - 1  # the interval starting at or before seq, if any
        if i >= 0 and seq <= hi[i]:
            return  # already present
        joins_left = i >= 0 and hi[i] == seq - 1
        joins_right = i + 1 < len(lo) and lo[i + 1] == seq + 1
        if joins_left and joins_right:
            hi[i] = hi[i + 1]
            del lo[i + 1], hi[i + 1]
        elif joins_left:
            hi[i] = seq
        elif joins_right:
            lo[i + 1] = seq
        else:
            lo.insert(i + 1, seq)
            hi.insert(i + 1, seq)

    def __contains__(self, seq: object) -> bool:
        if not isinstance(seq, int):
            return False
        i = bisect_right(self._lo, seq) - 1
        return i >= 0 and seq <= self._hi[i]

    def count(self, first: int, last: int) -> int:
        """How many members lie in `[first, last]`."""
        if last < first or not self._lo:
            return 0
        lo, hi = self._lo, self._hi
        total = 0
        for i in range(max(0, bisect_left(hi, first)), len(lo)):
            if lo[i] > last:
                break
            total += min(hi[i], last) - max(lo[i], first) + 1
        return total

    def oldest_end(self) -> int | None:
        """The upper end of the lowest interval (what `forget_through` would drop first)."""
        return self._hi[0] if self._hi else None

    def forget_through(self, seq: int) -> None:
        """Drop every member <= `seq` (bounded memory: the caller moves its horizon)."""
        lo, hi = self._lo, self._hi
        cut = bisect_right(hi, seq)
        del lo[:cut], hi[:cut]
        if lo and lo[0] <= seq:
            lo[0] = seq + 1
