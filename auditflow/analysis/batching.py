"""When to flush: at `max_size` events or when the oldest has waited `max_age_s`, whichever first.

Pure logic (time is passed in), so the policy is unit-tested without a broker or a database.
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class Batcher(Generic[T]):
    """Collects items with their arrival time; hands out batches of at most `max_size`."""

    def __init__(self, max_size: int, max_age_s: float) -> None:
        if max_size < 1 or max_age_s <= 0:
            raise ValueError("max_size must be >= 1 and max_age_s > 0")
        self.max_size = max_size
        self.max_age_s = max_age_s
        self._items: list[T] = []
        self._arrivals: list[float] = []

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: T, now: float) -> bool:
        """Add `item`; True when this made a full batch (the flusher should wake now)."""
        self._items.append(item)
        self._arrivals.append(now)
        return len(self._items) == self.max_size

    def wait_time(self, now: float) -> float | None:
        """Seconds until a batch is due: None when empty, 0 when due now."""
        if not self._items:
            return None
        if len(self._items) >= self.max_size:
            return 0.0
        return max(0.0, self._arrivals[0] + self.max_age_s - now)

    def due(self, now: float) -> bool:
        return self.wait_time(now) == 0.0

    def take(self) -> list[T]:
        """The oldest `max_size` items (fewer if fewer are held); later ones stay, in order."""
        batch = self._items[: self.max_size]
        del self._items[: self.max_size]
        del self._arrivals[: self.max_size]
        return batch

    def clear(self) -> list[T]:
        """Drop everything (their channel is gone, the broker will redeliver them)."""
        items, self._items, self._arrivals = self._items, [], []
        return items
