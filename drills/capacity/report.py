"""The capacity run's directory: `capacity.json` (every figure) and `report.html` (the charts).

Like a drill's run directory (`runs/<UTC time>-capacity/`), so it sits next to the drills it
sizes and `genesis-drill report`'s page conventions apply: one self-contained file, inline SVG,
every text escaped. The charts are per step, offered rate on the x axis: throughput (offered,
confirmed, stored), p99 against the SLO threshold, and each pipeline component's CPU in cores.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape

from drills.capacity import analysis
from drills.capacity.climb import Climb
from drills.capacity.usage import PIPELINE
from drills.postmortem.chart import nice_ticks
from drills.report import page as report_page
from drills.report.svg import AXIS, y_grid

RESULT_NAME = "capacity.json"
COLORS = ("#1f6fb4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")
WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 62, 150, 14, 34


@dataclass(frozen=True)
class Findings:
    capacity: float | None
    bottleneck: analysis.Bottleneck | None
    projections: tuple[analysis.Projection, ...]
    headroom: str
    advice: str
    lower_bound: bool = False  # every step held: the capacity is at least this

    @property
    def capacity_text(self) -> str:
        if self.capacity is None:
            return "not found"
        at_least = "at least " if self.lower_bound else ""
        return f"{at_least}{self.capacity:,.0f} events/s"


def findings(result: Climb, on_cluster: bool = False) -> Findings:
    lost = result.ledger.lost if result.ledger and not result.ledger.note else None
    dup = result.ledger.duplicated if result.ledger and not result.ledger.note else None
    found = analysis.capacity(result.steps, lost, dup)
    bottleneck = analysis.bottleneck(result.steps)
    ahead = tuple(analysis.projections(result.steps))
    return Findings(
        found,
        bottleneck,
        ahead,
        analysis.headroom(result.load_before, found),
        analysis.advice(bottleneck, ahead, on_cluster),
        analysis.lower_bound(result.steps),
    )


def to_json(result: Climb, found: Findings, source: str) -> dict[str, Any]:
    ledger = result.ledger
    return {
        "kind": "capacity",
        "started_at": datetime.fromtimestamp(result.started_at, UTC).isoformat(),
        "finished_at": datetime.fromtimestamp(result.finished_at, UTC).isoformat(),
        "plan": {
            "rates": result.plan.rates(),
            "step_seconds": result.plan.step_s,
            "settle_seconds": result.plan.settle_s,
        },
        "capacity_events_per_second": found.capacity,
        # Every step held: the climb ran out of steps before the platform ran out of capacity.
        "capacity_is_lower_bound": found.lower_bound,
        "capacity_text": found.capacity_text,
        "bottleneck": None
        if found.bottleneck is None
        else {
            "component": found.bottleneck.component,
            "utilisation": round(found.bottleneck.utilisation, 3),
            "at_rate": found.bottleneck.at_rate,
            "text": found.bottleneck.text,
        },
        "projections": [
            {
                "component": p.component,
                "cpu_microseconds_per_event": round(p.cpu_us_per_event, 1),
                "ceiling_cores": p.ceiling_cores,
                "saturates_at_events_per_second": round(p.saturates_at),
            }
            for p in found.projections
        ],
        "load_before_events_per_second": result.load_before,
        "headroom": found.headroom,
        "advice": found.advice,
        "previous_rate": result.previous_rate,
        "stopped": result.stopped,
        "usage_source": source,
        "ledger": None if ledger is None else dataclasses.asdict(ledger),
        "steps": [s.to_json() for s in result.steps],
    }


def _lines_chart(
    title: str,
    unit: str,
    xs: Sequence[float],
    series: Sequence[tuple[str, Sequence[float | None]]],
    limit: tuple[str, float] | None = None,
) -> Markup:
    """Lines over the steps (x: offered rate, one slot per step), a legend on the right."""
    values = [v for _, ys in series for v in ys if v is not None]
    high = max([*values, limit[1] if limit else 0.0, 1e-9])
    ticks = nice_ticks(0.0, high, 4)
    top_value = max(high, ticks[-1])
    left, right, top, bottom = LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM
    count = max(len(xs), 1)

    def x_of(index: int) -> float:
        return left + (index + 0.5) / count * (right - left)

    def y_of(value: float) -> float:
        return bottom - value / top_value * (bottom - top)

    parts = [
        f'<svg class="capacity-svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
        *y_grid(ticks, y_of, left, right),
        f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="{AXIS}"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="{AXIS}"/>',
        f'<text x="{(left + right) / 2:.0f}" y="{HEIGHT - 4}" class="axis" '
        f'text-anchor="middle">offered events/s per step · {escape(unit)}</text>',
    ]
    for index, x in enumerate(xs):
        parts.append(
            f'<text x="{x_of(index):.1f}" y="{bottom + 14}" class="tick" '
            f'text-anchor="middle">{x:,.0f}</text>'
        )
    if limit is not None:
        y = y_of(limit[1])
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#cf222e" '
            f'stroke-dasharray="4,3"><title>{escape(limit[0])}</title></line>'
        )
    for number, (name, ys) in enumerate(series):
        color = COLORS[number % len(COLORS)]
        points = [(x_of(i), y_of(v)) for i, v in enumerate(ys) if v is not None]
        if len(points) > 1:
            coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(
                f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="1.6"/>'
            )
        for (x, y), value in zip(points, [v for v in ys if v is not None], strict=True):
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}">'
                f"<title>{escape(name)}: {value:,.3g} {escape(unit)}</title></circle>"
            )
        parts.append(
            f'<text x="{right + 10}" y="{top + 12 + 15 * number}" class="tick" '
            f'fill="{color}">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - built here; every text escaped above


def charts(result: Climb, threshold_s: float) -> list[tuple[str, Markup]]:
    steps = result.steps
    xs = [s.offered for s in steps]
    cpu = [
        (name, [s.components[name].cpu_cores if name in s.components else None for s in steps])
        for name in PIPELINE
    ]
    titled = [
        _lines_chart(
            "throughput per step",
            "events/s",
            xs,
            [
                ("offered", xs),
                ("confirmed", [s.confirmed_per_s for s in steps]),
                ("stored", [s.stored_per_s for s in steps]),
            ],
        ),
        _lines_chart(
            "p99 publish → stored per step",
            "s",
            xs,
            [("p99", [s.p99_s for s in steps])],
            (f"SLO threshold {threshold_s:g} s", threshold_s),
        ),
        _lines_chart("CPU per component per step", "cores", xs, cpu),
    ]
    titles = ("throughput per step", "p99 publish → stored per step", "CPU per component (cores)")
    return list(zip(titles, titled, strict=True))


def write(
    directory: Path, result: Climb, found: Findings, source: str, threshold_s: float
) -> tuple[Path, Path]:
    """Write capacity.json and report.html into `directory` (created)."""
    directory.mkdir(parents=True, exist_ok=True)
    data = to_json(result, found, source)
    (directory / RESULT_NAME).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    html = (
        report_page.environment()
        .get_template("capacity.html.j2")
        .render(
            data=data,
            found=found,
            steps=result.steps,
            charts=charts(result, threshold_s),
            pipeline=PIPELINE,
            assets=report_page.assets(),
        )
    )
    page = report_page.write(directory / report_page.REPORT_NAME, html)
    return directory / RESULT_NAME, page
