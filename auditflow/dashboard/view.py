"""Rendering the dashboard page: pure functions from query results to HTML.

Event fields come from outside (anyone who can publish to the broker), so the template environment
escapes everything by default; nothing in the template is marked safe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from auditflow.dashboard.queries import Counters, Event, Sli

TEMPLATES = Path(__file__).parent / "templates"

# What each recorded SLI means and its objective: (title, objective, higher is better).
SLI_CATALOG: dict[str, tuple[str, float | None, bool]] = {
    "dashboard_http_success": ("Dashboard HTTP success (2xx / all)", 0.999, True),
    "event_latency_under_500ms": ("Events stored within 500 ms of publish", 0.99, True),
    "event_processing_errors": ("Processing error rate (dead-lettered / processed)", 0.0005, False),
    "notification_availability": ("Notification service availability", 0.999, True),
    "rabbitmq_delivery_failures": ("RabbitMQ delivery failure rate", None, False),
}


@dataclass(frozen=True)
class SliRow:
    """One line of the SLI panel."""

    key: str
    title: str
    window: str
    value: str
    objective: str
    status: str  # "ok", "breach" or "nodata"
    labels: str


@dataclass(frozen=True)
class PageModel:
    """Everything the page shows; a dependency that failed has None and a line in `degraded`."""

    events: list[Event] | None
    counters: Counters | None
    slis: list[Sli] | None
    degraded: dict[str, str] = field(default_factory=dict)
    generated_at: str = ""


def _percent(value: float) -> str:
    return f"{value * 100:.3f} %"


def sli_rows(slis: list[Sli]) -> list[SliRow]:
    """SLI series as display rows: `sli:<key>:<kind>_<window>` → title, window, value, verdict."""
    rows: list[SliRow] = []
    for sli in slis:
        parts = sli.name.split(":")
        key = parts[1] if len(parts) > 1 else sli.name
        suffix = parts[2] if len(parts) > 2 else ""
        window = suffix.rsplit("_", 1)[-1].removeprefix("rate").removeprefix("avg") or "?"
        title, objective, higher_better = SLI_CATALOG.get(key, (key, None, True))
        if sli.value is None or math.isinf(sli.value):
            value, status = "no data", "nodata"
        else:
            value = _percent(sli.value)
            status = "ok"
            if objective is not None:
                met = sli.value >= objective if higher_better else sli.value <= objective
                status = "ok" if met else "breach"
        target = (
            "tracked"
            if objective is None
            else ("≥ " if higher_better else "≤ ") + (_percent(objective))
        )
        labels = ", ".join(f"{k}={v}" for k, v in sorted(sli.labels.items()))
        rows.append(SliRow(key, title, window, value, target, status, labels))
    return rows


def environment() -> jinja2.Environment:
    """The page's template environment: autoescape on for everything, undefined names fail."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


_ENV = environment()


def render_index(model: PageModel) -> str:
    """The dashboard page as HTML."""
    counters = model.counters
    return _ENV.get_template("index.html").render(
        events=model.events,
        counters=counters,
        sli_rows=None if model.slis is None else sli_rows(model.slis),
        degraded=model.degraded,
        generated_at=model.generated_at,
    )
