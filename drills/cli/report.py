"""`genesis-drill report DIR` — the self-contained report.html of a run or of a game day."""

from __future__ import annotations

from pathlib import Path

import click

from drills.cli.main import reports_errors


@click.command("report")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@reports_errors
def report_command(directory: Path) -> None:
    """Write DIRECTORY/report.html: one page, no network needed, for a run or a game day.

    \b
    A run directory (it holds result.json) gets the summary and objectives, the phases on a
    time axis, a chart per SLI with the inject / detect / recover marks and values on hover,
    the alerts, the ledger, the causal chain, the factors, the log evidence and the action
    items with their tracker state. A game day's directory (report.json) gets the scorecard,
    then every drill's report.

    Every `genesis-drill run` and game day writes it already; run this again after
    `issues export` or `issues sync`, or to redraw an old run with this version.

    \b
    Example:
      genesis-drill report runs/20261127T062644Z-rabbitmq-outage
    """
    from drills.errors import InvalidInput
    from drills.gameday.html import is_gameday, write_gameday_report
    from drills.report.page import write_run_report

    if not directory.is_dir():
        raise InvalidInput(f"{directory}: no such directory")
    if is_gameday(directory):
        path = write_gameday_report(directory)
    elif (directory / "result.json").exists():
        path = write_run_report(directory)
    elif (directory / "capacity.json").exists():
        raise InvalidInput(
            f"{directory}: a capacity run's report.html is written by `genesis-drill capacity` "
            "itself, from measurements only that run holds"
        )
    else:
        raise InvalidInput(
            f"{directory}: neither a run directory (result.json) nor a game day's (report.json)"
        )
    click.echo(str(path))
