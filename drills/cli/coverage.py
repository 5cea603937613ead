"""`genesis-drill coverage` — which alerting rules a drill has proven firing (drills.coverage)."""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from drills.cli.main import reports_errors
from drills.cli.printable import printable
from drills.cli.types import FiniteFloatRange

if TYPE_CHECKING:
    from rich.text import Text

    from drills.coverage import Coverage

LOG_WIDTH = 130
_STATUS_STYLE = {"proven": "green", "stale": "yellow", "never": "red"}


def _fig(value: float | None) -> str:
    return "—" if value is None else f"{value:g}s"


def _cell(text: str, style: str = "") -> Text:
    """Text from files (rule and drill names) as a plain cell: never rich markup, never an
    escape sequence."""
    from rich.text import Text

    return Text(printable(text), style=style)


def _day(at: datetime | None) -> str:
    return "—" if at is None else at.strftime("%Y-%m-%d %H:%M")


def _print_tables(report: Coverage) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        # A CI log or a pipe: no terminal width to fit, and 80 columns would fold every row.
        console = Console(width=LOG_WIDTH)
    rules = Table(title=f"alerting rules ({len(report.rules)} loaded)")
    rules.add_column("rule", no_wrap=True)
    rules.add_column("for", justify="right")
    rules.add_column("expected by", overflow="fold")
    rules.add_column("last proof: date, target, run", overflow="fold")
    rules.add_column("TTD p50 / p95 / max", justify="right")
    for r in report.rules:
        proof = r.last_proof
        style = _STATUS_STYLE.get(r.status, "")
        last = _cell(r.status, style)
        if proof is not None:
            last.append(f" {_day(proof.started_at)}, ")
            last.append(f"{printable(proof.target)}\n{printable(proof.run_id)}")
        measured = sum(p.ttd_s is not None for p in r.proofs)
        ttd = (
            f"{_fig(r.ttd(0.5))} / {_fig(r.ttd(0.95))} / {_fig(r.ttd(1.0))} (n={measured})"
            if measured
            else "—"
        )
        rules.add_row(
            _cell(r.name), f"{r.for_s:g}s", _cell(", ".join(r.expected_by) or "—"), last, ttd
        )
    console.print(rules)
    drills = Table(title="catalog drills (proof: a run fired every alert the drill expects)")
    for column in ("drill", "expects", "status", "last proof", "age"):
        drills.add_column(column, overflow="fold")
    for d in report.drills:
        drills.add_row(
            _cell(d.drill.name),
            _cell(", ".join(d.drill.expected_alerts) or "—"),
            _cell(d.status, _STATUS_STYLE.get(d.status, "")),
            _cell(d.last_proof.run_id if d.last_proof else "—"),
            "—" if d.age_days is None else f"{d.age_days:g} d",
        )
    console.print(drills)
    if report.unexpected:
        unexpected = Table(title="alerts that fired unexpectedly")
        for column in ("drill", "alert", "runs", "last run"):
            unexpected.add_column(column, overflow="fold")
        for u in report.unexpected:
            name = u.alert if u.defined else f"{u.alert} (no loaded rule)"
            unexpected.add_row(_cell(u.drill), _cell(name), str(u.runs), _cell(u.last_run_id))
        console.print(unexpected)
    for drill, alert in report.undefined:
        click.secho(
            printable(f"{drill} expects {alert}, which no loaded rule defines"), fg="red", err=True
        )


@click.command("coverage")
@click.option(
    "--runs-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("runs"),
    show_default=True,
    help="Where run directories are (read only; a missing directory means no runs yet).",
)
@click.option(
    "--rules",
    "extra_rules",
    multiple=True,
    type=click.Path(path_type=Path),
    help="A further Prometheus rule file, or a directory of them (*.yml, *.yaml); repeatable. "
    "Added to the rules the platform loads.",
)
@click.option(
    "--catalog",
    "extra_catalogs",
    multiple=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="A further directory of drill files (*.yaml); repeatable. A drill of the same name "
    "replaces the packaged one.",
)
@click.option(
    "--max-age",
    "max_age_days",
    type=FiniteFloatRange(0, 3650, min_open=True),
    default=30.0,
    show_default=True,
    metavar="DAYS",
    help="A proof older than this many days no longer counts as coverage.",
)
@click.option("--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option(
    "--fail-under",
    type=FiniteFloatRange(0, 1),
    default=None,
    metavar="FRACTION",
    help="Exit 1 when the share of rules proven (0..1) is below FRACTION.",
)
@reports_errors
def coverage_command(
    runs_dir: Path,
    extra_rules: tuple[Path, ...],
    extra_catalogs: tuple[Path, ...],
    max_age_days: float,
    output: str,
    fail_under: float | None,
) -> None:
    """Which alerting rules a drill has proven firing, how fast, and which never were.

    Reads every alerting rule the platform loads (drills/monitoring/rules/*.yml, or
    GENESIS_MANIFESTS_DIR's base/monitoring/rules/), the catalog's drills and the runs under
    --runs-dir. A run proves a rule when its drill expected the alert and it fired; TTD per rule
    is that alert's first firing minus the injection. Coverage is the share of rules proven by a
    run in the last --max-age days. Alerts that fired although no drill expected them are listed
    per drill.

    \b
    Examples:
      genesis-drill coverage                     the table, for runs/
      genesis-drill coverage --max-age 7         only last week's proofs count
      genesis-drill coverage --rules team.yml    also the rules of team.yml
      genesis-drill coverage --output json | jq '.never_proven'
      genesis-drill coverage --fail-under 0.8    in CI: exit 1 below 80 % coverage

    Exit codes: 0 ok, 1 coverage below --fail-under, 2 invalid input (a rule file, flag or
    directory; the message names the file and line).
    """
    from drills.coverage import platform_coverage

    now = datetime.fromtimestamp(time.time(), UTC)
    report = platform_coverage(runs_dir, now, max_age_days, list(extra_rules), list(extra_catalogs))
    if not runs_dir.exists():
        click.secho(f"no runs directory {printable(str(runs_dir))}: no runs recorded yet", err=True)
    for problem in report.problems:
        click.secho(printable(problem), fg="yellow", err=True)
    if output == "json":
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        _print_tables(report)
        click.echo(printable(report.summary_line()))
        click.echo(f"coverage: {report.fraction:.0%} of {len(report.rules)} rules")
    if fail_under is not None and report.fraction < fail_under:
        click.secho(
            f"failing: coverage {report.fraction:.2f} is below --fail-under {fail_under:g}",
            fg="red",
            err=True,
        )
        sys.exit(1)
