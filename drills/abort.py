"""Abort conditions as predicates, checked on every observation tick (DESIGN.md §5, step 4).

Why predicates: an abort limit that is parsed but never looked at is worse than none — the user
believes the drill stops before it eats the error budget. Each condition of the drill's `abort`
block becomes a check over what the runner sees while the fault is held and while recovery is
awaited; the first that trips ends the drill with an immediate rollback and an `aborted` outcome
whose reason names the condition, the value that tripped it and when (seconds after inject).

    max_duration_s     the drill's wall time since start
    max_error_budget   share of the latency SLO's budget consumed since inject (drills.budget)
    max_burn_rate      budget burn rate above `rate` over both the short and the long window
    sli_floor          a steady-state probe below `min` / above `max`

A condition that cannot be judged (no data, Prometheus unreadable) does not trip: the max
duration still bounds the drill whatever Prometheus says.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from drills import budget, journal
from drills.errors import ObservationError
from drills.slo import SloConfig
from drills.spec import DrillSpec


class Reader(Protocol):
    def value(self, query: str) -> float | None: ...


@dataclass(frozen=True)
class Trip:
    """An abort condition that fired."""

    condition: str  # the field of the abort block
    value: float
    limit: str
    at: float  # unix seconds (harness clock)
    after_inject_s: float | None
    detail: str = ""

    def describe(self) -> str:
        when = (
            "before the fault"
            if self.after_inject_s is None
            else f"{self.after_inject_s:.1f} s after inject"
        )
        what = self.detail or f"{self.value:.4g}"
        return f"abort.{self.condition}: {what} (limit {self.limit}) at {when}"

    def journal_record(self, phase: str) -> journal.Abort:
        """The journal's `abort` record: the trip, rounded, and the phase it ended."""
        return journal.Abort(
            condition=self.condition,
            value=round(self.value, 6),
            limit=self.limit,
            at=self.at,
            after_inject_s=None if self.after_inject_s is None else round(self.after_inject_s, 3),
            reason=self.describe(),
            phase=phase,
        )

    def record(self) -> dict[str, object]:
        """What listeners are told: the journal record without the phase."""
        fields = self.journal_record(phase="").fields()
        del fields["phase"]
        return fields


class AbortCheck:
    """The drill's abort conditions, bound to its SLO, load rate and deadline."""

    def __init__(
        self, spec: DrillSpec, slo: SloConfig, rate: float, started: float, deadline: float
    ) -> None:
        self.spec, self.slo, self.rate = spec, slo.event_latency, rate
        self.started, self.deadline = started, deadline

    def check(
        self,
        reader: Reader,
        now: float,
        t_inject: float | None,
        values: Mapping[str, float | None] | None = None,
    ) -> Trip | None:
        """The first condition that trips now, or None. `values` are the probe values the
        caller just read (saves querying them twice)."""
        after = None if t_inject is None else now - t_inject
        if now > self.deadline:
            return Trip(
                "max_duration_s",
                now - self.started,
                f"{self.deadline - self.started:g} s",
                now,
                after,
                f"the drill has run {now - self.started:.0f} s",
            )
        if t_inject is None:
            return None
        try:
            return (
                self._budget(reader, now, t_inject)
                or self._burn(reader, now, t_inject)
                or self._floor(reader, now, t_inject, values or {})
            )
        except ObservationError:
            return None  # cannot judge now; the next tick may

    def _budget(self, reader: Reader, now: float, t_inject: float) -> Trip | None:
        limit = self.spec.abort.max_error_budget
        if limit is None:
            return None
        bad = reader.value(budget.bad_events_query(self.slo, now - t_inject))
        used = None if bad is None else budget.consumed(bad, self.slo, self.rate)
        if used is None or used.share <= limit:
            return None
        detail = (
            f"{used.share:.2%} of the error budget consumed ({used.describe(self.slo, self.rate)})"
        )
        return Trip("max_error_budget", used.share, f"{limit:g}", now, now - t_inject, detail)

    def _burn(self, reader: Reader, now: float, t_inject: float) -> Trip | None:
        limit = self.spec.abort.max_burn_rate
        if limit is None:
            return None
        rates = []
        for window in (limit.short_window_s, limit.long_window_s):
            ratio = reader.value(budget.good_ratio_query(self.slo, window))
            if ratio is None:
                return None
            rates.append(budget.burn_rate(ratio, self.slo))
        short, long = rates
        if short <= limit.rate or long <= limit.rate:
            return None
        detail = (
            f"burn rate {short:.3g}x over {limit.short_window_s:g} s and {long:.3g}x over "
            f"{limit.long_window_s:g} s"
        )
        return Trip(
            "max_burn_rate", min(short, long), f"{limit.rate:g}x", now, now - t_inject, detail
        )

    def _floor(
        self, reader: Reader, now: float, t_inject: float, values: Mapping[str, float | None]
    ) -> Trip | None:
        floor = self.spec.abort.sli_floor
        if floor is None:
            return None
        if floor.probe in values:
            value = values[floor.probe]
        else:
            probe = next(p for p in self.spec.steady_state if p.name == floor.probe)
            value = reader.value(probe.query)
        if value is None:
            return None
        if floor.min is not None and value < floor.min:
            limit = f">= {floor.min:g}"
        elif floor.max is not None and value > floor.max:
            limit = f"<= {floor.max:g}"
        else:
            return None
        detail = f"{floor.probe} = {value:.4g}"
        return Trip("sli_floor", value, limit, now, now - t_inject, detail)
