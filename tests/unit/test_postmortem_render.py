"""Post-mortem drafting from recorded run directories: golden files, escaping, strict templates."""

from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from drills import chart_queries
from drills.backlog_peaks import BUFFER_PEAK, QUEUE_PEAK
from drills.errors import InvalidInput
from drills.postmortem import context, timeline
from drills.postmortem.links import GRAFANA_URL_ENV
from drills.postmortem.render import draft, md
from drills.postmortem.review import review_file
from drills.results import BacklogPeak, DrillResult

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
RUNS = sorted(p.name for p in (GOLDEN / "runs").iterdir())


def copy_run(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(GOLDEN / "runs" / name, target)
    return target


@pytest.mark.parametrize("name", RUNS)
def test_golden_postmortem(name, tmp_path, monkeypatch):
    """A recorded run renders exactly the golden post-mortem (GENESIS_UPDATE_GOLDEN=1 rewrites)."""
    monkeypatch.delenv(GRAFANA_URL_ENV, raising=False)  # no Grafana: no link, as always
    run_dir = copy_run(name, tmp_path)
    text = draft(run_dir, link_template=None).read_text().replace(str(run_dir), "RUN_DIR")
    golden = GOLDEN / f"{name}.postmortem.md"
    if os.environ.get("GENESIS_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()


@pytest.mark.parametrize("name", RUNS)
def test_recorded_drafts_pass_review_as_drafts(name, tmp_path):
    """Every recorded outcome (passed, failed, target-error) gives a draft that passes review."""
    path = draft(copy_run(name, tmp_path))
    review = review_file(path, allow_draft=True)
    assert review.findings == ()
    assert review_file(path, allow_draft=False).errors > 0  # a draft is not a final version


def test_grafana_overview_link_for_the_run_window(tmp_path, monkeypatch):
    """With GENESIS_GRAFANA_URL set, the draft links the overview dashboard for the window of
    the run's series.json, and still passes review; unset, the line is not there at all."""
    run_dir = copy_run("20261127T062541Z-pod-kill", tmp_path)
    start, end = json.loads((run_dir / "series.json").read_text())["window"]
    monkeypatch.delenv(GRAFANA_URL_ENV, raising=False)
    assert "Grafana" not in draft(run_dir).read_text()
    monkeypatch.setenv(GRAFANA_URL_ENV, "http://127.0.0.1:3000/")
    path = draft(run_dir)
    expected = (
        "http://127.0.0.1:3000/d/genesis-overview"
        f"?from={math.floor(start * 1000)}&to={math.ceil(end * 1000)}"
    )
    assert f"[the AuditFlow overview in Grafana, for this run's window]({expected})" in (
        path.read_text()
    )
    assert review_file(path, allow_draft=True).findings == ()


def test_chart_is_written_and_marks_the_drill(tmp_path):
    """The chart is an SVG in the run directory, embedded in the post-mortem, with inject marked."""
    run_dir = copy_run("20261127T062541Z-pod-kill", tmp_path)
    text = draft(run_dir).read_text()
    svg = (run_dir / "chart.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "](chart.svg)" in text
    assert "inject" in svg and "recover" in svg


def test_no_chart_without_series(tmp_path):
    """A run that never reached measurement (no series.json) renders without a chart link."""
    run_dir = copy_run("20261127T062824Z-rabbitmq-outage", tmp_path)
    text = draft(run_dir).read_text()
    assert not (run_dir / "chart.svg").exists()
    assert "chart.svg" not in text
    assert "No fault was injected" in text


def test_hostile_journal_text_cannot_break_markdown(tmp_path):
    """Pipes, headings, backticks and newlines from events land escaped inside one table row."""
    run_dir = copy_run("20261127T062541Z-pod-kill", tmp_path)
    hostile = "x | y\n# Injected heading `code` *bold* [link](http://e)"
    with (run_dir / "journal.jsonl").open("a") as handle:
        handle.write(json.dumps({"t": 1795760755.0, "event": "internal-error", "error": hostile}))
        handle.write("\n")
    text = draft(run_dir).read_text()
    row = next(line for line in text.splitlines() if "harness internal error" in line)
    assert row.count(" | ") == 3  # still four cells
    assert "x \\| y \\# Injected heading \\`code\\` \\*bold\\* \\[link\\](http://e)" in row
    assert "\n# Injected heading" not in text


def test_md_escapes_line_start_markers():
    """List, ordered-list and heading markers at the start of a value are neutralised."""
    assert md("- item") == "\\- item"
    assert md("1. item") == "1\\. item"
    assert md("# title") == "\\# title"
    assert md("11.1 s") == "11.1 s"
    assert md(None) == "n/a"


def test_user_template_overrides_one_file(tmp_path):
    """A template in --templates replaces the built-in one of the same name; others stay."""
    run_dir = copy_run("20261127T062541Z-pod-kill", tmp_path)
    overrides = tmp_path / "mine"
    overrides.mkdir()
    (overrides / "summary.md.j2").write_text(
        "Our summary: {{ run.drill }} ended {{ run.outcome }}.\n"
    )
    text = draft(run_dir, templates=overrides).read_text()
    assert "Our summary: pod-kill ended passed." in text
    assert "## Timeline" in text


def test_strict_undefined_is_an_error(tmp_path):
    """A misspelt field in a template is an InvalidInput naming the template, not an empty cell."""
    run_dir = copy_run("20261127T062541Z-pod-kill", tmp_path)
    overrides = tmp_path / "mine"
    overrides.mkdir()
    (overrides / "summary.md.j2").write_text("{{ run.no_such_field }}\n")
    with pytest.raises(InvalidInput, match=r"summary\.md\.j2"):
        draft(run_dir, templates=overrides)


def test_not_a_run_directory(tmp_path):
    """A directory without result.json is invalid input (exit 2), not a traceback."""
    with pytest.raises(InvalidInput, match=r"no result\.json"):
        draft(tmp_path)


def test_context_reads_older_result_files(tmp_path):
    """Older results (detection_lower_bound_s) still give the alert's detection bound."""
    run = context.build(copy_run("20261127T062541Z-pod-kill", tmp_path))
    assert run.alerts[0].name == "AuditAnalysisRestarted"
    assert run.alerts[0].bound_s == 1.0
    assert run.timeline == tuple(sorted(run.timeline, key=lambda row: row.at))
    assert run.injected_at is not None
    assert run.timeline[0].at < run.injected_at  # the timeline starts before the injection


def test_chart_queries_match_what_the_runner_saves():
    """Every panel of the chart reads a series the runner saves into series.json, by the same
    PromQL string (a query edited on one side only would draw "no data")."""
    from drills import measurement
    from drills.postmortem import chart

    class Recorder:
        def single_range(self, query, start, end, step):
            return [(start, 1.0)]

    saved: dict[str, Any] = {}
    measurement.save_chart_series(Recorder(), saved, 0.0, 10.0)  # type: ignore[arg-type]
    ctx = context.RunContext.__new__(context.RunContext)
    object.__setattr__(ctx, "spec", None)
    object.__setattr__(ctx, "series", saved)
    assert {panel.query for panel in chart.panels(ctx)} <= set(saved)
    assert chart_queries.DASHBOARD_5XX_QUERY in saved  # the impact table's dashboard errors


def test_issue_links_are_kept_on_re_render(tmp_path):
    """issues.json (written by the exporter) fills the tracking column when re-rendering."""
    run_dir = copy_run("20261127T062644Z-rabbitmq-outage", tmp_path)
    run = context.build(run_dir)
    from drills.postmortem.actions import derive

    first = derive(run)[0]
    url = "https://github.example/acme/ops/issues/7"
    (run_dir / "issues.json").write_text(json.dumps({first.fingerprint: url}))
    text = draft(run_dir).read_text()
    assert f"[{url}]({url})" in text


def test_history_verdicts_appear_in_the_detection_section(tmp_path):
    """Regression verdicts left by the history check are stated in the draft, which still
    passes review; without them the section is absent."""
    run_dir = copy_run(RUNS[0], tmp_path)
    assert "Against this drill's history" not in draft(run_dir).read_text()
    (run_dir / context.REGRESSIONS_FILE).write_text(
        json.dumps(
            [
                {
                    "figure": "ttr",
                    "regressed": True,
                    "text": "ttr: 41s REGRESSED (baseline median 12s, MAD 1, threshold 16.4s, n=5)",
                },
                {"figure": "ttd", "regressed": False, "text": "ttd: 5.8s ok (median 5.9s)"},
            ]
        )
    )
    text = draft(run_dir).read_text()
    assert "### Against this drill's history" in text
    assert "ttr: 41s REGRESSED (baseline median 12s" in text
    assert review_file(run_dir / "postmortem.md", allow_draft=True).findings == ()


def test_chart_draws_each_saved_series_and_escapes_run_text(tmp_path):
    """One polyline per run of finite samples; a NaN splits a line; hostile names are escaped."""
    from xml.etree import ElementTree

    run_dir = copy_run("20261127T062541Z-pod-kill", tmp_path)
    series_path = run_dir / "series.json"
    saved = json.loads(series_path.read_text())
    query = chart_queries.THROUGHPUT_QUERY
    points = saved["queries"][query]
    assert len(points) > 4
    points[2][1] = "NaN"  # a gap, as Prometheus writes a missing division
    series_path.write_text(json.dumps(saved))
    result = json.loads((run_dir / "result.json").read_text())
    result["drill"] = 'pod-kill <script>alert("x")</script> & co'
    (run_dir / "result.json").write_text(json.dumps(result))

    draft(run_dir)
    svg = (run_dir / "chart.svg").read_text()
    root = ElementTree.fromstring(svg.split("?>", 1)[1])  # well-formed XML despite the name
    ns = "{http://www.w3.org/2000/svg}"
    titles = [t.text for t in root.iter(f"{ns}text")]
    assert any(t and t.startswith('pod-kill <script>alert("x")</script> & co') for t in titles)
    assert "<script>" not in svg
    polylines = [line.get("points") for line in root.findall(f"{ns}polyline")]
    assert all(polylines), "every polyline has points"
    lines = [str(line).split() for line in polylines]
    # The first panel's plot ends at y = 40 + 190 - 22 (drills.postmortem.chart's layout).
    throughput = [line for line in lines if float(line[0].split(",")[1]) < 230]
    assert len(throughput) == 2  # the NaN split the first panel's line in two
    assert sum(len(line) for line in throughput) == len(points) - 1


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0.0, 300.0, [0.0, 100.0, 200.0, 300.0]),
        (-30.0, 9.0, [-30.0, -20.0, -10.0, 0.0]),
        (0.0, 0.9, [0.0, 0.2, 0.4, 0.6, 0.8]),
        (5.0, 5.0, [5.0]),
    ],
)
def test_nice_ticks(low, high, expected):
    from drills.postmortem.chart import nice_ticks

    assert nice_ticks(low, high, 5) == pytest.approx(expected)


def test_alert_wait_reads_as_a_sentence_in_the_timeline():
    """The preflight's wait for an earlier drill's alert is told in words, alerts listed."""
    row = timeline.journal_row(
        {
            "t": 100.0,
            "event": "alerts-quiet",
            "alerts": ["AuditAnalysisRestarted", "PostgresDown"],
            "waited_s": 95.9,
            "still_firing": [],
        },
        t_inject=110.0,
    )
    assert row is not None
    assert row.event == (
        "waited 95.9 s for expected alert(s) AuditAnalysisRestarted, PostgresDown to resolve first"
    )
    assert row.offset_s == -10.0


def test_causal_chain_escapes_names_from_the_run(tmp_path):
    """A component or alert name with Markdown in it lands escaped on its one chain line."""
    run_dir = copy_run("20261203T154006Z-broker-outage-then-kill", tmp_path)
    raw = json.loads((run_dir / "result.json").read_text())
    raw["steps"][0]["component"] = "rabbit | mq\n# heading *x*"
    raw["steps"][0]["detected_alerts"] = ["Rabbit`Down`"]
    (run_dir / "result.json").write_text(json.dumps(raw))
    text = draft(run_dir).read_text()
    chain = text[text.index("## Causal chain") : text.index("## Root causes")]
    assert "**step broker-down: service-stop on rabbit \\| mq \\# heading \\*x\\***" in chain
    assert "1. rabbit \\| mq \\# heading \\*x\\* stopped (mode kill)" in chain
    assert "3. Rabbit\\`Down\\` firing, after the steady state was already breached: **TTD" in chain
    assert "\n# heading" not in text


def test_recorded_backlog_peaks_are_judged_in_the_draft(tmp_path):
    """A run with both peaks recorded: the chain links them, the lessons state each against its
    limit with its time and source, one near its bound is luck, and none reads "not judged"."""
    run_dir = copy_run("20261127T062644Z-rabbitmq-outage", tmp_path)
    result = DrillResult.read(run_dir)
    assert result.injected_at is not None
    at = result.injected_at + timedelta(seconds=20)
    peaks = (
        BacklogPeak(
            BUFFER_PEAK,
            5880.0,
            at,
            "prometheus: buffer samples, at most 1 s apart",
            1.0,
            "",
            "generator_buffer_capacity",
            100_000.0,
            "prometheus: capacity",
        ),
        BacklogPeak(
            QUEUE_PEAK,
            25_000.0,
            at,
            "prometheus: queue samples, at most 21 s apart",
            21.0,
            "",
            "analysis_queue_max_length",
            30_000.0,
            "policy",
        ),
    )
    replace(result, backlog_peaks=peaks).write(run_dir)
    path = draft(run_dir)
    text = path.read_text()
    assert review_file(path, allow_draft=True).findings == ()
    assert "Not judged" not in text
    assert (
        "1. the generator buffered the backlog: **peak 5,880 events (5.9 % of its 100,000)** at "
    ) in text
    assert (
        "2. the analysis queue held the backlog: **peak 25,000 messages ready (83 % of its" in text
    )
    assert (
        "Backlog peaks against their limits, over the fault window: the "
        "generator's buffer: 5,880 of 100,000 events (5.9 %) at T+20.0 s, from "
        "prometheus: buffer samples, at most 1 s apart; the analysis queue's bound: "
        "25,000 of 30,000 messages ready (83 %) at T+20.0 s, from prometheus: queue samples, at "
        "most 21 s apart."
    ) in text
    assert (
        "- the backlog peaked at 25,000 of the analysis queue's bound of 30,000 (83 %) at T+20.0 s:"
        " a longer outage would have hit it"
    ) in text
