"""A network fault as the control channel carries it, and the maths of the shaping modes.

Modes (one fault per route at a time; every fault has a duration and ends by itself):

* `latency` — every chunk of bytes, in each direction, is held `latency_ms` ± `jitter_ms`
  (uniform) before it is passed on, like `netem delay` on the loopback: a round trip gains twice
  the latency. Order is kept (no reordering): a chunk is never released before the one before it.
* `bandwidth` — each direction is limited to `bandwidth_kbps` kilobits per second (token bucket
  without burst: every slice of bytes waits its own transmission time).
* `blackhole` — bytes are read and silently dropped in both directions; every connection stays
  open, new ones are accepted and held, nothing is closed or refused. Heartbeats and timeouts
  are the only way out for the endpoints. A stream that lost bytes cannot go on (TCP would have
  retransmitted them; the proxy threw them away), so when the blackhole ends such a connection
  is reset; one that lost nothing goes on.
* `reset` — every open connection of the route is reset (RST to both ends) at once; during
  `duration_s` (0: only that once) every new connection is reset too.
* `partition` — the route is cut, failing fast: open connections are reset and the listener is
  closed, so new connections are refused (ECONNREFUSED), for `duration_s`; then it listens again.

Why a deadline inside the proxy: the harness that set a fault may die. The proxy clears a fault
whose `duration_s` has passed on its own clock, so a crashed harness never leaves the platform
cut off; rollback (and `genesis-drill recover`) clears it explicitly before that.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

MODES = ("latency", "bandwidth", "blackhole", "reset", "partition")
MAX_DURATION_S = 3600.0
MAX_LATENCY_MS = 60_000.0
MAX_BANDWIDTH_KBPS = 10_000_000.0
# Parameters each mode takes besides duration_s; any other is refused (never silently ignored).
MODE_PARAMS: dict[str, tuple[str, ...]] = {
    "latency": ("latency_ms", "jitter_ms"),
    "bandwidth": ("bandwidth_kbps",),
    "blackhole": (),
    "reset": (),
    "partition": (),
}
# A bandwidth-limited direction releases bytes in slices of this much transmission time, so a
# 64 KiB read at 8 kbit/s trickles out instead of arriving in one burst a minute later.
SLICE_S = 0.05


@dataclass(frozen=True)
class FaultSpec:
    """One fault on one route. `id` lets a rollback clear only the fault it set."""

    mode: str
    duration_s: float
    id: str = ""
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    bandwidth_kbps: float = 0.0

    @property
    def bytes_per_s(self) -> float:
        return self.bandwidth_kbps * 1000.0 / 8.0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mode": self.mode, "duration_s": self.duration_s, "id": self.id}
        for name in MODE_PARAMS[self.mode]:
            out[name] = getattr(self, name)
        return out

    @classmethod
    def from_json(cls, raw: Any) -> FaultSpec:
        """A validated fault; ValueError naming the field otherwise (the control channel
        answers it as a 400)."""
        if not isinstance(raw, Mapping):
            raise ValueError("the fault must be a JSON object")
        mode = raw.get("mode")
        if mode not in MODES:
            raise ValueError(f"mode: must be one of {', '.join(MODES)}, got {mode!r}")
        allowed = {"mode", "duration_s", "id", *MODE_PARAMS[mode]}
        extra = sorted(set(raw) - allowed)
        if extra:
            raise ValueError(f"{', '.join(extra)}: not a parameter of mode {mode}")
        low = 0.0 if mode == "reset" else 0.1
        duration = _number(raw, "duration_s", low, MAX_DURATION_S)
        ident = raw.get("id", "")
        if not isinstance(ident, str) or len(ident) > 200:
            raise ValueError("id: must be a string of at most 200 characters")
        values: dict[str, float] = {}
        if mode == "latency":
            values["latency_ms"] = _number(raw, "latency_ms", 1.0, MAX_LATENCY_MS)
            values["jitter_ms"] = _number(raw, "jitter_ms", 0.0, values["latency_ms"], default=0.0)
        if mode == "bandwidth":
            values["bandwidth_kbps"] = _number(raw, "bandwidth_kbps", 1.0, MAX_BANDWIDTH_KBPS)
        return cls(mode, duration, ident, **values)


def _number(
    raw: Mapping[str, Any], name: str, low: float, high: float, default: float | None = None
) -> float:
    value = raw.get(name, default)
    if value is None:
        raise ValueError(f"{name}: required")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name}: must be a finite number, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name}: must be within {low:g}..{high:g}, got {value:g}")
    return float(value)


def latency_release(
    now: float, previous: float, latency_ms: float, jitter_ms: float, rng: random.Random
) -> float:
    """When a chunk that arrived at `now` may leave: `latency_ms` ± `jitter_ms` later, and never
    before the chunk before it (`previous`), so jitter delays but never reorders."""
    delay = latency_ms + (rng.uniform(-jitter_ms, jitter_ms) if jitter_ms else 0.0)
    return max(now + max(0.0, delay) / 1000.0, previous)


def bandwidth_slices(
    data: bytes, now: float, previous: float, bytes_per_s: float
) -> Iterator[tuple[float, bytes]]:
    """(release time, slice) for `data` on a link of `bytes_per_s`, after `previous` was sent."""
    size = max(1, int(bytes_per_s * SLICE_S))
    release = max(now, previous)
    view = memoryview(data)
    for start in range(0, len(data), size):
        piece = bytes(view[start : start + size])
        release += len(piece) / bytes_per_s
        yield release, piece
