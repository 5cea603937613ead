"""`genesis-drill issues` — action items in an issue tracker: `export` files them, `sync` keeps
them in step with the runs that came after (one module per command, the group here)."""

from __future__ import annotations

import click

from drills.cli.issues_export import export_command
from drills.cli.issues_sync import sync_command


@click.group("issues")
def issues() -> None:
    """File a run's action items in an issue tracker and close the loop with later runs.

    \b
      genesis-drill issues export RUN_DIR [--create --repo OWNER/NAME]
      genesis-drill issues sync RUNS_DIR --repo OWNER/NAME [--apply [--close-fixed]]
    """


issues.add_command(export_command)
issues.add_command(sync_command)
