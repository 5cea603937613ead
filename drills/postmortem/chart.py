"""The post-mortem chart: throughput, p99 latency, queue depth and error rate over the drill window.

Drawn from the Prometheus range data the runner saved in `series.json` (never re-queried: the
chart must render from a run directory long after the sandbox is gone), with the injection,
detection and recovery marked. matplotlib is imported here only, lazily, with the Agg backend, so
`genesis-drill --help` and headless machines are unaffected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from drills.postmortem.context import (
    ERROR_RATE_QUERY,
    P99_QUERY,
    QUEUE_QUERY,
    THROUGHPUT_QUERY,
    RunContext,
    Sample,
)

CHART_NAME = "chart.svg"


@dataclass(frozen=True)
class Panel:
    title: str
    unit: str
    query: str
    scale: float = 1.0


def panels(ctx: RunContext) -> tuple[Panel, ...]:
    """The four SLI panels; the queue panel uses the drill's backlog query when that was saved."""
    backlog = ctx.spec.backlog_query if ctx.spec else None
    queue_query = backlog if backlog and backlog in ctx.series else QUEUE_QUERY
    return (
        Panel("throughput (events stored/s)", "events/s", THROUGHPUT_QUERY),
        Panel("p99 latency, publish → stored", "ms", P99_QUERY, 1000.0),
        Panel("queue depth / backlog", "messages", queue_query),
        Panel("error rate (dead-lettered / processed)", "%", ERROR_RATE_QUERY, 100.0),
    )


def _relative(samples: Sequence[Sample], origin: float, scale: float) -> tuple[list[float], ...]:
    return [t - origin for t, _ in samples], [v * scale for _, v in samples]


def render(ctx: RunContext, out_dir: Path) -> Path | None:
    """Write chart.svg into out_dir; None when the run saved no series at all (nothing to draw)."""
    if not ctx.series or ctx.window is None:
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    origin = ctx.injected_at.timestamp() if ctx.injected_at else ctx.window[0]
    marks = [
        ("inject", ctx.injected_at, "tab:red"),
        ("detect", ctx.detected_at, "tab:orange"),
        ("recover", ctx.recovered_at, "tab:green"),
    ]
    chosen = panels(ctx)
    figure, axes = plt.subplots(len(chosen), 1, figsize=(9, 8.5), sharex=True)
    try:
        for axis, panel in zip(axes, chosen, strict=True):
            samples = ctx.series.get(panel.query, ())
            axis.set_title(panel.title, fontsize=9, loc="left")
            axis.set_ylabel(panel.unit, fontsize=8)
            axis.tick_params(labelsize=8)
            axis.grid(alpha=0.3)
            if samples:
                xs, ys = _relative(samples, origin, panel.scale)
                axis.plot(xs, ys, color="tab:blue", linewidth=1.2)
            else:
                axis.text(
                    0.5,
                    0.5,
                    "no data in series.json",
                    transform=axis.transAxes,
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="gray",
                )
            for label, at, color in marks:
                if at is None:
                    continue
                axis.axvline(at.timestamp() - origin, color=color, linestyle="--", linewidth=1)
                if axis is axes[0]:
                    axis.annotate(
                        label,
                        (at.timestamp() - origin, 1.0),
                        xycoords=("data", "axes fraction"),
                        fontsize=8,
                        color=color,
                        rotation=90,
                        va="top",
                        ha="right",
                    )
        axes[-1].set_xlabel("seconds since injection (UTC " + _utc(origin) + ")", fontsize=8)
        figure.suptitle(f"{ctx.drill} — {ctx.run_id}", fontsize=10)
        figure.tight_layout()
        path = out_dir / CHART_NAME
        # A fixed hash salt and no date keep the SVG byte-stable for golden files and diffs.
        matplotlib.rcParams["svg.hashsalt"] = "genesis-drill"
        figure.savefig(path, format="svg", metadata={"Date": None})
    finally:
        plt.close(figure)
    return path


def _utc(ts: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")
