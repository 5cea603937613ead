"""`report.html` of one run: what the post-mortem states, as a page people want to open.

The page reads the run directory through the post-mortem's own context and document
(`drills.postmortem.context.build`, `drills.postmortem.render.document`), so its figures, causal
chain, factors, log groups and action items are the draft's — never a second computation that
could disagree with it. What it adds is presentation: key figures as cards, the phases on a time
axis, one chart per SLI with the inject / detect / recover marks and values on hover, and each
action item's state in the tracker when `genesis-drill issues sync` recorded one.

Rendered by Jinja2 with HTML autoescape on: every value from the run is escaped on output; the
only `Markup` is the SVG built by `drills.report.svg` (which escapes its texts itself) and the
packaged CSS and script.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from drills import packaged
from drills.postmortem import formats, links
from drills.postmortem.context import RunContext, build
from drills.postmortem.render import Document, document, load_tracking
from drills.postmortem.tracker import TrackerState
from drills.postmortem.tracker import load as load_tracker
from drills.report import svg

REPORT_NAME = "report.html"


@dataclass(frozen=True)
class Card:
    """One key figure: its label, the text shown, the figure's source, and its result key."""

    key: str
    label: str
    text: str
    source: str


@dataclass(frozen=True)
class RunPage:
    """What the run templates see."""

    doc: Document
    cards: tuple[Card, ...]
    charts: tuple[svg.SliChart, ...]
    phases: Markup | None
    # fingerprint → the item's issue as `issues sync` last saw it (tracker.json; {} never synced)
    tracker: Mapping[str, TrackerState]
    overview_link: str | None = (
        None  # Grafana's overview for the run's window (GENESIS_GRAFANA_URL)
    )

    @property
    def run(self) -> RunContext:
        return self.doc.run

    @property
    def anchor(self) -> str:
        """The run's id as an HTML id (a game day's page holds several runs)."""
        return "run-" + "".join(c if c.isalnum() else "-" for c in self.run.run_id)


def _ledger_card(run: RunContext, key: str, label: str) -> Card:
    ledger = run.ledger
    value = getattr(ledger, key) if ledger is not None and not ledger.note else None
    source = "result.json: ledger (psql over the canary range)" if ledger else "no ledger"
    return Card(f"ledger.{key}", label, formats.number(value), source)


def cards(run: RunContext) -> tuple[Card, ...]:
    """The figures a reader looks for first, each with where it came from."""

    def duration(key: str, label: str, figure: Any) -> Card:
        source = figure.source or figure.reason or "not measured"
        if figure.seconds is None and figure.reason:
            source = f"not measured: {figure.reason}"
        return Card(key, label, formats.seconds(figure.seconds), source)

    budget = run.impact.error_budget_consumed
    return (
        duration("ttd_seconds", "time to detect", run.ttd),
        duration("ttn_seconds", "time to notify", run.ttn),
        duration("ttr_seconds", "time to recover", run.ttr),
        _ledger_card(run, "lost", "events lost"),
        _ledger_card(run, "duplicated", "events duplicated"),
        _ledger_card(run, "dead_lettered", "events dead-lettered"),
        Card(
            "error_budget_consumed",
            "latency error budget spent",
            "n/a" if budget is None else f"{budget * 100:.2f} %",
            run.impact.error_budget_reason or "result.json: error_budget_consumed",
        ),
    )


def run_page(run_dir: Path, ctx: RunContext | None = None) -> RunPage:
    """Everything one run's section shows, read from its directory."""
    run = ctx or build(run_dir)
    tracker = load_tracker(run_dir)
    doc = document(run, None, os.environ.get("GENESIS_QUERY_LINK") or None, load_tracking(run_dir))
    return RunPage(
        doc,
        cards(run),
        tuple(svg.sli_charts(run)),
        svg.phase_strip(run),
        tracker,
        links.grafana_overview_url(run.window),
    )


def environment() -> Any:
    """Jinja2 over the packaged report templates, autoescaping HTML, undefined names fatal."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(packaged.path("report/templates"))),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(formats.FILTERS)
    env.filters["pct"] = lambda v: "n/a" if v is None else f"{v * 100:.2f} %"
    return env


def assets() -> dict[str, Markup]:
    """The packaged stylesheet and script, inlined into every page (nothing is fetched)."""
    base = packaged.path("report/assets")
    return {
        "css": Markup((base / "report.css").read_text(encoding="utf-8")),  # noqa: S704 - ours
        "js": Markup((base / "report.js").read_text(encoding="utf-8")),  # noqa: S704 - ours
    }


def render_run(page: RunPage) -> str:
    return str(
        environment()
        .get_template("run.html.j2")
        .render(
            page=page,
            run=page.run,
            doc=page.doc,
            assets=assets(),
        )
    )


def write(path: Path, html: str) -> Path:
    """Write atomically: a report opened while a run rewrites it is never half a page."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    return path


def write_run_report(run_dir: Path) -> Path:
    """Render `report.html` into the run directory and return its path."""
    return write(run_dir / REPORT_NAME, render_run(run_page(run_dir)))


def refresh(path: Path) -> list[Path]:
    """Re-render the report.html already written in the run directory `path`, or in every run
    directory under it — after `issues export` or `issues sync` changed what the action items'
    tracker cells say. Runs without a report are left alone; returns the pages rewritten."""
    run_dirs = (
        [path]
        if (path / "result.json").exists()
        else sorted(p.parent for p in path.glob("*/result.json"))
    )
    return [write_run_report(d) for d in run_dirs if (d / REPORT_NAME).exists()]
