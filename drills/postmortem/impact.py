"""The post-mortem's quantified impact: peak backlog, worst p99, events lost / duplicated /
dead-lettered, the delay users saw (occurred → stored), minutes out of SLO, error budget,
dashboard errors and what the client probe saw of each API — each from the result or the series
the runner saved, `None` when the run directory does not hold the data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from drills.backlog import EXACT_BACKLOG
from drills.chart_queries import DASHBOARD_5XX_QUERY, P99_QUERY, QUEUE_QUERY
from drills.delay import Delay
from drills.results import DrillResult
from drills.unavailability import ClientUnavailability

Sample = tuple[float, float]


@dataclass(frozen=True)
class Impact:
    """Quantified impact; `None` means the run directory does not hold the data."""

    peak_backlog: float | None
    worst_p99_s: float | None
    lost: int | None
    duplicated: int | None
    dead_lettered: int | None
    slo_breach_minutes: float | None
    error_budget_consumed: float | None
    error_budget_reason: str
    dashboard_errors: float | None
    delay: Delay | None = None  # occurred → stored; None for a run recorded before it existed
    client: ClientUnavailability | None = None  # None: the run had no client probe


def _max_after(samples: Sequence[Sample], after: float | None) -> float | None:
    values = [v for t, v in samples if after is None or t >= after]
    return max(values) if values else None


def _integral(samples: Sequence[Sample], step: float = 1.0) -> float | None:
    return sum(v for _, v in samples) * step if samples else None


def measure_impact(
    result: DrillResult, series: Mapping[str, tuple[Sample, ...]], backlog_query: str | None
) -> Impact:
    """The impact table's figures from the result and the saved series; the exact backlog
    (drills.backlog) is preferred, then the drill's own backlog query, then the broker's queue
    depth, whichever was saved."""
    ledger, phases = result.ledger, result.phases
    injected_at, finished_at = result.injected_at, result.finished_at
    t_inject = injected_at.timestamp() if injected_at else None
    backlog = (
        series.get(EXACT_BACKLOG) or series.get(backlog_query or "") or series.get(QUEUE_QUERY, ())
    )
    breach = next((p.at for p in phases if p.name == "first SLO breach"), None)
    restored = next((p.at for p in phases if p.name == "SLO restored"), None)
    breach_minutes: float | None = None
    if injected_at is not None and phases:
        if breach is None:
            breach_minutes = 0.0
        else:
            until = restored or finished_at
            if until is not None:
                breach_minutes = round(max(0.0, (until - breach).total_seconds()) / 60, 2)
    return Impact(
        peak_backlog=_max_after(backlog, t_inject),
        worst_p99_s=_max_after(series.get(P99_QUERY, ()), t_inject),
        lost=ledger.lost if ledger and not ledger.note else None,
        duplicated=ledger.duplicated if ledger and not ledger.note else None,
        dead_lettered=ledger.dead_lettered if ledger else None,
        slo_breach_minutes=breach_minutes,
        error_budget_consumed=result.error_budget_consumed,
        error_budget_reason=result.error_budget_reason,
        dashboard_errors=_integral(series.get(DASHBOARD_5XX_QUERY, ())),
        delay=result.delay,
        client=result.client_unavailability,
    )
