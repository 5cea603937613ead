"""report.html from recorded run directories: golden pages, escaping, self-containment, the CLI.

The page's look is checked in headless Chromium (tests/browser/test_report_page.py); here the
HTML itself: byte-stable against golden files (styles and script elided, so a CSS change does not
rewrite every golden), every value from a run escaped, nothing that would load from elsewhere.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from drills.cli.main import cli
from drills.report.page import REPORT_NAME, write_run_report

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
RUNS = sorted(p.name for p in (GOLDEN / "runs").iterdir())
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> & "quoted" \'single\''


def copy_run(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(GOLDEN / "runs" / name, target)
    return target


def content_only(html: str) -> str:
    """The page without the inline stylesheet and script bodies (checked on their own)."""
    html = re.sub(r"<style>.*?</style>", "<style>…</style>", html, flags=re.S)
    return re.sub(r"<script>.*?</script>", "<script>…</script>", html, flags=re.S)


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text, as a browser's parser would see it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> Elements:
    parser = Elements()
    parser.feed(html)
    return parser


@pytest.mark.parametrize("name", RUNS)
def test_golden_report(name, tmp_path, monkeypatch):
    """A recorded run renders exactly the golden page (GENESIS_UPDATE_GOLDEN=1 rewrites)."""
    monkeypatch.delenv("GENESIS_GRAFANA_URL", raising=False)
    run_dir = copy_run(name, tmp_path)
    html = write_run_report(run_dir).read_text(encoding="utf-8")
    text = content_only(html).replace(str(run_dir), "RUN_DIR")
    golden = GOLDEN / "reports" / f"{name}.report.html"
    if os.environ.get("GENESIS_UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", RUNS)
def test_report_loads_nothing_from_elsewhere(name, tmp_path):
    """No element points outside the file: no src, no external href, no CSS url() or @import;
    the only links are in-page anchors and the tracker's issue URLs; one script, ours."""
    html = write_run_report(copy_run(name, tmp_path)).read_text(encoding="utf-8")
    page = parse(html)
    for tag, attrs in page.tags:
        assert "src" not in attrs, (tag, attrs)
        href = attrs.get("href")
        if href is not None:
            assert href.startswith("#"), (tag, attrs)
    assert [t for t, _ in page.tags].count("script") == 1
    assert [t for t, _ in page.tags].count("link") == 0
    style = re.search(r"<style>(.*?)</style>", html, flags=re.S)
    assert style and "url(" not in style.group(1) and "@import" not in style.group(1)
    assert "default-src 'none'" in html  # the CSP forbids loading anything at all


def test_values_from_the_run_are_escaped(tmp_path):
    """Hostile text in the reason, a log template, an example and a correlation id stays text."""
    run_dir = copy_run("20261127T062644Z-rabbitmq-outage", tmp_path)
    result = json.loads((run_dir / "result.json").read_text())
    result["reason"] = HOSTILE
    (run_dir / "result.json").write_text(json.dumps(result))
    logs = json.loads((run_dir / "log-evidence.json").read_text())
    logs["groups"][0] |= {"template": HOSTILE, "example": HOSTILE, "correlation_id": HOSTILE}
    logs["groups"][0]["components"] = [HOSTILE]
    (run_dir / "log-evidence.json").write_text(json.dumps(logs))
    html = write_run_report(run_dir).read_text(encoding="utf-8")
    page = parse(html)
    assert [t for t, _ in page.tags].count("script") == 1
    assert not any(t == "img" for t, _ in page.tags)
    assert "onerror" not in " ".join(" ".join(a) for _, attrs in page.tags for a in attrs)
    text = "".join(page.text)
    assert text.count(HOSTILE) >= 3  # reason, template, correlation id: shown as typed
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


def test_tracker_links_are_the_only_external_hrefs(tmp_path):
    """An item filed by `issues export` links to its issue; a javascript: URL is never a link."""
    run_dir = copy_run("20261127T062644Z-rabbitmq-outage", tmp_path)
    write_run_report(run_dir)
    fingerprints = re.findall(
        r'data-fingerprint="(gd-[0-9a-f]+)"', (run_dir / REPORT_NAME).read_text()
    )
    assert len(fingerprints) >= 2
    good, evil = fingerprints[:2]
    (run_dir / "issues.json").write_text(
        json.dumps({good: "https://github.com/acme/ops/issues/7", evil: "javascript:alert(1)"})
    )
    page = parse(write_run_report(run_dir).read_text(encoding="utf-8"))
    external = [a["href"] for t, a in page.tags if t == "a" and not str(a["href"]).startswith("#")]
    assert external == ["https://github.com/acme/ops/issues/7"]
    assert "javascript:alert(1)" in "".join(page.text)  # shown, not linked


def test_no_series_no_charts(tmp_path):
    """A run that never reached measurement renders without charts, saying why."""
    run_dir = copy_run("20261127T062824Z-rabbitmq-outage", tmp_path)
    html = write_run_report(run_dir).read_text(encoding="utf-8")
    assert not any(t == "svg" and "data-chart" in a for t, a in parse(html).tags)
    assert "series.json is absent" in html


def test_chart_carries_the_saved_samples(tmp_path):
    """Each SLI panel's hover data are series.json's samples, as seconds since the injection."""
    run_dir = copy_run("20261127T062644Z-rabbitmq-outage", tmp_path)
    html = write_run_report(run_dir).read_text(encoding="utf-8")
    saved = json.loads((run_dir / "series.json").read_text())["queries"]
    injected = json.loads((run_dir / "result.json").read_text())["injected_at"]
    origin = datetime.fromisoformat(injected).timestamp()
    charts = [
        (attrs["data-query"], next(a for t, a in tags if t == "svg"))
        for attrs, tags in _figures(parse(html).tags)
    ]
    assert charts, "no SLI panel"
    throughput = next(
        svg for query, svg in charts if "sum(rate(" in str(query) and "stored" in str(query)
    )
    data = json.loads(str(throughput["data-chart"]))
    query = next(q for q in saved if "stored" in q and q.startswith("sum(rate("))
    expected = [[round(t - origin, 3), round(v, 6)] for t, v in saved[query]]
    assert [t for t, _ in data["points"]] == pytest.approx([t for t, _ in expected], abs=1e-3)
    assert [v for _, v in data["points"]] == pytest.approx([v for _, v in expected], abs=1e-6)


def _figures(tags):
    """(figure attributes, the tags inside it) for every SLI figure."""
    found = []
    for index, (tag, attrs) in enumerate(tags):
        if tag == "figure":
            found.append((attrs, tags[index + 1 : index + 6]))
    return found


def test_cli_report_writes_the_page_and_rejects_other_directories(tmp_path):
    run_dir = copy_run("20261127T062541Z-pod-kill", tmp_path)
    result = CliRunner().invoke(cli, ["report", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(run_dir / REPORT_NAME)
    assert (run_dir / REPORT_NAME).read_text().startswith("<!DOCTYPE html>")
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(cli, ["report", str(empty)])
    assert result.exit_code == 2
    assert "neither a run directory (result.json) nor a game day's (report.json)" in result.output
    result = CliRunner().invoke(cli, ["report", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "no such directory" in result.output
    (run_dir / "result.json").write_text("{not json")
    result = CliRunner().invoke(cli, ["report", str(run_dir)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "result.json" in result.output


def test_action_items_show_their_tracker_state(tmp_path):
    """After `issues sync` (tracker.json), an item links its issue by number and says its state:
    open and overdue, or closed as fixed in a later run."""
    from datetime import UTC, date, datetime

    from drills.postmortem.tracker import TRACKER_FILE, TrackerState, dumps

    run_dir = copy_run("20261127T062644Z-rabbitmq-outage", tmp_path)
    write_run_report(run_dir)
    first, second = re.findall(
        r'data-fingerprint="(gd-[0-9a-f]+)"', (run_dir / REPORT_NAME).read_text()
    )[:2]
    synced = datetime(2026, 12, 20, tzinfo=UTC)
    states = {
        first: TrackerState(
            12, "https://github.com/acme/ops/issues/12", "open", None, "still-failing",
            "20261210T000000Z-rabbitmq-outage", date(2026, 12, 4), True, synced,
        ),
        second: TrackerState(
            13, "https://github.com/acme/ops/issues/13", "closed", "completed", "fixed",
            "20261211T000000Z-rabbitmq-outage", date(2027, 2, 25), False, synced,
        ),
    }  # fmt: skip
    (run_dir / TRACKER_FILE).write_text(dumps(states))
    html = write_run_report(run_dir).read_text(encoding="utf-8")
    row = re.search(rf'<tr data-fingerprint="{first}">.*?</tr>', html, re.S)
    assert row and '<a href="https://github.com/acme/ops/issues/12">#12</a>' in row.group(0)
    assert 'data-state="open">open, overdue since 2026-12-04<' in row.group(0)
    row = re.search(rf'<tr data-fingerprint="{second}">.*?</tr>', html, re.S)
    assert row and ">#13</a>" in row.group(0)
    assert "closed (fixed in run 20261211T000000Z-rabbitmq-outage)" in row.group(0)


def test_grafana_overview_link_when_configured(tmp_path, monkeypatch):
    """With GENESIS_GRAFANA_URL set, the page links the overview dashboard for the run's window
    (series.json's), the one external link besides the tracker's; unset, no link at all."""
    run_dir = copy_run("20261127T062644Z-rabbitmq-outage", tmp_path)
    monkeypatch.delenv("GENESIS_GRAFANA_URL", raising=False)
    assert 'class="grafana"' not in write_run_report(run_dir).read_text()
    monkeypatch.setenv("GENESIS_GRAFANA_URL", "https://grafana.example/")
    window = json.loads((run_dir / "series.json").read_text())["window"]
    page = parse(write_run_report(run_dir).read_text())
    [href] = [a["href"] for t, a in page.tags if t == "a" and "grafana" in str(a.get("class"))]
    assert str(href).startswith("https://grafana.example/d/genesis-overview?from=")
    start, end = (int(x) for x in re.findall(r"=(\d+)", str(href)))
    assert start <= window[0] * 1000 and end >= window[1] * 1000
    assert end - start <= (window[1] - window[0]) * 1000 + 2
