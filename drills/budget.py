"""Error-budget maths, one module for the runner and the game days (DESIGN.md §4).

The latency SLO says `objective` of events are stored within `threshold_s` over `window_s`; its
budget is the `1 - objective` share of the window's events that may be slower. From that:

- *consumed* by a drill: events slower than the threshold since the fault, as a share of the
  budget of a window at the drill's load rate;
- *remaining*: 1 - (bad share over the SLO window) / (1 - objective), clamped at 0;
- *burn rate* over a window: bad share over that window / (1 - objective) — 1 spends the budget
  exactly over the SLO window, 14.4 spends 2 % of a 30-day budget in an hour (the SRE workbook).

The PromQL is built here too, so every figure uses the same buckets. Pure apart from the queries'
text; the caller runs them.
"""

from __future__ import annotations

from dataclasses import dataclass

from drills.slo import LatencySlo

COUNT = "event_processing_duration_seconds_count"
BUCKET = "event_processing_duration_seconds_bucket"
MIN_WINDOW_S = 5


def _window(seconds: float) -> str:
    return f"{max(MIN_WINDOW_S, round(seconds))}s"


def _le(threshold_s: float) -> str:
    # prometheus_client writes bucket bounds as Go does: 0.5 → "0.5", 1 → "1.0".
    return str(float(threshold_s))


def bad_events_query(slo: LatencySlo, window_s: float) -> str:
    """Events slower than the SLO threshold over the last `window_s`."""
    w = _window(window_s)
    return (
        f'sum(increase({COUNT}[{w}])) - sum(increase({BUCKET}{{le="{_le(slo.threshold_s)}"}}[{w}]))'
    )


def good_ratio_query(slo: LatencySlo, window_s: float) -> str:
    """Share of events within the SLO threshold over the last `window_s` (no data: empty)."""
    w = _window(window_s)
    return f'sum(rate({BUCKET}{{le="{_le(slo.threshold_s)}"}}[{w}])) / sum(rate({COUNT}[{w}]))'


def budget_events(slo: LatencySlo, rate: float) -> float:
    """How many slow events the SLO window allows at `rate` events/s."""
    return (1 - slo.objective) * rate * slo.window_s


@dataclass(frozen=True)
class Consumed:
    """The share of the budget a drill used, and how it was computed."""

    share: float
    bad: float
    budget: float

    def describe(self, slo: LatencySlo, rate: float) -> str:
        return (
            f"{self.bad:.0f} events slower than {slo.threshold_s:g} s / budget of "
            f"{self.budget:.0f} ({1 - slo.objective:.2%} of {rate:g} events/s over "
            f"{slo.window_s:g} s)"
        )


def consumed(bad: float, slo: LatencySlo, rate: float) -> Consumed | None:
    """Budget share used by `bad` slow events at load `rate`; None when there is no budget."""
    budget = budget_events(slo, rate)
    if budget <= 0:
        return None
    bad = max(0.0, bad)
    return Consumed(round(bad / budget, 4), bad, budget)


def remaining(good_ratio: float, slo: LatencySlo) -> float:
    """Share (0..1) of the budget left when `good_ratio` of the window's events were good."""
    return max(0.0, min(1.0, 1 - (1 - good_ratio) / (1 - slo.objective)))


def burn_rate(good_ratio: float, slo: LatencySlo) -> float:
    """How many times faster than sustainable the budget burns at this good ratio."""
    return max(0.0, 1 - good_ratio) / (1 - slo.objective)
