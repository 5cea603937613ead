"""The post-mortem chart: throughput, p99 latency, queue depth and error rate over the drill window.

Drawn from the Prometheus range data the runner saved in `series.json` (never re-queried: the
chart must render from a run directory long after the sandbox is gone), with the injection,
detection and recovery marked.

Written as SVG by hand rather than with matplotlib: every `genesis-drill run` drafts its
post-mortem before it exits, and importing matplotlib and laying out four subplots cost 2-3 s of
that on the 2-core sandbox VM (more on a Raspberry Pi) — most of the harness's wall-time overhead
beyond the fault itself. Four line panels with shared time axis, ticks and markers need nothing
more than a scale and a polyline; the output is byte-stable for golden files and diffs, and every
text that came from the run (drill name, run id) is XML-escaped.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from drills.backlog import EXACT_BACKLOG
from drills.chart_queries import ERROR_RATE_QUERY, P99_QUERY, QUEUE_QUERY, THROUGHPUT_QUERY
from drills.postmortem.context import RunContext, Sample

CHART_NAME = "chart.svg"

WIDTH = 900
PANEL_HEIGHT = 190
TOP = 40  # the title
BOTTOM = 40  # the time axis label
LEFT = 70
RIGHT = 20
PLOT_TOP_PAD = 22  # panel title above each plot
PLOT_BOTTOM_PAD = 22  # tick labels below each plot
LINE = "#1f77b4"
GRID = "#dddddd"
MARKS = (("inject", "#d62728"), ("detect", "#ff7f0e"), ("recover", "#2ca02c"))


@dataclass(frozen=True)
class Panel:
    title: str
    unit: str
    query: str
    scale: float = 1.0


def panels(ctx: RunContext) -> tuple[Panel, ...]:
    """The four SLI panels; the queue panel shows the exact backlog, else the drill's backlog
    query, else the broker's queue depth — the first of them that was saved."""
    backlog = ctx.spec.backlog_query if ctx.spec else None
    queue_query = next((q for q in (EXACT_BACKLOG, backlog) if q and q in ctx.series), QUEUE_QUERY)
    return (
        Panel("throughput (events stored/s)", "events/s", THROUGHPUT_QUERY),
        Panel("p99 latency, publish → stored", "ms", P99_QUERY, 1000.0),
        Panel("queue depth / backlog", "messages", queue_query),
        Panel("error rate (dead-lettered / processed)", "%", ERROR_RATE_QUERY, 100.0),
    )


def nice_ticks(low: float, high: float, wanted: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 times 10^k apart) inside [low, high], about `wanted` of them."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low] if math.isfinite(low) else []
    raw = (high - low) / max(wanted, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step - 1e-9) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(0.0 if abs(value) < step * 1e-9 else value)
        value += step
    return ticks


def tick_label(value: float) -> str:
    if value == int(value) and abs(value) < 1e9:
        return f"{int(value):,}"
    return f"{value:,.3g}" if abs(value) < 1 else f"{value:,.1f}"


def _num(value: float) -> str:
    return f"{value:.1f}"


class _Svg:
    """Accumulates SVG elements; attribute values are quoted and texts escaped here only."""

    def __init__(self, width: int, height: int) -> None:
        self.parts = [
            '<?xml version="1.0" encoding="utf-8"?>',
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, sans-serif">',
            f'<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>',
        ]

    def line(
        self, x1: float, y1: float, x2: float, y2: float, stroke: str, extra: str = ""
    ) -> None:
        self.parts.append(
            f'<line x1="{_num(x1)}" y1="{_num(y1)}" x2="{_num(x2)}" y2="{_num(y2)}" '
            f'stroke="{stroke}"{extra}/>'
        )

    def text(self, x: float, y: float, content: str, size: int, extra: str = "") -> None:
        self.parts.append(
            f'<text x="{_num(x)}" y="{_num(y)}" font-size="{size}"{extra}>{escape(content)}</text>'
        )

    def polyline(self, points: Sequence[tuple[float, float]]) -> None:
        coords = " ".join(f"{_num(x)},{_num(y)}" for x, y in points)
        self.parts.append(
            f'<polyline points="{coords}" fill="none" stroke="{LINE}" stroke-width="1.2"/>'
        )

    def done(self) -> str:
        return "\n".join([*self.parts, "</svg>", ""])


def segments(
    samples: Sequence[Sample], origin: float, scale: float
) -> list[list[tuple[float, float]]]:
    """(seconds since origin, scaled value) runs, split where samples are missing: a gap wider
    than 1.5 query steps (Prometheus returned nothing there, e.g. a NaN ratio) is drawn as a gap,
    not bridged by a straight line."""
    finite = [(t, v) for t, v in samples if math.isfinite(t) and math.isfinite(v)]
    steps = [b[0] - a[0] for a, b in itertools.pairwise(finite) if b[0] > a[0]]
    step = min(steps, default=0.0)
    runs: list[list[tuple[float, float]]] = [[]]
    previous: float | None = None
    for t, v in finite:
        if previous is not None and step and t - previous > 1.5 * step and runs[-1]:
            runs.append([])
        runs[-1].append((t - origin, v * scale))
        previous = t
    return [r for r in runs if r]


def _y_pixel(value: float, low: float, high: float, top: float, bottom: float) -> float:
    return bottom - (value - low) / (high - low) * (bottom - top)


def render(ctx: RunContext, out_dir: Path) -> Path | None:
    """Write chart.svg into out_dir; None when the run saved no series at all (nothing to draw)."""
    if not ctx.series or ctx.window is None:
        return None
    origin = ctx.injected_at.timestamp() if ctx.injected_at else ctx.window[0]
    x_low, x_high = ctx.window[0] - origin, ctx.window[1] - origin
    if x_high <= x_low:
        x_high = x_low + 1.0
    chosen = panels(ctx)
    height = TOP + PANEL_HEIGHT * len(chosen) + BOTTOM
    plot_width = WIDTH - LEFT - RIGHT
    svg = _Svg(WIDTH, height)
    svg.text(WIDTH / 2, 22, f"{ctx.drill} — {ctx.run_id}", 14, ' text-anchor="middle"')

    def x_of(seconds: float) -> float:
        return LEFT + (seconds - x_low) / (x_high - x_low) * plot_width

    x_ticks = nice_ticks(x_low, x_high, 8)
    marks = [
        (label, at.timestamp() - origin, color)
        for (label, color), at in zip(
            MARKS, (ctx.injected_at, ctx.detected_at, ctx.recovered_at), strict=True
        )
        if at is not None and x_low <= at.timestamp() - origin <= x_high
    ]
    for index, panel in enumerate(chosen):
        top = TOP + index * PANEL_HEIGHT + PLOT_TOP_PAD
        bottom = TOP + (index + 1) * PANEL_HEIGHT - PLOT_BOTTOM_PAD
        runs = segments(ctx.series.get(panel.query, ()), origin, panel.scale)
        values = [v for run in runs for _, v in run]
        y_low = min(0.0, *values) if values else 0.0
        y_high = max(values, default=0.0)
        y_ticks = nice_ticks(y_low, y_high if y_high > y_low else y_low + 1.0, 5)
        y_low, y_high = min(y_low, y_ticks[0]), max(y_high, y_ticks[-1])

        svg.text(LEFT, top - 8, panel.title, 12)
        svg.text(
            16, (top + bottom) / 2, panel.unit, 11,
            f' text-anchor="middle" transform="rotate(-90 16 {_num((top + bottom) / 2)})"',
        )  # fmt: skip
        for tick in y_ticks:
            svg.line(
                LEFT,
                _y_pixel(tick, y_low, y_high, top, bottom),
                WIDTH - RIGHT,
                _y_pixel(tick, y_low, y_high, top, bottom),
                GRID,
            )
            svg.text(
                LEFT - 6,
                _y_pixel(tick, y_low, y_high, top, bottom) + 4,
                tick_label(tick),
                10,
                ' text-anchor="end"',
            )
        for tick in x_ticks:
            svg.line(x_of(tick), top, x_of(tick), bottom, GRID)
            svg.text(x_of(tick), bottom + 14, tick_label(tick), 10, ' text-anchor="middle"')
        svg.line(LEFT, bottom, WIDTH - RIGHT, bottom, "#444444")
        svg.line(LEFT, top, LEFT, bottom, "#444444")
        if not runs:
            svg.text(
                LEFT + plot_width / 2, (top + bottom) / 2, "no data in series.json", 11,
                ' text-anchor="middle" fill="gray"',
            )  # fmt: skip
        for run in runs:
            svg.polyline([(x_of(x), _y_pixel(y, y_low, y_high, top, bottom)) for x, y in run])
        for label, at, color in marks:
            svg.line(x_of(at), top, x_of(at), bottom, color, ' stroke-dasharray="5,3"')
            if index == 0:
                svg.text(
                    x_of(at) - 3, top + 4, label, 10,
                    f" fill={quoteattr(color)} text-anchor=\"end\""
                    f' transform="rotate(-90 {_num(x_of(at) - 3)} {_num(top + 4)})"',
                )  # fmt: skip
    svg.text(
        LEFT + plot_width / 2, height - 10,
        f"seconds since injection (UTC {_utc(origin)})", 11, ' text-anchor="middle"',
    )  # fmt: skip
    path = out_dir / CHART_NAME
    path.write_text(svg.done(), encoding="utf-8")
    return path


def _utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")
