"""`genesis-drill history --html`: each run's figure and the threshold the regression rule set for
it, checked against the rule computed here by hand (median + max(3 x 1.4826 x MAD, 10 % of the
median, floor) over the 10 earlier measured runs, at least 5), not through drills.history."""

from __future__ import annotations

import re
import statistics
from html.parser import HTMLParser

from click.testing import CliRunner

from drills.cli.main import cli
from tests.unit.test_history import write_run

TTRS = [20.0, 21.0, 20.0, 21.0, 20.0, 21.0, 20.0, 21.0, 20.0, 21.0, 41.0]
FLOORS = {"ttr": 2.0}


def rule(baseline: list[float], floor: float) -> float | None:
    recent = baseline[-10:]
    if len(recent) < 5:
        return None
    med = statistics.median(recent)
    mad = statistics.median(abs(x - med) for x in recent)
    return med + max(3 * 1.4826 * mad, 0.1 * abs(med), floor)


class Rows(HTMLParser):
    """The runs table: per row, its run id and each cell's `data-figure` → text."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, list[tuple[str | None, str]]]] = []
        self._cell: list[str] | None = None
        self._figure: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "data-run-id" in a:
            self.rows.append((str(a["data-run-id"]), []))
        elif tag == "td" and self.rows:
            self._cell, self._figure = [], a.get("data-figure")

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.rows[-1][1].append((self._figure, "".join(self._cell).strip()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def test_history_page_shows_each_runs_threshold_and_regressions(tmp_path):
    for n, ttr in enumerate(TTRS):
        write_run(tmp_path, n, ttd=4.0, ttr=ttr)
    write_run(tmp_path, len(TTRS), ttd=None, ttr=None, outcome="preflight-refused")
    args = ["history", "--runs-dir", str(tmp_path), "--html", "--limit", "20"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    page = tmp_path / "history.html"
    assert f"history page: {page}" in result.output
    html = page.read_text(encoding="utf-8")
    parser = Rows()
    parser.feed(html)
    rows = parser.rows
    assert len(rows) == len(TTRS) + 1
    for index, (run_id, cells) in enumerate(rows[: len(TTRS)]):
        ttr_cells = [i for i, (figure, _) in enumerate(cells) if figure == "ttr"]
        value_text, threshold_text = cells[ttr_cells[0]][1], cells[ttr_cells[0] + 1][1]
        assert float(value_text.split()[0]) == TTRS[index], run_id
        expected = rule(TTRS[:index], FLOORS["ttr"])
        if expected is None:
            assert threshold_text == "—"
        else:
            assert float(threshold_text) == round(expected, 3)
        assert value_text.endswith("REGRESSED") == (expected is not None and TTRS[index] > expected)
    assert rows[-1][1][3][1] == "preflight-refused"  # a refused run shows, unjudged
    # One regressed dot on the TTR chart: the 41 s run.
    ttr_svg = re.search(r'<svg class="history-svg"[^>]*data-figure="ttr".*?</svg>', html, re.S)
    assert ttr_svg and ttr_svg.group(0).count('class="run regressed"') == 1


def test_history_html_with_no_runs_says_so(tmp_path):
    result = CliRunner().invoke(cli, ["history", "--runs-dir", str(tmp_path), "--html"])
    assert result.exit_code == 0, result.output
    assert "No runs recorded in" in (tmp_path / "history.html").read_text()
