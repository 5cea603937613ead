"""A post-mortem drafted from a real drill run passes review as a draft, with a real chart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from drills import runner
from drills.chart_queries import CHART_QUERIES
from drills.cli.main import cli
from drills.postmortem.render import draft
from drills.spec import load
from drills.targets.local import LocalTarget
from tests import REPO_ROOT

pytestmark = pytest.mark.integration


def test_postmortem_from_a_real_pod_kill(live, tmp_path):
    """pod-kill runs for real; its post-mortem renders with the chart and passes --allow-draft."""
    spec = load(REPO_ROOT / "drills" / "catalog" / "pod-kill.yaml")
    result = runner.run(spec, LocalTarget(live.sandbox), runner.RunOptions(runs_dir=tmp_path))
    run_dir = Path(result.run_dir)
    saved = json.loads((run_dir / "series.json").read_text())["queries"]
    assert set(CHART_QUERIES) <= set(saved)  # the runner saved every chart series
    assert any(saved[q] for q in CHART_QUERIES)

    path = draft(run_dir)
    text = path.read_text()
    print(f"\n{result.outcome}: {path}")
    assert f'run_id: "{result.run_id}"' in text and "status: draft" in text
    svg = (run_dir / "chart.svg").read_text()
    assert svg.count("<polyline") >= 3  # throughput, latency, backlog at least: real data drawn
    assert ">inject<" in svg and ">recover<" in svg
    assert "](chart.svg)" in text

    review = CliRunner().invoke(
        cli, ["postmortem", "review", str(path), "--allow-draft", "--format", "json"]
    )
    print(review.output)
    assert review.exit_code == 0, review.output
    assert json.loads(review.output)["files"][0]["findings"] == []
    strict = CliRunner().invoke(cli, ["postmortem", "review", str(path)])
    assert strict.exit_code == 1 and "draft-status" in strict.output

    # The report page of the same real run: real lines in its SLI charts, its TTR on a card.
    report = CliRunner().invoke(cli, ["report", str(run_dir)])
    assert report.exit_code == 0, report.output
    page = (run_dir / "report.html").read_text()
    assert page.count('<svg class="sli-svg"') == 4
    assert page.count("<polyline") >= 3
    ttr = "n/a" if result.ttr_seconds is None else f"{result.ttr_seconds:.1f} s"
    card = '<div class="label">time to recover</div><div class="value">'
    assert f'data-figure="ttr_seconds">{card}{ttr}<' in page
