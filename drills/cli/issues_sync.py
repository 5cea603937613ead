"""`genesis-drill issues sync` — exported action items against the runs that came after them."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from drills.cli.issues_export import announce_wait
from drills.cli.main import reports_errors
from drills.cli.printable import printable

if TYPE_CHECKING:
    from drills.export.sync import SyncReport


@click.command("sync")
@click.argument("path", metavar="RUNS_DIR|RUN_DIR", type=click.Path(path_type=Path))
@click.option("--repo", required=True, help="OWNER/NAME of the GitHub repository.")
@click.option(
    "--apply",
    is_flag=True,
    help="Post the comments and make the state changes (default: print what would be done).",
)
@click.option(
    "--close-fixed", is_flag=True, help="Close items a later run shows fixed (as completed)."
)
@click.option("--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@reports_errors
def sync_command(path: Path, repo: str, apply: bool, close_fixed: bool, output: str) -> None:
    """Judge exported action items by the later runs of their drill; comment, close, reopen.

    For every genesis-drill issue of --repo whose fingerprint the runs in RUNS_DIR derive (or, for
    one RUN_DIR, whose item that run derived, judged by the runs of the same drill beside it):

    \b
      fixed          the newest complete, judged run (passed or failed) no longer derives it:
                     comment with that run's evidence; with --close-fixed, close it
      still-failing  a later run still derives it: nothing to write
      regressed      derived again by a run that started after the issue was closed:
                     reopen it with the new evidence
      no-later-run   no later run has looked yet

    Open items past the due date of their priority (P0 7 days, P1 30, P2 90 from the issue's
    creation) are listed as overdue. Without --apply nothing is written to GitHub; the tracker
    states are still recorded in each run directory (tracker.json) and in its post-mortem's
    action-item table. Re-running is safe: a comment carries a hidden mark with its verdict and
    run, and is not posted again. Token from GITHUB_TOKEN, API from GITHUB_API_URL.

    \b
      genesis-drill issues sync runs --repo acme/ops                # what would be done
      genesis-drill issues sync runs --repo acme/ops --apply --close-fixed
    """
    from drills.export import github
    from drills.export.sync import sync

    github.parse_repo(repo)
    token = github.token_from_env(os.environ, needed_by="issues sync")
    api_url = os.environ.get("GITHUB_API_URL") or github.DEFAULT_API_URL
    exporter = github.GitHubExporter(token, api_url, sleep=announce_wait)
    report = sync(path, repo, exporter, now=datetime.now(UTC), apply=apply, close_fixed=close_fixed)
    for why in report.skipped.values():
        click.secho(f"skipped: {printable(why)}", fg="yellow", err=True)
    _refresh_reports(path)
    if output == "json":
        click.echo(json.dumps(report.to_json(), indent=2))
        return
    click.echo(table(report))


def table(report: SyncReport) -> str:
    """The sync as a person reads it: one line per item, the overdue ones, what was (not) sent."""
    if not report.rows:
        return f"no genesis-drill issue in {report.repo} tracks an item of these runs"
    prefix = "" if report.applied else "would "
    lines = [
        f"{'fingerprint':<19}  {'issue':>6}  {'state':<6}  {'verdict':<13}  {'due':<10}  "
        f"{'run':<34}  actions"
    ]
    for row in report.rows:
        due = row.due.date().isoformat() if row.due else "—"
        done = ", ".join(prefix + action for action in row.actions) or row.note or "—"
        lines.append(
            f"{row.fingerprint:<19}  {'#' + str(row.number):>6}  {row.state:<6}  "
            f"{row.verdict:<13}  {due:<10}  {printable(row.run_id or '—'):<34}  {done}"
        )
    if report.overdue:
        lines += ["", f"overdue ({len(report.overdue)}):"]
        for row in report.overdue:
            due = row.due.date().isoformat() if row.due else "?"
            lines.append(
                f"  #{row.number} {row.priority or '?'} due {due}: {printable(row.title)} "
                f"({row.url})"
            )
    writes = sum(len(row.actions) for row in report.rows)
    if writes and not report.applied:
        lines += ["", f"dry run: {writes} write(s) not sent; run again with --apply to send them"]
    return "\n".join(lines)


def _refresh_reports(path: Path) -> None:
    """The runs' report.html show the tracker states just recorded (best effort)."""
    from drills.errors import GenesisError
    from drills.report.page import refresh

    try:
        pages = refresh(path)
    except (GenesisError, OSError) as error:
        click.secho(f"report.html not refreshed: {printable(str(error))}", fg="yellow", err=True)
        return
    if pages:
        click.echo(f"refreshed {len(pages)} report.html", err=True)
