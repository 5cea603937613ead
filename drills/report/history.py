"""`history.html`: TTD, TTR and loss over the runs of each drill, with the regression threshold.

The numbers are `drills.history`'s: each run's figure as indexed, and the threshold the
regression rule (`drills.history.RULE`) set for that run from the runs before it — so a point
above the dashed line is exactly a run `genesis-drill history` calls REGRESSED, and the line is
missing where the rule had too little history to judge. One point per run in run order (not
time: game days bunch runs into minutes, months can pass between others); hovering a point
names the run and its value, and the table under the charts links each run's own report.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from markupsafe import Markup, escape

from drills.history import FIGURES, RULE, History, RunRow, judge
from drills.outcome import MEASURED
from drills.postmortem.chart import nice_ticks
from drills.report import page as report_page
from drills.report.svg import AXIS, LINE, y_grid

HISTORY_NAME = "history.html"
WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 58, 14, 14, 34
THRESHOLD = "#cf222e"
TITLES = {"ttd": "time to detect", "ttr": "time to recover", "lost": "events lost"}


@dataclass(frozen=True)
class Point:
    """One run's figure and the threshold the rule set for it (None: not enough history)."""

    run: RunRow
    value: float | None
    threshold: float | None
    regressed: bool
    note: str


@dataclass(frozen=True)
class FigureChart:
    figure: str
    title: str
    unit: str
    points: tuple[Point, ...]
    svg: Markup


@dataclass(frozen=True)
class DrillHistory:
    drill: str
    runs: tuple[RunRow, ...]
    charts: tuple[FigureChart, ...]
    reports: dict[str, str]  # run id → report.html, relative to the page, when it exists

    @property
    def anchor(self) -> str:
        return "drill-" + "".join(c if c.isalnum() else "-" for c in self.drill)


def points(history: History, runs: Sequence[RunRow], figure: str) -> tuple[Point, ...]:
    """Each run's value of `figure` judged against its own baseline, as `history` judges it."""
    found = []
    for row in runs:
        if row.outcome not in MEASURED:
            found.append(Point(row, None, None, False, f"run {row.outcome}"))
            continue
        verdict = judge(figure, row.figure(figure), history.baseline(row, figure))
        found.append(Point(row, verdict.value, verdict.threshold, verdict.regressed, verdict.note))
    return tuple(found)


def _n(value: float) -> str:
    return f"{value:.1f}"


def _label(point: Point, unit: str) -> str:
    day = point.run.started_at[:16].replace("T", " ")
    threshold = "" if point.threshold is None else f", threshold {point.threshold:g}{unit}"
    word = " REGRESSED" if point.regressed else ""
    return f"{point.run.run_id} ({day} UTC, {point.run.outcome}{threshold}){word}"


def chart(figure: str, found: Sequence[Point]) -> Markup:
    """Values as a line with a dot per run (red when regressed), the threshold dashed."""
    unit = FIGURES[figure][2].strip() or "events"
    values = [p.value for p in found if p.value is not None]
    limits = [p.threshold for p in found if p.threshold is not None]
    high = max([*values, *limits], default=1.0)
    ticks = nice_ticks(0.0, high if high > 0 else 1.0, 4)
    y_high = max(high, ticks[-1]) or 1.0
    count = max(len(found), 1)
    left, right, top, bottom = LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM

    def x_of(index: float) -> float:
        return left + (index + 0.5) / count * (right - left)

    def y_of(value: float) -> float:
        return bottom - value / y_high * (bottom - top)

    measured = [(i, p) for i, p in enumerate(found) if p.value is not None]
    data = {
        "plot": [left, right, top, bottom],
        "x": [-0.5, count - 0.5],
        "y": [0.0, y_high],
        "origin": 0,
        "unit": unit,
        "points": [[i, p.value] for i, p in measured],
        "labels": [_label(p, FIGURES[figure][2]) for _, p in measured],
    }
    parts = [
        f'<svg class="history-svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(TITLES[figure])} per run" data-figure="{figure}" '
        f'data-chart="{escape(json.dumps(data))}">',
        f"<title>{escape(TITLES[figure])} per run</title>",
    ]
    parts += y_grid(ticks, y_of, left, right)
    parts.append(f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="{AXIS}"/>')
    parts.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="{AXIS}"/>')
    parts.append(
        f'<text x="{(left + right) / 2:.0f}" y="{HEIGHT - 4}" class="axis" text-anchor="middle">'
        f"runs, oldest first · {escape(unit)} · dashed: regression threshold</text>"
    )
    step = max(1, count // 8)
    for index in range(0, count, step):
        parts.append(
            f'<text x="{_n(x_of(index))}" y="{bottom + 14}" class="tick" text-anchor="middle">'
            f"{index + 1}</text>"
        )
    if measured:
        coords = " ".join(f"{_n(x_of(i))},{_n(y_of(p.value or 0.0))}" for i, p in measured)
        parts.append(
            f'<polyline points="{coords}" fill="none" stroke="{LINE}" stroke-width="1.4"/>'
        )
    # The threshold as steps: each run's own limit across its slot, a gap where none was set.
    for index, point in enumerate(found):
        if point.threshold is not None:
            y = _n(y_of(point.threshold))
            parts.append(
                f'<line class="threshold" x1="{_n(x_of(index - 0.5))}" y1="{y}" '
                f'x2="{_n(x_of(index + 0.5))}" y2="{y}" stroke="{THRESHOLD}" '
                'stroke-width="1.2" stroke-dasharray="4,3"/>'
            )
    for index, point in measured:
        color = THRESHOLD if point.regressed else LINE
        parts.append(
            f'<circle class="run{" regressed" if point.regressed else ""}" '
            f'cx="{_n(x_of(index))}" cy="{_n(y_of(point.value or 0.0))}" r="4" fill="{color}" '
            f'data-run-id="{escape(point.run.run_id)}"><title>'
            f"{escape(_label(point, FIGURES[figure][2]))}: {point.value:g}"
            "</title></circle>"
        )
    if not measured:
        parts.append(
            f'<text x="{(left + right) / 2:.0f}" y="{(top + bottom) / 2:.0f}" class="empty" '
            'text-anchor="middle">no run measured this figure</text>'
        )
    parts.append(
        f'<g class="cursor" visibility="hidden"><line y1="{top}" y2="{bottom}" '
        f'stroke="{AXIS}" stroke-width="0.8"/><circle r="5" fill="none" stroke="{AXIS}"/></g>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - built here; every run text escaped above


def drill_history(history: History, drill: str, limit: int, page_dir: Path) -> DrillHistory:
    trend = history.trend(drill, limit)
    charts = []
    for figure in FIGURES:
        found = points(history, trend.runs, figure)
        unit = FIGURES[figure][2].strip() or "events"
        charts.append(FigureChart(figure, TITLES[figure], unit, found, chart(figure, found)))
    reports = {}
    for row in trend.runs:
        report = Path(row.run_dir) / report_page.REPORT_NAME
        if report.exists():
            try:
                reports[row.run_id] = report.resolve().relative_to(page_dir.resolve()).as_posix()
            except ValueError:
                reports[row.run_id] = report.resolve().as_uri()
    return DrillHistory(drill, trend.runs, tuple(charts), reports)


def write_history_page(runs_dir: Path, drills: Sequence[str], limit: int) -> Path:
    """Render `<runs dir>/history.html` for `drills` (their last `limit` runs each)."""
    history = History(runs_dir)
    history.sync()
    sections = [drill_history(history, drill, limit, runs_dir) for drill in drills]
    html = (
        report_page.environment()
        .get_template("history.html.j2")
        .render(
            drills=sections,
            rule=RULE,
            runs_dir=str(runs_dir),
            assets=report_page.assets(),
            generated_at=datetime.now(UTC),
        )
    )
    return report_page.write(runs_dir / HISTORY_NAME, html)
