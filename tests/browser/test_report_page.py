"""report.html in headless Chromium (Debian's): it renders without a console error or a single
request beyond the file, its figures are result.json's, the charts show sample values on hover,
and the layout holds at a phone's and a desktop's width (screenshots of both are taken).

The expected figures are read from result.json and series.json here, with this file's own
formatting, not through drills.report: a page that showed another number would fail.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from drills.report.page import write_run_report
from tests.browser.test_dashboard_page import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "runs"
RUNS = sorted(p.name for p in GOLDEN.iterdir())
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield context
        finally:
            context.close()


class Opened:
    """A page opened on a file, with every console message, page error and request recorded;
    any request that is not the file itself is refused (and recorded)."""

    def __init__(self, browser: Any, path: Path, viewport: dict[str, int]) -> None:
        self.console: list[str] = []
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page = browser.new_page()
        self.page.set_viewport_size(viewport)
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        url = path.resolve().as_uri()

        def route(r: Any) -> None:
            self.requests.append(r.request.url)
            if r.request.url == url:
                r.continue_()
            else:
                r.abort()

        self.page.route("**/*", route)
        self.page.goto(url)

    def close(self) -> None:
        self.page.close()


def _report(name: str, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    run_dir = tmp_path / name
    shutil.copytree(GOLDEN / name, run_dir)
    path = write_run_report(run_dir)
    return path, json.loads((run_dir / "result.json").read_text())


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} s"


@pytest.mark.parametrize("name", RUNS)
def test_report_renders_cleanly_with_result_json_figures(browser, tmp_path, name):
    """No console message, no page error, no request but the file; the key figures, objectives,
    alerts and ledger on screen are result.json's."""
    path, result = _report(name, tmp_path)
    opened = Opened(browser, path, DESKTOP)
    try:
        page = opened.page
        assert opened.console == [] and opened.errors == []
        assert opened.requests == [path.resolve().as_uri()]

        def card(key: str) -> str:
            return str(page.locator(f'[data-figure="{key}"] .value').inner_text()).strip()

        for key in ("ttd_seconds", "ttn_seconds", "ttr_seconds"):
            assert card(key) == _seconds(result.get(key)), key
        ledger = result.get("ledger") or {}
        for key in ("lost", "duplicated", "dead_lettered"):
            value = ledger.get(key) if ledger and not ledger.get("note") else None
            assert card(f"ledger.{key}") == ("n/a" if value is None else f"{value:,}"), key
        budget = result.get("error_budget_consumed")
        assert card("error_budget_consumed") == (
            "n/a" if budget is None else f"{budget * 100:.2f} %"
        )
        shown = [
            [c.strip() for c in row.locator("td").all_inner_texts()]
            for row in page.locator("table.objectives tbody tr").all()
        ]
        assert shown == [
            [o["name"], o["target"], o["measured"], "met" if o["passed"] else "missed"]
            for o in result["objectives"]
        ]
        alerts = result.get("alerts") or {}
        for name_ in alerts.get("expected", []):
            fired = page.locator(f'tr[data-alert="{name_}"] td').nth(1).inner_text()
            assert fired == ("yes" if name_ in alerts.get("fired", []) else "no")
        if ledger:
            stored = page.locator('tr[data-ledger="stored"] td').inner_text()
            assert stored == f"{ledger['stored']:,}"
        outcome = page.locator("h1 .badge").inner_text()
        assert outcome == result["outcome"]
    finally:
        opened.close()


def test_chart_shows_the_nearest_sample_on_hover(browser, tmp_path):
    """Pointing at the throughput chart prints the time and value of a sample of series.json."""
    name = "20261127T062644Z-rabbitmq-outage"
    path, result = _report(name, tmp_path)
    saved = json.loads((tmp_path / name / "series.json").read_text())["queries"]
    samples = saved['sum(rate(events_processed_total{result="stored"}[5s]))']
    origin = datetime.fromisoformat(result["injected_at"]).timestamp()
    opened = Opened(browser, path, DESKTOP)
    try:
        figure = opened.page.locator("figure.sli").first
        figure.scroll_into_view_if_needed()
        svg = figure.locator("svg")
        box = svg.bounding_box()
        assert box is not None
        # Where the plot area is inside the viewBox (the drawing's geometry), and the time axis
        # from series.json's own window: the time under the pointer, computed independently.
        plot = json.loads(svg.get_attribute("data-chart") or "{}")["plot"]
        view_width = float((svg.get_attribute("viewBox") or "").split()[2])
        window = json.loads((tmp_path / name / "series.json").read_text())["window"]
        low, high = window[0] - origin, window[1] - origin
        shown = []
        for share in (0.3, 0.75):
            opened.page.mouse.move(box["x"] + box["width"] * share, box["y"] + box["height"] / 2)
            pointed = low + (share * view_width - plot[0]) / (plot[1] - plot[0]) * (high - low)
            wanted = min(samples, key=lambda s: abs(s[0] - origin - pointed))
            readout = figure.locator(".readout")
            seconds = float(readout.get_attribute("data-seconds") or "nan")
            value = float(readout.get_attribute("data-value") or "nan")
            assert seconds == pytest.approx(wanted[0] - origin, abs=1e-3)
            assert value == pytest.approx(wanted[1], abs=1e-6)
            shown.append(seconds)
            text = readout.inner_text()
            assert text.startswith(f"T{seconds:+.1f} s (") and text.endswith(" events/s")
        assert shown[0] < shown[1]
        assert opened.console == [] and opened.errors == []
    finally:
        opened.close()


@pytest.mark.parametrize(("width", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_layout_at_phone_and_desktop_width(browser, tmp_path, width, viewport):
    """Nothing runs off the side of the screen; the cards reflow (2 columns on a phone, 4 or more
    on a desktop); charts fit the width; the full-page screenshot is a real picture."""
    name = "20261203T154006Z-broker-outage-then-kill"  # the longest page: two faults
    path, _ = _report(name, tmp_path)
    opened = Opened(browser, path, viewport)
    try:
        page = opened.page
        scroll_width, inner_width = page.evaluate(
            "[document.documentElement.scrollWidth, window.innerWidth]"
        )
        assert scroll_width <= inner_width
        lefts = {round(b["x"]) for c in page.locator(".card").all() if (b := c.bounding_box())}
        assert len(lefts) == 2 if width == "phone" else len(lefts) >= 4
        for svg in page.locator("figure.sli svg").all():
            box = svg.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= inner_width
            assert box["height"] > 100 if width == "desktop" else box["height"] > 60
        wide = page.evaluate(
            """Array.from(document.querySelectorAll('main *'))
                .filter(e => !e.closest(".scroll"))
                .filter(e => e.getBoundingClientRect().right > innerWidth + 1)
                .map(e => e.tagName)"""
        )
        assert wide == []
        shot = tmp_path / f"report-{width}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert shot.stat().st_size > 50_000  # a blank page of this size compresses to a few kB
    finally:
        opened.close()


def test_gameday_page_shows_the_scorecard_and_every_drill(browser, tmp_path):
    """The game day's page: one scorecard row per step, figures equal to each run's result.json
    and the score to report.json, then each drill's own report; no console error."""
    from tests.unit.test_gameday_report import _day

    day = _day(tmp_path)
    path = day.directory / "report.html"
    assert path.exists(), "the game day did not write report.html"
    summary = json.loads((day.directory / "report.json").read_text())
    opened = Opened(browser, path, DESKTOP)
    try:
        page = opened.page
        assert opened.console == [] and opened.errors == []
        rows = page.locator("table.scorecard tbody tr")
        assert [r.get_attribute("data-drill") for r in rows.all()] == [
            d["drill"] for d in summary["drills"]
        ]
        assert page.locator('h2 [data-field="score"]').inner_text() == str(summary["score"])
        for step in summary["drills"]:
            row = page.locator(f'table.scorecard tr[data-drill="{step["drill"]}"]')
            if step["status"] != "ran":
                assert step["status"] in row.inner_text()
                continue
            result = json.loads((Path(step["run_dir"]) / "result.json").read_text())
            for key in ("ttd_seconds", "ttr_seconds"):
                assert row.locator(f'[data-figure="{key}"]').inner_text() == _seconds(result[key])
            section = page.locator(f'section.run[data-run-id="{result["run_id"]}"]')
            assert section.count() == 1
            assert section.locator("h2 .badge").inner_text() == result["outcome"]
    finally:
        opened.close()


def test_history_page_renders_and_names_the_run_under_the_pointer(browser, tmp_path):
    """history.html: no console error, no request but the file, a chart per figure and drill,
    and the readout names the run whose dot is nearest the pointer, with its value."""
    from click.testing import CliRunner

    from drills.cli.main import cli
    from tests.unit.test_history import write_run

    ttrs = [20.0, 21.0, 20.0, 21.0, 20.0, 21.0, 41.0]
    for n, ttr in enumerate(ttrs):
        write_run(tmp_path, n, ttd=4.0, ttr=ttr)
    result = CliRunner().invoke(cli, ["history", "--runs-dir", str(tmp_path), "--html"])
    assert result.exit_code == 0, result.output
    opened = Opened(browser, tmp_path / "history.html", DESKTOP)
    try:
        page = opened.page
        assert opened.console == [] and opened.errors == []
        assert opened.requests == [(tmp_path / "history.html").resolve().as_uri()]
        assert page.locator("svg.history-svg").count() == 3
        figure = page.locator('figure[data-figure="ttr"]')
        figure.scroll_into_view_if_needed()
        box = figure.locator("svg").bounding_box()
        assert box is not None
        # The last of 7 run slots is centred at 6.5 / 7 of the plot; the plot spans most of it.
        page.mouse.move(box["x"] + box["width"] * 0.93, box["y"] + box["height"] / 2)
        text = figure.locator(".readout").inner_text()
        assert text.startswith("20260101T000006Z-pod-kill (") and text.endswith(": 41 s")
        assert "REGRESSED" in text
    finally:
        opened.close()
