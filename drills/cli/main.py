"""Entry point of `genesis-drill`: the command group and the one place errors become exit codes.

Heavy modules (psycopg, httpx, the sandbox) are imported inside commands so `--help` stays instant.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from drills import __version__

F = TypeVar("F", bound=Callable[..., Any])


def reports_errors(func: F) -> F:
    """Turn harness errors into one red line and their exit code; Ctrl-C into exit 130."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from drills.errors import GenesisError

        try:
            return func(*args, **kwargs)
        except GenesisError as error:
            click.secho(f"error: {error}", fg="red", err=True)
            sys.exit(error.exit_code)
        except KeyboardInterrupt:
            click.secho("interrupted", fg="yellow", err=True)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="genesis-drill")
def cli() -> None:
    """genesis-drill — prove that AuditFlow survives failure.

    Runs scripted failure drills against the AuditFlow platform, measures detection and recovery
    through Prometheus, and accounts for every audit event.

    \b
    Start here:
      genesis-drill list               the drills in the catalog
      genesis-drill run rabbitmq-outage
                                       run one drill against the local sandbox
      genesis-drill validate FILE...   check drill files
      genesis-drill recover            roll back faults left by a harness that died
      genesis-drill platform up        bring the local sandbox up (RabbitMQ, PostgreSQL, Redis,
                                       Prometheus, Alertmanager, exporters, the four services)
      genesis-drill platform verify    push events through it and prove they all arrived
      genesis-drill platform status    what is running and healthy
      genesis-drill platform down      stop exactly what was started

    Environment: GENESIS_STATE_DIR (default .genesis), GENESIS_PORT_BASE (default 28100).
    """


def _register() -> None:
    from drills.cli.drill import list_command, recover_command, run_command, validate_command
    from drills.cli.gameday import gameday
    from drills.cli.history import history_command
    from drills.cli.issues_export import issues
    from drills.cli.platform import platform
    from drills.cli.postmortem import postmortem

    cli.add_command(platform)
    cli.add_command(postmortem)
    cli.add_command(issues)
    cli.add_command(run_command)
    cli.add_command(validate_command)
    cli.add_command(list_command)
    cli.add_command(recover_command)
    cli.add_command(gameday)
    cli.add_command(history_command)


_register()


def main() -> None:
    cli(prog_name="genesis-drill")
