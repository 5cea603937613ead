"""`genesis-drill platform up | status | down | verify` — the local sandbox's lifecycle."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import click

from drills.cli.main import reports_errors
from drills.cli.paths import WritableDirectory

if TYPE_CHECKING:
    from drills.sandbox.lifecycle import ComponentStatus
    from drills.settings import Settings

OUTPUT = click.option(
    "--output",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Human table, or JSON for scripts.",
)
STATE_DIR = click.option(
    "--state-dir",
    type=WritableDirectory(),
    default=None,
    help="Sandbox state directory [env GENESIS_STATE_DIR; default .genesis].",
)
PORT_BASE = click.option(
    "--port-base",
    type=int,
    default=None,
    help="First port of the sandbox's 50-port block [env GENESIS_PORT_BASE; default 28100].",
)


def _settings(state_dir: Path | None, port_base: int | None) -> Settings:
    """Flags beat the environment: a variable a flag replaces is never parsed."""
    import os

    from drills.cli.paths import check_directory
    from drills.settings import Settings

    if state_dir is None and os.environ.get("GENESIS_STATE_DIR"):
        check_directory(os.environ["GENESIS_STATE_DIR"], "GENESIS_STATE_DIR")
    return Settings.from_env(state_dir=state_dir, port_base=port_base)


@click.group()
def platform() -> None:
    """Run the AuditFlow platform locally (the embedded default target).

    Every component is a private instance with its own data under the state directory and its own
    ports, supervised by supervisord: a machine's own RabbitMQ, PostgreSQL or Redis is never
    touched.
    """


@platform.command()
@STATE_DIR
@PORT_BASE
@OUTPUT
@reports_errors
def up(state_dir: Path | None, port_base: int | None, output: str) -> None:
    """Start the sandbox and wait until every component is healthy (idempotent).

    Exit 3 names the missing Debian package, the busy port, or the component that failed, with the
    path of its log.
    """
    from rich.console import Console

    from drills.sandbox.lifecycle import up as start

    settings = _settings(state_dir, port_base)
    console = Console(stderr=True)
    began = time.monotonic()
    with console.status("starting the sandbox…") as spinner:

        def progress(component: str, message: str) -> None:
            spinner.update(f"{component}: {message}")
            console.print(
                f"[dim]{time.monotonic() - began:5.1f}s[/dim] [bold]{component}[/bold] {message}"
            )

        report = start(settings, progress)
    if output == "json":
        click.echo(json.dumps(asdict(report), indent=2))
        return
    verb = "was already up" if report.already_running else "is up"
    _print_status(report.components)
    click.echo(f"sandbox {verb} ({report.seconds:.1f} s)")


@platform.command()
@STATE_DIR
@PORT_BASE
@OUTPUT
@reports_errors
def status(state_dir: Path | None, port_base: int | None, output: str) -> None:
    """Show each component's state, PID, port and health. Exit 3 when any is unhealthy."""
    from drills.errors import TargetError
    from drills.sandbox.lifecycle import status as read_status

    components = read_status(_settings(state_dir, port_base))
    if output == "json":
        click.echo(json.dumps([asdict(c) for c in components], indent=2))
    else:
        _print_status(components)
    if all(c.state == "NOT RUNNING" for c in components):
        raise TargetError("the sandbox is not running; start it with `genesis-drill platform up`")
    unhealthy = [c.name for c in components if not c.healthy]
    if unhealthy:
        raise TargetError(f"unhealthy: {', '.join(unhealthy)}")


@platform.command()
@STATE_DIR
@PORT_BASE
@OUTPUT
@click.option("--purge", is_flag=True, help="Also delete the state directory (all data).")
@reports_errors
def down(state_dir: Path | None, port_base: int | None, output: str, purge: bool) -> None:
    """Stop exactly the processes the sandbox started, by PID, and check nothing is left."""
    from drills.errors import TargetError
    from drills.sandbox.lifecycle import down as stop

    report = stop(_settings(state_dir, port_base), purge=purge)
    if output == "json":
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        click.echo(
            f"stopped {len(report.stopped)} programs in {report.seconds:.1f} s"
            + (
                f"; cleaned leftovers: {', '.join(report.leftovers_killed)}"
                if report.leftovers_killed
                else ""
            )
            + ("; state directory removed" if report.purged else "")
        )
    if report.ports_still_open:
        raise TargetError(
            "ports of the sandbox's block still listening after stop: "
            + ", ".join(map(str, report.ports_still_open))
        )


@platform.command()
@STATE_DIR
@PORT_BASE
@OUTPUT
@click.option(
    "--events",
    "count",
    type=click.IntRange(1, 100_000),
    default=5000,
    show_default=True,
    help="How many events to push through the pipeline.",
)
@reports_errors
def verify(state_dir: Path | None, port_base: int | None, output: str, count: int) -> None:
    """Push a burst of events through the running sandbox and prove each arrived exactly once.

    Exit 0 when every event the broker confirmed is stored exactly once, 1 otherwise.
    """
    from rich.console import Console

    from drills.sandbox.lifecycle import resolve
    from drills.sandbox.smoke import run_smoke

    sandbox = resolve(_settings(state_dir, port_base))
    console = Console(stderr=True)
    result = run_smoke(sandbox, count, progress=lambda m: console.print(f"[dim]·[/dim] {m}"))
    if output == "json":
        click.echo(
            json.dumps(
                {
                    **asdict(result),
                    "events_per_second": result.events_per_second,
                    "passed": result.passed,
                },
                indent=2,
            )
        )
    else:
        click.echo(
            f"run {result.run_id}: {result.confirmed} confirmed by the broker, {result.stored} "
            f"stored, {result.lost} lost, {result.duplicated} duplicated — "
            f"{result.events_per_second:,.0f} events/s end to end over {result.seconds:.2f} s"
        )
        click.echo("PASS: every event arrived exactly once" if result.passed else "FAIL")
    if not result.passed:
        raise SystemExit(1)


def _print_status(components: list[ComponentStatus]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="AuditFlow sandbox")
    for column in ("component", "state", "pid", "port", "uptime", "memory", "health"):
        table.add_column(column, no_wrap=column != "health")
    for c in components:
        uptime = f"{c.uptime_seconds:.0f}s" if c.uptime_seconds is not None else "-"
        memory = f"{c.rss_bytes / 2**20:.0f} MiB" if c.rss_bytes else "-"
        health = f"[green]ok[/green] {c.detail}" if c.healthy else f"[red]no[/red] {c.detail}"
        table.add_row(c.name, c.state, str(c.pid or "-"), str(c.port), uptime, memory, health)
    total = sum(c.rss_bytes for c in components)
    table.caption = f"resident memory of the whole sandbox: {total / 2**20:.0f} MiB"
    Console().print(table)
