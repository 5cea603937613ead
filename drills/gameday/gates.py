"""The gates before each drill: enough error budget left, and the drill's alerts quiet.

Why a module of its own: a game day injects one fault after another into the same platform, so
before each drill it asks two questions the plan's author relies on. Is enough of the SLO's error
budget left (Prometheus' figure, or what this game day has already spent, whichever is smaller)?
Below the plan's floor the drill is skipped or the day stops. And has an earlier drill's alert
stopped firing? The runner refuses to inject while an expected alert fires, so the game day waits
for quiet, on its clock, up to the plan's `quiet_timeout_s`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from drills.budget import good_ratio_query
from drills.budget import remaining as budget_remaining
from drills.errors import GenesisError
from drills.gameday.clock import Clock
from drills.gameday.plan import Plan
from drills.slo import SloConfig
from drills.slo import load as load_slos

BudgetSource = Callable[[], float | None]  # remaining share of the error budget, None = unknown
QuietCheck = Callable[[Sequence[str]], Sequence[str]]  # expected alerts → those still firing


def below_floor(plan: Plan, observed: float | None, consumed: float) -> str:
    """Why the next drill must not run because of the error budget ("" when it may)."""
    left = remaining(observed, consumed)
    if left is None or left >= plan.budget.floor:
        return ""
    return f"error budget remaining {left:.0%} is below the floor {plan.budget.floor:.0%}"


def remaining(observed: float | None, consumed: float) -> float | None:
    """The smaller of what Prometheus says is left and what this game day has not yet spent."""
    spent = 1.0 - consumed if consumed else None
    known = [v for v in (observed, spent) if v is not None]
    return min(known) if known else None


def prometheus_budget(prometheus_url: str, slos: SloConfig | None = None) -> BudgetSource:
    """Remaining share of the latency SLO's budget over its window (drills/slo.yaml, or the
    file GENESIS_SLO_CONFIG names), computed by drills.budget as the runner does."""
    from drills.observe import Observer

    observer = Observer(prometheus_url)
    objective = (slos or load_slos()).event_latency
    query = good_ratio_query(objective, objective.window_s)

    def remaining() -> float | None:
        try:
            ratio = observer.value(query)
        except GenesisError:
            return None
        return None if ratio is None else budget_remaining(ratio, objective)

    return remaining


def prometheus_quiet(prometheus_url: str) -> QuietCheck:
    """Which of the given alerts are firing right now (the runner refuses to inject otherwise)."""
    from drills.observe import Observer

    observer = Observer(prometheus_url)

    def firing(alerts: Sequence[str]) -> Sequence[str]:
        if not alerts:
            return []
        names = "|".join(alerts)
        series = observer.range(
            f'ALERTS{{alertstate="firing",alertname=~"{names}"}}', time.time() - 2, time.time(), 1
        )
        return sorted({s.labels.get("alertname", "?") for s in series if s.samples})

    return firing


def await_quiet(
    alerts: Sequence[str],
    firing: QuietCheck,
    timeout_s: float,
    clock: Clock,
    stop: threading.Event,
    step_s: float = 2.0,
) -> list[str]:
    """Wait until none of `alerts` is firing (an earlier drill's alert can linger, and the runner
    refuses to inject while an expected alert fires); returns those still firing at the timeout."""
    deadline = clock.now() + timeout_s
    while True:
        still = list(firing(alerts))
        if not still or clock.now() >= deadline:
            return still
        if clock.wait(min(step_s, deadline - clock.now()), stop):
            return still
