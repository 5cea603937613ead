"""The objectives the dashboards draw against, taken from where the platform already states them.

Nothing is restated here that has a source elsewhere: the recorded SLIs' objectives are the
AuditFlow dashboard page's own catalog (`auditflow.dashboard.view.SLI_CATALOG`, next to the
recording rules' names), the latency SLO's threshold and budget window are the harness's
(`drills/slo.yaml`, the packaged file, so a developer's GENESIS_SLO_CONFIG cannot change what is
generated), and the burn-rate pairs are the alert rules' (Google SRE workbook, ch. 5: page at 14.4x
over 1 h confirmed by 5 m, ticket at 6x over 6 h confirmed by 30 m). tests/unit/test_dashboards.py
parses the packaged alert rules and fails when these pairs or budgets drift from them.

The expressions are written the way the alert rules and `drills.budget` compute them, so a panel
and the alert it explains cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from auditflow.dashboard.view import SLI_CATALOG
from drills import budget, slo

LATENCY = slo.load(environ={}).event_latency  # the packaged drills/slo.yaml
LATENCY_SLI = "event_latency_under_500ms"
DASHBOARD_SLI = "dashboard_http_success"
ERRORS_SLI = "event_processing_errors"
NOTIFICATION_SLI = "notification_availability"
DELIVERY_SLI = "rabbitmq_delivery_failures"
# DESIGN.md §2: dashboard HTTP success 99.9 % over 30 days (the recording rules stop at 6 h).
DASHBOARD_WINDOW = "30d"
# The dashboard's user-facing requests, as the SLI's recording rules select them.
USER_REQUESTS = 'service="event-audit-dashboard",route!~"/metrics|/healthz"'
REQUESTS = "api_request_duration_seconds_count"


def objective(sli: str) -> float:
    """The objective of a recorded SLI (`sli:<sli>:…`), as the dashboard page states it."""
    value = SLI_CATALOG[sli][1]
    if value is None:
        raise KeyError(f"{sli} is tracked, it has no objective")
    return value


def title(sli: str) -> str:
    return SLI_CATALOG[sli][0]


def higher_is_better(sli: str) -> bool:
    return SLI_CATALOG[sli][2]


def number(value: float) -> str:
    """A float as PromQL and a reader want it: 1 - 0.99 is 0.01, not 0.010000000000000009."""
    return f"{value:.10g}"


@dataclass(frozen=True)
class Burn:
    """A multi-window burn-rate alert: it fires when both windows burn faster than `factor`."""

    name: str
    factor: float
    long: str
    short: str


FAST = Burn("fast", 14.4, "1h", "5m")
SLOW = Burn("slow", 6.0, "6h", "30m")
BURNS = (FAST, SLOW)
# The SLIs with burn-rate alerts, and their recording rules' kind (`sli:<sli>:<kind>_<window>`).
BURNING = (LATENCY_SLI, DASHBOARD_SLI)
KIND = "ratio_rate"


def recorded(sli: str, window: str) -> str:
    return f"sli:{sli}:{KIND}{window}"


def burn_rate(sli: str, window: str) -> str:
    """How many times faster than sustainable `sli`'s budget burns over `window`."""
    return f"(1 - {recorded(sli, window)}) / {number(1 - objective(sli))}"


def burn_condition(sli: str, burn: Burn) -> str:
    """The lower of the pair's two burn rates: the alert's `and` holds exactly when this value is
    above `burn.factor` (empty, like the alert, when either window has no data)."""
    long, short = burn_rate(sli, burn.long), burn_rate(sli, burn.short)
    return f"(({long}) < ({short})) or ({short})"


def latency_budget_remaining() -> str:
    """`drills.budget.remaining` over the latency SLO's window, as the preflight gate reads it."""
    good = budget.good_ratio_query(LATENCY, LATENCY.window_s)
    return f"clamp(1 - (1 - ({good})) / {number(1 - LATENCY.objective)}, 0, 1)"


def dashboard_budget_remaining() -> str:
    """Share of the dashboard availability budget left over its 30-day window."""
    window = DASHBOARD_WINDOW
    good = (
        f'(sum(rate({REQUESTS}{{{USER_REQUESTS},status=~"2.."}}[{window}])) or vector(0))'
        f" / sum(rate({REQUESTS}{{{USER_REQUESTS}}}[{window}]))"
    )
    return f"clamp(1 - (1 - ({good})) / {number(1 - objective(DASHBOARD_SLI))}, 0, 1)"
