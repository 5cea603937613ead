"""`genesis-drill issues export` — a run's action items as GitHub issues (dry run by default)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from drills.cli.main import reports_errors


@click.command("export")
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--create", is_flag=True, help="File the issues (default: print what would be sent).")
@click.option("--repo", default=None, help="OWNER/NAME of the GitHub repository.")
@reports_errors
def export_command(run_dir: Path, create: bool, repo: str | None) -> None:
    """Print RUN_DIR's action items as GitHub REST payloads and `gh issue create` commands; with
    --create --repo OWNER/NAME, file them (token from GITHUB_TOKEN, API from GITHUB_API_URL).

    Idempotent: an open issue with the same fingerprint gets a "seen again" comment instead of a
    twin. Created issue URLs are written into the post-mortem's action-item table.
    """
    from drills.errors import InvalidInput
    from drills.export import github
    from drills.postmortem.actions import derive
    from drills.postmortem.context import build

    run = build(run_dir)
    payloads = [github.payload(run, item) for item in derive(run)]
    if not create:
        click.echo(github.dry_run(repo or "OWNER/NAME", payloads))
        return
    if not repo:
        raise InvalidInput("--create needs --repo OWNER/NAME")
    github.parse_repo(repo)
    token = github.token_from_env(os.environ)
    api_url = os.environ.get("GITHUB_API_URL") or github.DEFAULT_API_URL
    exporter = github.GitHubExporter(token, api_url, sleep=announce_wait)
    filed = exporter.export(repo, run.run_id, payloads)
    github.write_back(run_dir, filed)
    from drills.report.page import refresh

    refresh(run_dir)  # its report.html links the issues just filed
    for item in filed:
        click.echo(f"{item.action} #{item.number} {item.url} ({item.fingerprint})")


def announce_wait(seconds: float) -> None:
    """The exporter's sleep for the CLI: say why it waits, then wait."""
    import time

    click.echo(f"GitHub rate limit: waiting {seconds:.0f} s", err=True)
    time.sleep(seconds)
