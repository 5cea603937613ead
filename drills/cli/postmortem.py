"""`genesis-drill postmortem render | review` — draft and lint blameless post-mortems."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from drills.cli.main import reports_errors

TEMPLATES = click.option(
    "--templates",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="A directory whose templates override the built-in ones (same file names).",
)


@click.group("postmortem")
def postmortem() -> None:
    """Draft post-mortems from run directories and review post-mortem Markdown."""


@postmortem.command("render")
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@TEMPLATES
@click.option(
    "--link-template",
    default=None,
    envvar="GENESIS_QUERY_LINK",
    help="URL for each PromQL query, with {query} in place of the URL-encoded query.",
)
@reports_errors
def render_command(run_dir: Path, templates: Path | None, link_template: str | None) -> None:
    """Re-render RUN_DIR/postmortem.md (and chart.svg) from the run's recorded data."""
    from drills.postmortem.render import draft

    click.echo(str(draft(run_dir, templates, link_template)))


@postmortem.command("review")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "output",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
)
@click.option(
    "--allow-draft", is_flag=True, help="Accept status: draft and its placeholders (TBD, TODO)."
)
def review_command(files: tuple[Path, ...], output: str, allow_draft: bool) -> None:
    """Review post-mortem Markdown files: required sections, quantified impact, UTC timeline,
    actionable items, no placeholders, blameless language.

    Exit codes: 0 clean, 1 an error-level rule fired, 2 a file could not be read.
    """
    from drills.cli.printable import printable
    from drills.errors import InvalidInput
    from drills.postmortem import review

    reviews = []
    unreadable = False
    for path in files:
        try:
            reviews.append(review.review_file(path, allow_draft))
        except InvalidInput as error:
            unreadable = True
            click.secho(f"error: {printable(str(error))}", fg="red", err=True)
    formatter = {
        "text": review.format_text,
        "json": review.format_json,
        "github": review.format_github,
    }[output]
    text = formatter(reviews)
    if text:
        click.echo(printable(text, keep_newlines=True))
    if unreadable:
        sys.exit(2)
    sys.exit(1 if any(r.errors for r in reviews) else 0)
