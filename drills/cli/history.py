"""`genesis-drill history [DRILL]` — recent runs, trends and the regression rule."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from drills.cli.main import reports_errors
from drills.cli.paths import WritableDirectory
from drills.cli.printable import printable


def _fig(value: float | None, unit: str = "s") -> str:
    return "—" if value is None else f"{value:g}{unit}"


@click.command("history")
@click.argument("drill", required=False)
@click.option(
    "--runs-dir",
    type=WritableDirectory(),
    default=Path("runs"),
    show_default=True,
)
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option(
    "--html",
    "html",
    is_flag=True,
    help="Also write RUNS_DIR/history.html: TTD, TTR and loss per run with the regression "
    "threshold, one self-contained page.",
)
@reports_errors
def history_command(drill: str | None, runs_dir: Path, limit: int, output: str, html: bool) -> None:
    """Recent runs of DRILL (or of every drill), trends of TTD, TTR and loss, and regressions.

    Every run directory under --runs-dir is indexed into runs/history.sqlite on the fly. With
    --html, the same runs are drawn in RUNS_DIR/history.html (its path is printed on stderr):
    one chart per figure and drill, a dot per run, red where the run regressed, the dashed
    line the threshold the regression rule set for that run.
    """
    from drills.coverage import summary_line
    from drills.history import FIGURES, RULE, History

    history = History(runs_dir.resolve())
    history.sync()
    drills = [drill] if drill else history.drills()
    report = []
    for name in drills:
        trend = history.trend(name, limit)
        latest = trend.runs[-1] if trend.runs else None
        verdicts = history.check(Path(latest.run_dir)) if latest else []
        report.append((name, trend, verdicts))
    for why in history.skipped.values():
        click.secho(f"not indexed: {why}", fg="yellow", err=True)
    if html:
        from drills.report.history import write_history_page

        page = write_history_page(runs_dir.resolve(), drills, limit)
        click.echo(f"history page: {page}", err=True)
    coverage = summary_line(runs_dir.resolve(), datetime.now(UTC))
    if output == "json":
        payload = {
            "rule": RULE,
            "alert_coverage": coverage,
            "drills": [
                {
                    "drill": name,
                    "runs": [row.__dict__ for row in trend.runs],
                    "median": {f: trend.median(f) for f in FIGURES},
                    "latest": [v.__dict__ for v in verdicts],
                }
                for name, trend, verdicts in report
            ],
        }
        click.echo(json.dumps(payload, indent=2))
        return
    if not report or not any(trend.runs for _, trend, _ in report):
        click.echo(f"no runs recorded in {runs_dir}" + (f" for {drill}" if drill else ""))
        click.echo(printable(coverage))
        return
    for name, trend, verdicts in report:
        click.secho(f"{name} — last {len(trend.runs)} run(s)", bold=True)
        click.echo(f"  {'run':<34} {'outcome':<18} {'TTD':>8} {'TTR':>8} {'lost':>6}")
        for row in trend.runs:
            click.echo(
                f"  {row.run_id:<34} {row.outcome:<18} {_fig(row.ttd):>8} {_fig(row.ttr):>8} "
                f"{_fig(row.figure('lost'), ''):>6}"
            )
        click.echo(
            "  trend (median): "
            + ", ".join(f"{f.upper()} {_fig(trend.median(f), FIGURES[f][2])}" for f in FIGURES)
        )
        for verdict in verdicts:
            color = "red" if verdict.regressed else None
            click.secho(f"  latest {verdict.describe()}", fg=color)
    click.echo(f"rule: {RULE}")
    click.echo(printable(coverage))
