"""Entry point of `genesis-drill`: the command group and the one place errors become exit codes.

Heavy modules (psycopg, httpx, the sandbox) are imported inside commands, and the subcommand
modules themselves only when their command runs (drills/cli/lazy.py), so `--help` stays instant.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from drills import __version__
from drills.cli.lazy import LazyCommand, LazyGroup

F = TypeVar("F", bound=Callable[..., Any])


def reports_errors(func: F) -> F:
    """Turn harness errors into one red line and their exit code; Ctrl-C into exit 130."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from drills.cli.printable import printable
        from drills.errors import GenesisError

        try:
            return func(*args, **kwargs)
        except GenesisError as error:
            click.secho(f"error: {printable(str(error), keep_newlines=True)}", fg="red", err=True)
            sys.exit(error.exit_code)
        except KeyboardInterrupt:
            click.secho("interrupted", fg="yellow", err=True)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


# Subcommand → (module, attribute, first docstring sentence); imported only when run.
COMMANDS = {
    "capacity": LazyCommand(
        "drills.cli.capacity",
        "capacity_command",
        "Step the generator's rate until the latency SLO breaks; report the capacity and why.",
    ),
    "coverage": LazyCommand(
        "drills.cli.coverage",
        "coverage_command",
        "Which alerting rules a drill has proven firing, how fast, and which never were.",
    ),
    "gameday": LazyCommand(
        "drills.cli.gameday",
        "gameday",
        "Game days: a plan of drills run now, on a schedule, or as a Kubernetes CronJob.",
    ),
    "history": LazyCommand(
        "drills.cli.history",
        "history_command",
        "Recent runs of DRILL (or of every drill), trends of TTD, TTR and loss, and regressions.",
    ),
    "issues": LazyCommand(
        "drills.cli.issues",
        "issues",
        "File a run's action items in an issue tracker and close the loop with later runs.",
    ),
    "list": LazyCommand(
        "drills.cli.drill", "list_command", "List the catalog's drills with one-line descriptions."
    ),
    "platform": LazyCommand(
        "drills.cli.platform",
        "platform",
        "Run the AuditFlow platform locally (the embedded default target).",
    ),
    "postmortem": LazyCommand(
        "drills.cli.postmortem",
        "postmortem",
        "Draft post-mortems from run directories and review post-mortem Markdown.",
    ),
    "recover": LazyCommand(
        "drills.cli.drill",
        "recover_command",
        "Undo what runs whose harness died left behind: fault, load and temporary files.",
    ),
    "report": LazyCommand(
        "drills.cli.report",
        "report_command",
        "Write DIRECTORY/report.html: one page, no network needed, for a run or a game day.",
    ),
    "rollout": LazyCommand(
        "drills.cli.rollout",
        "rollout",
        "Show a component's live revision or roll it back to an earlier one (a responder's tool).",
    ),
    "run": LazyCommand(
        "drills.cli.drill",
        "run_command",
        "Run DRILL (a catalog name such as rabbitmq-outage, or a YAML file) against the platform.",
    ),
    "validate": LazyCommand(
        "drills.cli.drill",
        "validate_command",
        "Check drill files; every error names the file, line and field (exit 2 on any error).",
    ),
}


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
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
      genesis-drill report RUN_DIR     the run's report.html (also written by every run)
      genesis-drill coverage           which alert rules a drill has proven firing
      genesis-drill capacity           the highest rate held with the latency SLO met
      genesis-drill recover            undo what a harness that died left (fault, load, files)
      genesis-drill platform up        bring the local sandbox up (RabbitMQ, PostgreSQL, Redis,
                                       Prometheus, Alertmanager, exporters, the four services)
      genesis-drill platform verify    push events through it and prove they all arrived
      genesis-drill platform status    what is running and healthy
      genesis-drill platform down      stop exactly what was started

    Environment: GENESIS_STATE_DIR (default .genesis), GENESIS_PORT_BASE (default 28100).
    """


def main() -> None:
    cli(prog_name="genesis-drill")
