"""`genesis-drill run | validate | list | recover` — drills from the command line."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

from drills.cli.main import reports_errors
from drills.cli.options import SLO_CONFIG, target_option
from drills.cli.paths import WritableDirectory
from drills.cli.platform import PORT_BASE, STATE_DIR, _settings
from drills.cli.printable import printable
from drills.cli.types import FiniteFloatRange

if TYPE_CHECKING:
    from drills.results import DrillResult
    from drills.targets.base import Target


def _target(
    kind: str, state_dir: Path | None, port_base: int | None, *, dry_run: bool = False
) -> Target:
    from drills.errors import InvalidInput

    if kind == "kubernetes":
        # Settings (namespace allow-list, endpoints) come from GENESIS_K8S_*; the client is loaded
        # only now, so `--help` and local runs never import it.
        from drills.targets.k8s_settings import KubeSettings
        from drills.targets.kubernetes import KubernetesTarget

        return KubernetesTarget.connect(KubeSettings.from_env())
    if kind != "local":
        raise InvalidInput(f"unknown target {kind!r}")
    from drills.targets.local import LocalTarget

    settings = _settings(state_dir, port_base)
    # A dry run changes nothing on disk: no state directory, no secrets.json.
    return LocalTarget.for_plan(settings) if dry_run else LocalTarget.from_settings(settings)


def _inventory(target: Target, component: str) -> list[str]:
    """The resolved objects a Kubernetes drill would touch (read-only), for --dry-run."""
    if target.name != "kubernetes":
        return []
    from drills.targets.kubernetes import KubernetesTarget

    return target.inventory(component) if isinstance(target, KubernetesTarget) else []


def _sigterm_as_interrupt(_signum: int, _frame: FrameType | None) -> None:
    # Rollback lives in `finally` blocks; KeyboardInterrupt unwinds through them like Ctrl-C.
    raise KeyboardInterrupt


@click.command("run")
@click.argument("drill")
@target_option()
@click.option(
    "--load",
    "load_rate",
    type=FiniteFloatRange(0, 100_000),
    default=None,
    help="Events/s during the drill [default: the drill's load.rate].",
)
@click.option("--dry-run", is_flag=True, help="Print the resolved plan; touch nothing.")
@click.option(
    "--max-duration",
    type=FiniteFloatRange(1, 24 * 3600),
    default=None,
    help="Abort (and roll back) after this many seconds [default: the drill's].",
)
@click.option("--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option(
    "--runs-dir",
    type=WritableDirectory(),
    default=Path("runs"),
    show_default=True,
    help="Where run directories are written.",
)
@click.option(
    "--fail-on-regression",
    is_flag=True,
    help="Exit 1 when TTD, TTR or loss regressed against the drill's history (see `history`).",
)
@SLO_CONFIG
@STATE_DIR
@PORT_BASE
@reports_errors
def run_command(
    drill: str,
    target_kind: str,
    load_rate: float | None,
    dry_run: bool,
    max_duration: float | None,
    output: str,
    runs_dir: Path,
    fail_on_regression: bool,
    slo_config: Path | None,
    state_dir: Path | None,
    port_base: int | None,
) -> None:
    """Run DRILL (a catalog name such as rabbitmq-outage, or a YAML file) against the platform.

    Injects a real fault, measures time to detect and time to recover through Prometheus,
    accounts for every event, always rolls back, and writes runs/<UTC time>-<drill>/result.json.

    Exit codes: 0 passed, 1 an objective was missed, 2 invalid input, 3 target error or preflight
    refused (the fault was not injected), 4 Prometheus unreadable, 5 rollback failed, 130
    interrupted.
    """
    from drills import packaged, runner
    from drills.spec import load

    spec = load(runner.load_spec_or_name(drill, packaged.catalog()))
    target = _target(target_kind, state_dir, port_base, dry_run=dry_run)
    if dry_run:
        for line in runner.plan(spec, target):
            click.echo(printable(line))
        for component in dict.fromkeys(s.component for s in spec.steps) or [spec.target]:
            for line in _inventory(target, component):
                click.echo(line)
        return
    if target.name == "kubernetes":  # the kube context is shown before anything happens
        click.echo(f"target: {target.describe()}", err=True)
    from drills.cli.reporter import ConsoleReporter, print_summary

    previous = signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    try:
        options = runner.RunOptions(
            runs_dir=runs_dir.resolve(),
            load_rate=load_rate,
            max_duration_s=max_duration,
            slo_config=slo_config,
        )
        if output == "json":
            result = runner.run(spec, target, options)
        else:
            with ConsoleReporter(spec) as reporter:
                result = runner.run(spec, target, options, reporter)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if output == "json":
        click.echo(json.dumps(result.to_json(), indent=2, default=str))
    else:
        print_summary(result)
    # History first: its verdicts (regressions.json) go into the post-mortem draft.
    regressed = _check_history(runs_dir.resolve(), Path(result.run_dir))
    _draft_postmortem(Path(result.run_dir))
    if result.exit_code == 0 and fail_on_regression and regressed:
        click.secho("failing: a figure regressed (--fail-on-regression)", fg="red", err=True)
        sys.exit(1)
    sys.exit(result.exit_code)


def _check_history(runs_dir: Path, run_dir: Path) -> bool:
    """Index the run in the history and print the regression verdicts; True if any regressed."""
    from drills.history import History

    verdicts = History(runs_dir).check(run_dir)
    for verdict in verdicts:
        click.secho(
            f"history: {verdict.describe()}", fg="red" if verdict.regressed else None, err=True
        )
    return any(v.regressed for v in verdicts)


def _draft_postmortem(run_dir: Path) -> None:
    """Every run leaves postmortem.md and report.html; a problem writing either is reported but
    keeps the run's exit code."""
    from drills.errors import GenesisError
    from drills.postmortem.render import draft
    from drills.report.page import write_run_report

    for what, write in (("post-mortem draft", draft), ("report", write_run_report)):
        try:
            path = write(run_dir)
        except (GenesisError, OSError) as error:
            click.secho(f"{what} not written: {error}", fg="yellow", err=True)
        else:
            click.echo(f"{what}: {path}", err=True)


@click.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--rules",
    "rules",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Extra Prometheus rule file or directory whose alerts a drill may expect "
    "(repeatable); the packaged rules are always read.",
)
def validate_command(paths: tuple[Path, ...], rules: tuple[Path, ...]) -> None:
    """Check drill files; every error names the file, line and field (exit 2 on any error).

    PATHS are drill files, directories of them, or catalog drills by name (pod-kill). Every
    expected alert must be defined by an alerting rule: the packaged ones, or --rules."""
    from drills.errors import InvalidInput, SpecError
    from drills.expected_alerts import alert_names, rule_files, unknown_expected_alerts
    from drills.spec import load

    try:
        known = alert_names(rule_files(rules))
    except InvalidInput as error:
        click.secho(f"error: {printable(str(error))}", fg="red", err=True)
        sys.exit(2)
    failed = 0
    for path in paths:
        try:
            files = sorted(path.glob("*.yaml")) if path.is_dir() else [_drill_file(path)]
        except InvalidInput as error:
            failed += 1
            click.secho(f"error: {printable(str(error))}", fg="red", err=True)
            continue
        if not files:
            click.secho(
                f"error: no drill files (*.yaml) in {printable(str(path))}", fg="red", err=True
            )
            failed += 1
        for file in files:
            try:
                spec = load(file)
            except SpecError as error:
                failed += 1
                click.secho(f"error: {printable(str(error))}", fg="red", err=True)
                continue
            unknown = unknown_expected_alerts(spec, known)
            for problem in unknown:
                click.secho(f"error: {printable(str(problem))}", fg="red", err=True)
            if unknown:
                failed += 1
                continue
            faults = (
                ", then ".join(f"{s.fault.kind} on {s.component}" for s in spec.steps)
                or f"{spec.fault.kind} on {spec.target}"
            )
            click.echo(printable(f"ok: {file} ({spec.name}: {faults})"))
    if failed:
        sys.exit(2)


def _drill_file(path: Path) -> Path:
    """A drill file as given, or the catalog drill a bare name (no .yaml, no such file) names."""
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path  # read (and refused, if it must be) by drills.spec with its file name
    from drills import packaged, runner

    return runner.load_spec_or_name(str(path), packaged.catalog())


@click.command("list")
def list_command() -> None:
    """List the catalog's drills with one-line descriptions."""
    from drills import packaged
    from drills.errors import SpecError
    from drills.spec import load

    for path in sorted(packaged.catalog().glob("*.yaml")):
        try:
            spec = load(path)
        except SpecError as error:
            click.secho(printable(f"{path.stem:<20} (invalid: {error.why})"), fg="red")
            continue
        click.echo(printable(f"{spec.name:<20} {spec.description}"))


@click.command("recover")
@click.option(
    "--target",
    "target_kind",
    type=click.Choice(["local", "kubernetes"]),
    default="local",
    show_default=True,
    help="The platform whose dead runs are recovered; runs of other targets are left alone.",
)
@click.option(
    "--runs-dir",
    type=WritableDirectory(),
    default=Path("runs"),
    show_default=True,
)
@click.option(
    "--include-unidentified",
    is_flag=True,
    help="Also recover runs journaled without a target identity (older harness) on this target.",
)
@STATE_DIR
@PORT_BASE
@reports_errors
def recover_command(
    target_kind: str,
    runs_dir: Path,
    include_unidentified: bool,
    state_dir: Path | None,
    port_base: int | None,
) -> None:
    """Undo what runs whose harness died left behind: fault, load and temporary files.

    Only runs of this target (the same sandbox state directory and port base, or the same
    cluster and namespace) are touched; the others are listed with the command that recovers them.
    """
    from drills.crash_recovery import recover

    target = _target(target_kind, state_dir, port_base)
    report = recover(
        runs_dir.resolve(),
        target,
        progress=click.echo,
        include_unidentified=include_unidentified,
    )
    for item in report.recovered:
        click.echo(f"recovered {item.run_dir.name}: {'; '.join(item.actions) or 'nothing left'}")
    if not report.recovered:
        click.echo(f"nothing to recover on {target.describe()}")
    if report.left_alone:
        click.secho(
            f"{len(report.left_alone)} unfinished run(s) of other or unknown targets left alone "
            "(listed above)",
            fg="yellow",
            err=True,
        )


def summary_rows(result: DrillResult) -> list[tuple[str, str, str, str]]:
    return [
        (o.name, o.target, o.measured, "pass" if o.passed else "MISS") for o in result.objectives
    ]
