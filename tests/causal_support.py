"""Small DrillResult builders for the post-mortem rule tests (causal chain, factors): a result
around one injection time, its phases at offsets, one expected alert, a backlog peak."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from drills.backlog_peaks import BUFFER_PEAK
from drills.outcome import Outcome
from drills.results import AlertSummary, BacklogPeak, DrillResult, Phase, StepResult

T0 = datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)


def at(offset: float) -> datetime:
    return T0 + timedelta(seconds=offset)


def result(**kw: Any) -> DrillResult:
    values: dict[str, Any] = {
        "run_id": "r",
        "drill": "d",
        "target": "local",
        "outcome": Outcome.PASSED,
        "reason": "",
        "started_at": at(-10),
        "injected_at": T0,
    }
    values.update(kw)
    return DrillResult(**values)


def phases(**offsets: float | None) -> tuple[Phase, ...]:
    names = {
        "breach": "first SLO breach",
        "ready": "component ready",
        "restored": "SLO restored",
        "drained": "backlog drained",
    }
    return tuple(
        Phase(names[k], None if v is None else at(v), v, "prometheus: x")
        for k, v in offsets.items()
    )


def alerts(firing: datetime | None) -> AlertSummary:
    return AlertSummary(
        expected=("RabbitMQDown",),
        fired=("RabbitMQDown",) if firing else (),
        missed=() if firing else ("RabbitMQDown",),
        unexpected=(),
        first_pending_at={"RabbitMQDown": None},
        first_firing_at={"RabbitMQDown": firing},
        for_seconds={"RabbitMQDown": 5.0},
        evaluation_interval_s=1.0,
    )


def peak(
    figure: str = BUFFER_PEAK,
    value: float | None = 5_880.0,
    offset: float | None = 19.9,
    limit: float | None = 100_000.0,
    reason: str = "",
) -> BacklogPeak:
    """A recorded peak (drills.backlog_peaks) at `offset` s after T0, read at 1 s spacing."""
    return BacklogPeak(
        figure=figure,
        peak=value,
        at=None if offset is None else at(offset),
        source="prometheus: the largest of 40 raw samples of g, at most 1 s apart",
        resolution_s=1.0,
        reason=reason,
        limit_figure="limit",
        limit=limit,
        limit_source="prometheus: limit",
    )


def step(
    name: str = "broker-down",
    kind: str = "service-stop",
    injected: float = 0.0,
    rolled_back: float | None = 15.0,
    start: str = "right after the baseline",
) -> StepResult:
    """A composite drill's step injected and rolled back at offsets from T0, expecting no alert."""
    return StepResult(
        name,
        kind,
        "rabbitmq",
        start,
        at(injected),
        None if rolled_back is None else at(rolled_back),
        None,
        (),
        (),
        None,
        None,
        "",
        "",
    )
