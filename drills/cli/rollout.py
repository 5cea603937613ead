"""`genesis-drill rollout`: a responder's rollback of a bad deploy (what `kubectl rollout` is).

In a game day with `rollback: responder` the harness only watches the live revision; the person
on call rolls back. On Kubernetes `kubectl rollout undo` does it; this command does the same
through the same `Deployer` on either target, so the local sandbox has a responder's tool too.
"""

from __future__ import annotations

from pathlib import Path

import click

from drills.cli.drill import _target
from drills.cli.main import reports_errors
from drills.cli.platform import PORT_BASE, STATE_DIR

TARGET = click.option(
    "--target",
    "target_kind",
    type=click.Choice(["local", "kubernetes"]),
    default="local",
    show_default=True,
)


@click.group("rollout")
def rollout() -> None:
    """Show a component's live revision or roll it back to an earlier one (a responder's tool)."""


@rollout.command("status")
@click.argument("component")
@TARGET
@STATE_DIR
@PORT_BASE
@reports_errors
def status_command(
    component: str, target_kind: str, state_dir: Path | None, port_base: int | None
) -> None:
    """Print the component's live revision and the deploy-time settings it adds."""
    from drills.targets.deployer import deployer_of

    # Read-only: a sandbox's state directory is not created by looking at it.
    live = deployer_of(_target(target_kind, state_dir, port_base, dry_run=True)).live(component)
    settings = ", ".join(f"{k}={v}" for k, v in sorted(live.env.items())) or "none"
    click.echo(f"{component}: revision {live.number} (deploy-time settings: {settings})")


@rollout.command("undo")
@click.argument("component")
@click.option("--to-revision", type=click.IntRange(1, 9999), required=True)
@TARGET
@STATE_DIR
@PORT_BASE
@reports_errors
def undo_command(
    component: str,
    to_revision: int,
    target_kind: str,
    state_dir: Path | None,
    port_base: int | None,
) -> None:
    """Roll COMPONENT back to the definition of revision --to-revision (idempotent)."""
    from drills.targets.deployer import deployer_of

    live = deployer_of(_target(target_kind, state_dir, port_base)).undo(component, to_revision)
    click.echo(
        f"{component}: rolled back to revision {to_revision}'s definition (live: {live.number})"
    )
