"""`genesis-drill gameday run | schedule | cronjob PLAN` — game days from the command line."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from drills.cli.main import reports_errors
from drills.cli.paths import WritableDirectory
from drills.cli.platform import PORT_BASE, STATE_DIR

if TYPE_CHECKING:
    from drills.cli.reporter import ConsoleReporter
    from drills.gameday import GameDayResult, Plan
    from drills.targets.base import Target

RUNS_DIR = click.option(
    "--runs-dir",
    type=WritableDirectory(),
    default=Path("runs"),
    show_default=True,
    help="Where run directories (and gamedays/<time>-<plan>/) are written.",
)
TARGET = click.option(
    "--target",
    "target_kind",
    type=click.Choice(["local", "kubernetes"]),
    default="local",
    show_default=True,
    help="Where AuditFlow runs.",
)


@click.group("gameday")
def gameday() -> None:
    """Game days: a plan of drills run now, on a schedule, or as a Kubernetes CronJob."""


def _plan(path: Path) -> Plan:
    from drills.gameday import load_plan, plan_path

    return load_plan(plan_path(path))


class _Progress:
    """The progress view across drills: one line per game-day event, the live drill view inside."""

    def __init__(self) -> None:
        self.reporter: ConsoleReporter | None = None

    def __call__(self, kind: str, data: Mapping[str, Any]) -> None:
        from drills.cli.reporter import ConsoleReporter, print_summary

        if kind == "drill-start":
            click.secho(f"[{data['index']}/{data['total']}] {data['drill']}", bold=True, err=True)
            self.reporter = ConsoleReporter(data["spec"]).__enter__()
        elif kind == "drill-end":
            self._close()
            print_summary(data["result"])
            for verdict in data.get("verdicts", ()):
                click.echo(f"  history: {verdict.describe()}", err=True)
        elif kind == "drill-skipped":
            click.secho(f"skipped {data['drill']}: {data['reason']}", fg="yellow", err=True)
        elif kind == "cool-down":
            click.echo(f"cool-down {data['seconds']:g} s before {data['next']}", err=True)
        elif kind == "quiet-timeout":
            click.secho(
                f"{data['drill']}: still firing after the wait: {', '.join(data['firing'])}",
                fg="yellow",
                err=True,
            )
        elif kind in ("note", "recover"):
            click.echo(str(data.get("message", "")), err=True)
        elif self.reporter is not None:
            self.reporter(kind, data)

    def _close(self) -> None:
        if self.reporter is not None:
            self.reporter.__exit__(None, None, None)
            self.reporter = None


def _target(kind: str, state_dir: Path | None, port_base: int | None) -> Target:
    from drills.cli.drill import _target as build

    return build(kind, state_dir, port_base)


def _print_report(result: GameDayResult) -> None:
    from drills.gameday import SCORE_FORMULA

    click.echo("")
    score = "n/a" if result.score is None else f"{result.score:g} / 100"
    click.secho(f"game day {result.plan.name}: resilience score {score}", bold=True)
    click.echo(f"  {SCORE_FORMULA}")
    for outcome in result.outcomes:
        status = outcome.result.outcome if outcome.result else f"skipped ({outcome.reason})"
        shown = "" if outcome.score is None else f" score {outcome.score:g}"
        click.echo(f"  {outcome.drill:<20} {status}{shown}")
    for drill, verdict in result.regressions:
        click.secho(f"  regression: {drill}: {verdict.describe()}", fg="red")
    if result.stopped:
        click.secho(f"  stopped: {result.stopped}", fg="yellow")
    click.echo(f"report: {result.directory / 'report.md'}")
    click.echo(f"post-mortem draft: {result.directory / 'postmortem.md'}")
    if (result.directory / "report.html").exists():
        click.echo(f"report page: {result.directory / 'report.html'}")


@gameday.command("run")
@click.argument("plan_path", metavar="PLAN", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--only", multiple=True, help="Run only this drill of the plan (repeatable).")
@click.option(
    "--interactive",
    is_flag=True,
    help="Responders type d (detected), m (mitigated), r (resolved) + Enter during a drill.",
)
@click.option("--fail-on-regression", is_flag=True, help="Exit 1 when a figure regressed.")
@TARGET
@RUNS_DIR
@STATE_DIR
@PORT_BASE
@reports_errors
def run_command(
    plan_path: Path,
    only: tuple[str, ...],
    interactive: bool,
    fail_on_regression: bool,
    target_kind: str,
    runs_dir: Path,
    state_dir: Path | None,
    port_base: int | None,
) -> None:
    """Run PLAN (a game-day YAML file, or a packaged plan's name: weekly) now, drill after drill,
    and write its report.

    Exit codes: 0 every drill passed, 1 a drill missed an objective (or, with
    --fail-on-regression, a figure regressed), 2 invalid plan, 3 no drill could run, 5 a rollback
    failed, 130 interrupted.
    """
    code = _run_once(
        _plan(plan_path).only(only),
        target_kind,
        runs_dir,
        state_dir,
        port_base,
        interactive,
        fail_on_regression,
    )
    sys.exit(code)


def _run_once(
    plan: Plan,
    target_kind: str,
    runs_dir: Path,
    state_dir: Path | None,
    port_base: int | None,
    interactive: bool,
    fail_on_regression: bool,
    stop: threading.Event | None = None,
) -> int:
    from drills.cli.drill import _sigterm_as_interrupt
    from drills.gameday import LineMarks, Seams, SystemClock, run_gameday

    target = _target(target_kind, state_dir, port_base)
    clock = SystemClock()
    marks = LineMarks(sys.stdin.readline, clock) if interactive else None
    if interactive:
        click.echo("responders: type d, m or r (+ your name) and Enter to mark", err=True)
    progress = _Progress()
    seams = Seams.default(target, marks=marks, clock=clock)
    # Under the scheduler, its own SIGTERM handler (stop, and interrupt a running drill) stays.
    previous = signal.signal(signal.SIGTERM, _sigterm_as_interrupt) if stop is None else None
    try:
        result = run_gameday(plan, target, runs_dir.resolve(), progress, seams, stop)
    finally:
        progress._close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    _print_report(result)
    code = result.exit_code
    if code == 0 and fail_on_regression and result.regressions:
        click.secho("failing: a figure regressed (--fail-on-regression)", fg="red", err=True)
        code = 1
    return code


@gameday.command("schedule")
@click.argument("plan_path", metavar="PLAN", type=click.Path(dir_okay=False, path_type=Path))
@TARGET
@RUNS_DIR
@STATE_DIR
@PORT_BASE
@reports_errors
def schedule_command(
    plan_path: Path,
    target_kind: str,
    runs_dir: Path,
    state_dir: Path | None,
    port_base: int | None,
) -> None:
    """Run PLAN at each slot of its cron schedule until SIGTERM (one instance per plan).

    Missed slots follow the plan's missed_runs policy (skip, or run-once now). SIGTERM while
    waiting stops at once; during a drill it rolls the drill back first. Exit 3 when another
    scheduler of the plan is running.
    """
    from drills.gameday import SystemClock
    from drills.gameday_schedule import Scheduler
    from drills.results import iso

    plan = _plan(plan_path)
    stop = threading.Event()

    def listener(kind: str, data: Mapping[str, Any]) -> None:
        if kind == "gameday-next":
            click.echo(f"next game day {plan.name}: {iso(data['slot'])}", err=True)
        elif kind == "gameday-missed":
            click.secho(
                f"missed {data['count']} slot(s) ({iso(data['first'])} .. {iso(data['last'])}); "
                f"policy {data['policy']}",
                fg="yellow",
                err=True,
            )
        elif kind == "gameday-scheduled-done":
            click.echo(f"game day ended with exit code {data['exit_code']}", err=True)

    scheduler = Scheduler(
        plan,
        runs_dir.resolve() / "gamedays",
        lambda: _run_once(plan, target_kind, runs_dir, state_dir, port_base, False, False, stop),
        SystemClock(),
        stop,
        listener,
    )

    def on_sigterm(_signum: int, _frame: FrameType | None) -> None:
        if scheduler.request_stop():
            raise KeyboardInterrupt  # a drill is running: unwind through its rollback

    signal.signal(signal.SIGTERM, on_sigterm)
    click.echo(f"scheduling {plan.name} ({plan.schedule} UTC); SIGTERM stops", err=True)
    runs = scheduler.serve()
    click.echo(f"scheduler stopped after {runs} game day(s)")


@gameday.command("cronjob")
@click.argument("plan_path", metavar="PLAN", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--image", default=None, help="Container image [default: auditflow/genesis-drill:0.1.0]."
)
@reports_errors
def cronjob_command(plan_path: Path, image: str | None) -> None:
    """Print the Kubernetes CronJob (YAML) that runs PLAN in namespace auditflow-platform.

    PLAN must be one of the packaged plans (by name, weekly, or by its file): the harness image
    carries the installed package only."""
    from drills.gameday_schedule import DEFAULT_IMAGE, cronjob_yaml

    click.echo(cronjob_yaml(_plan(plan_path), image or DEFAULT_IMAGE), nl=False)
