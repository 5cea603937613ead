"""Inline SVG for the HTML report: an SLI panel whose values show on hover, and the phases.

The post-mortem's `chart.svg` (drills.postmortem.chart) is a static picture for Markdown; a page
can do better. Each SLI is its own panel here, drawn with the same panels, ticks and gap rule
as the picture (so both show the same lines), and carries its samples in `data-points`: the
page's script (report.js) finds the sample nearest the pointer and prints its time and value.
Without the script the panel is still a complete chart, and every mark keeps a `<title>`, which
browsers show on hover by themselves.

Every text that came from a run is escaped here (markupsafe), and numbers are written by this
module only, so the returned `Markup` is safe to place into the autoescaped template.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from markupsafe import Markup, escape

from drills.postmortem.chart import MARKS, nice_ticks, panels, segments, tick_label
from drills.postmortem.context import RunContext

WIDTH = 640
HEIGHT = 210
LEFT = 58
RIGHT = 12
TOP = 14
BOTTOM = 30
LINE = "#1f6fb4"
GRID = "#e3e3e3"
AXIS = "#555555"
ROW = 22  # the phase strip's line height, in viewBox units


@dataclass(frozen=True)
class Mark:
    label: str
    seconds: float  # since the chart's origin
    color: str
    at: datetime


@dataclass(frozen=True)
class SliChart:
    """One panel: its title, unit, the drawn SVG and what it drew (for the page's summary)."""

    title: str
    unit: str
    query: str
    svg: Markup
    samples: int


def _n(value: float) -> str:
    return f"{value:.1f}"


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%H:%M:%S")


def marks(ctx: RunContext, origin: float, low: float, high: float) -> list[Mark]:
    """The inject / detect / recover moments that fall inside [low, high] (seconds)."""
    found = []
    for (label, color), at in zip(
        MARKS, (ctx.injected_at, ctx.detected_at, ctx.recovered_at), strict=True
    ):
        if at is not None and low <= at.timestamp() - origin <= high:
            found.append(Mark(label, at.timestamp() - origin, color, at))
    return found


def origin_of(ctx: RunContext) -> float | None:
    """Time zero of every chart: the injection, else the saved window's start."""
    if ctx.window is None:
        return None
    return ctx.injected_at.timestamp() if ctx.injected_at else ctx.window[0]


def y_grid(
    ticks: Sequence[float], y_of: Callable[[float], float], left: float, right: float
) -> list[str]:
    """Horizontal grid lines with their labels left of the plot (SLI and history charts)."""
    parts = []
    for tick in ticks:
        y = _n(y_of(tick))
        parts.append(f'<line x1="{left}" y1="{y}" x2="{right}" y2="{y}" stroke="{GRID}"/>')
        parts.append(
            f'<text x="{left - 6}" y="{_n(y_of(tick) + 4)}" class="tick" text-anchor="end">'
            f"{escape(tick_label(tick))}</text>"
        )
    return parts


def sli_charts(ctx: RunContext) -> list[SliChart]:
    """One panel per SLI of the post-mortem chart; empty when the run saved no series."""
    origin = origin_of(ctx)
    if not ctx.series or ctx.window is None or origin is None:
        return []
    x_low, x_high = ctx.window[0] - origin, ctx.window[1] - origin
    if x_high <= x_low:
        x_high = x_low + 1.0
    chosen = marks(ctx, origin, x_low, x_high)
    charts = []
    for panel in panels(ctx):
        runs = segments(ctx.series.get(panel.query, ()), origin, panel.scale)
        svg = _panel(runs, (x_low, x_high), origin, panel.unit, chosen, panel.title)
        charts.append(
            SliChart(panel.title, panel.unit, panel.query, svg, sum(len(r) for r in runs))
        )
    return charts


def _panel(
    runs: Sequence[Sequence[tuple[float, float]]],
    x_range: tuple[float, float],
    origin: float,
    unit: str,
    chosen: Sequence[Mark],
    title: str,
) -> Markup:
    x_low, x_high = x_range
    values = [v for run in runs for _, v in run]
    y_low = min(0.0, *values) if values else 0.0
    y_high = max(values, default=0.0)
    y_ticks = nice_ticks(y_low, y_high if y_high > y_low else y_low + 1.0, 4)
    y_low, y_high = min(y_low, y_ticks[0]), max(y_high, y_ticks[-1])
    left, right, top, bottom = LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM

    def x_of(seconds: float) -> float:
        return left + (seconds - x_low) / (x_high - x_low) * (right - left)

    def y_of(value: float) -> float:
        return bottom - (value - y_low) / (y_high - y_low) * (bottom - top)

    points = [[round(t, 3), round(v, 6)] for run in runs for t, v in run]
    data = {
        "plot": [left, right, top, bottom],
        "x": [x_low, x_high],
        "y": [y_low, y_high],
        "origin": origin,
        "unit": unit,
        "points": points,
    }
    parts = [
        f'<svg class="sli-svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" data-chart="{escape(json.dumps(data))}">',
        f"<title>{escape(title)}</title>",
    ]
    parts += y_grid(y_ticks, y_of, left, right)
    for tick in nice_ticks(x_low, x_high, 6):
        x = _n(x_of(tick))
        parts.append(f'<line x1="{x}" y1="{top}" x2="{x}" y2="{bottom}" stroke="{GRID}"/>')
        parts.append(
            f'<text x="{x}" y="{bottom + 14}" class="tick" text-anchor="middle">'
            f"{escape(tick_label(tick))}</text>"
        )
    parts.append(f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="{AXIS}"/>')
    parts.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="{AXIS}"/>')
    parts.append(
        f'<text x="{(left + right) / 2:.0f}" y="{HEIGHT - 3}" class="axis" '
        f'text-anchor="middle">seconds since injection · {escape(unit)}</text>'
    )
    if not runs:
        parts.append(
            f'<text x="{(left + right) / 2:.0f}" y="{(top + bottom) / 2:.0f}" class="empty" '
            'text-anchor="middle">no data in series.json</text>'
        )
    for run in runs:
        coords = " ".join(f"{_n(x_of(t))},{_n(y_of(v))}" for t, v in run)
        parts.append(
            f'<polyline points="{coords}" fill="none" stroke="{LINE}" stroke-width="1.6"/>'
        )
    for mark in chosen:
        x = _n(x_of(mark.seconds))
        parts.append(
            f'<g class="mark" data-mark="{escape(mark.label)}"><title>{escape(mark.label)} at '
            f"{_utc(mark.at)} UTC (T{mark.seconds:+.1f} s)</title>"
            f'<line x1="{x}" y1="{top}" x2="{x}" y2="{bottom}" stroke="{mark.color}" '
            'stroke-width="1.5" stroke-dasharray="5,3"/>'
            f'<text x="{x}" y="{top + 9}" dx="3" class="mark-label" fill="{mark.color}">'
            f"{escape(mark.label)}</text></g>"
        )
    parts.append(
        f'<g class="cursor" visibility="hidden"><line y1="{top}" y2="{bottom}" '
        f'stroke="{AXIS}" stroke-width="0.8"/><circle r="3.5" fill="{LINE}"/></g>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - built here; every run text escaped above


def phase_strip(ctx: RunContext) -> Markup | None:
    """The phases on one time axis: a dot per measured phase, labelled, from the run's start to
    its end (None when the run has neither an injection nor a phase with a time)."""
    timed = [(p.name, p.at) for p in ctx.phases if p.at is not None]
    if not timed:
        return None
    origin = ctx.injected_at or ctx.started_at
    start = min([ctx.started_at, *(at for _, at in timed)])
    end = max([ctx.finished_at or start, *(at for _, at in timed)])
    low, high = (start - origin).total_seconds(), (end - origin).total_seconds()
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        high = low + 1.0
    width, left, right = WIDTH, 20, WIDTH - 20
    rows = len(timed)
    height = 44 + ROW * rows

    def x_of(seconds: float) -> float:
        return left + (seconds - low) / (high - low) * (right - left)

    parts = [
        f'<svg class="phase-svg" viewBox="0 0 {width} {height}" role="img" '
        'aria-label="the run\'s phases on a time axis">',
        f'<line x1="{left}" y1="20" x2="{right}" y2="20" stroke="{AXIS}"/>',
    ]
    for tick in nice_ticks(low, high, 6):
        tx = _n(x_of(tick))
        parts.append(f'<line x1="{tx}" y1="16" x2="{tx}" y2="24" stroke="{AXIS}"/>')
        parts.append(f'<text x="{tx}" y="12" class="tick" text-anchor="middle">{tick:+g} s</text>')
    for index, (name, at) in enumerate(sorted(timed, key=lambda p: p[1])):
        offset = (at - origin).total_seconds()
        x = x_of(offset)
        y = 44 + ROW * index
        anchor = "end" if x > (left + right) / 2 else "start"
        dx = -6 if anchor == "end" else 6
        parts.append(
            f'<g class="phase" data-phase="{escape(name)}"><title>{escape(name)} at {_utc(at)} '
            f"UTC (T{offset:+.1f} s)</title>"
            f'<line x1="{_n(x)}" y1="20" x2="{_n(x)}" y2="{y}" stroke="{GRID}"/>'
            f'<circle cx="{_n(x)}" cy="{y - 4}" r="4" fill="{LINE}"/>'
            f'<text x="{_n(x)}" y="{y}" dx="{dx}" text-anchor="{anchor}" class="phase-label">'
            f"{escape(name)} (T{offset:+.1f} s)</text></g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - built here; every run text escaped above
