"""`genesis-drill capacity` — the highest rate the platform holds with its latency SLO met."""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import click

from drills.capacity.plan import (
    DEFAULT_FACTOR,
    DEFAULT_START,
    DEFAULT_STEP_S,
    DEFAULT_STEPS,
    MAX_RATE,
    MAX_STEP_S,
    MAX_STEPS,
    MIN_STEP_S,
)
from drills.cli.main import reports_errors
from drills.cli.options import SLO_CONFIG, target_option
from drills.cli.paths import WritableDirectory
from drills.cli.platform import PORT_BASE, STATE_DIR, _settings
from drills.cli.printable import printable
from drills.cli.types import FiniteFloatRange


@click.command("capacity")
@target_option(
    "Where AuditFlow runs; on Kubernetes, CPU and memory come from cAdvisor through Prometheus "
    "and each component's ceiling is its CPU limit (GENESIS_K8S_* settings, as for `run`)."
)
@click.option(
    "--start",
    type=FiniteFloatRange(0, MAX_RATE, min_open=True),
    default=DEFAULT_START,
    show_default=True,
    help="First rate, events/s.",
)
@click.option(
    "--factor",
    type=FiniteFloatRange(1, 10, min_open=True),
    default=None,
    help=f"Each step's rate is the previous one times this [default {DEFAULT_FACTOR:g} unless "
    "--increment].",
)
@click.option(
    "--increment",
    type=FiniteFloatRange(0, MAX_RATE, min_open=True),
    default=None,
    help="Add this many events/s per step instead.",
)
@click.option(
    "--step-seconds",
    type=FiniteFloatRange(MIN_STEP_S, MAX_STEP_S),
    default=DEFAULT_STEP_S,
    show_default=True,
    help="How long each step holds.",
)
@click.option(
    "--steps",
    type=click.IntRange(1, MAX_STEPS),
    default=DEFAULT_STEPS,
    show_default=True,
    help="At most this many steps.",
)
@click.option(
    "--runs-dir", type=WritableDirectory(), default=Path("runs"), show_default=True,
    help="Where the capacity run's directory is written.",
)  # fmt: skip
@click.option("--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@SLO_CONFIG
@STATE_DIR
@PORT_BASE
@reports_errors
def capacity_command(
    target_kind: str,
    start: float,
    factor: float | None,
    increment: float | None,
    step_seconds: float,
    steps: int,
    runs_dir: Path,
    output: str,
    slo_config: Path | None,
    state_dir: Path | None,
    port_base: int | None,
) -> None:
    """Step the generator's rate until the latency SLO breaks; report the capacity and why.

    Each step holds its rate for --step-seconds and holds when the broker confirmed ≥ 97 % of
    it, the generator's buffer did not grow, and the SLO's share of events was stored within its
    threshold (drills/slo.yaml: 99 % within 0.5 s). The climb stops at the first step that does
    not hold. The capacity is the highest step that held — only if every event generated during
    the climb is then found once in PostgreSQL (0 lost, 0 duplicated).

    Also reported: each component's CPU per event and memory at every step (from /proc on the
    local sandbox; on Kubernetes from cAdvisor's container metrics through Prometheus), the
    bottleneck (the component closest to its own CPU ceiling: locally one core per CPython
    process, one for Redis, all cores for RabbitMQ and PostgreSQL; on a cluster its pods' CPU
    limits), where each component would saturate, which limit to raise first, and the headroom
    over the load before the climb. Written to RUNS_DIR/<UTC time>-capacity/ (capacity.json,
    report.html).

    Ctrl-C or SIGTERM stops the climb; the rate in force before it is always restored and the
    ledger counted. The defaults (500 events/s x 1.5, eight 60 s steps) take about ten minutes.

    \b
    Exit codes: 0 a capacity was found, 1 none (the first step failed, or events were lost or
    duplicated), 2 invalid input, 3 the platform is not reachable, 4 Prometheus unreadable,
    130 stopped.

    \b
    Example:
      genesis-drill capacity --start 1000 --factor 1.25 --step-seconds 30
    """
    from drills.capacity.plan import Plan
    from drills.errors import InvalidInput

    if factor is not None and increment is not None:
        raise InvalidInput("give one of --factor and --increment, not both")
    plan = Plan(
        start=start,
        factor=None if increment is not None else (factor or DEFAULT_FACTOR),
        increment=increment,
        step_s=step_seconds,
        steps=steps,
    )
    _run(plan, target_kind, runs_dir.resolve(), output, slo_config, state_dir, port_base)


def _target(kind: str, state_dir: Path | None, port_base: int | None) -> tuple[Any, Any, bool]:
    """(target, a function Observer → UsageSource, on a cluster) for `--target`."""
    if kind == "kubernetes":
        from drills.capacity.cluster_usage import ClusterUsage
        from drills.targets.k8s_settings import KubeSettings
        from drills.targets.kubernetes import KubernetesTarget

        settings = KubeSettings.from_env()
        cluster = KubernetesTarget.connect(settings)
        return cluster, lambda observer: ClusterUsage(observer, settings.namespace), True
    from drills.capacity.usage import LocalUsage
    from drills.targets.local import LocalTarget

    local = LocalTarget.from_settings(_settings(state_dir, port_base))
    return local, lambda observer: LocalUsage(local.sandbox.supervisor), False


def _run(
    plan: Any,
    target_kind: str,
    runs_dir: Path,
    output: str,
    slo_config: Path | None,
    state_dir: Path | None,
    port_base: int | None,
) -> None:
    from drills import slo
    from drills.capacity import report
    from drills.capacity.climb import climb
    from drills.ledger import GeneratorClient
    from drills.observe import Observer
    from drills.reconcile import reconcile

    latency = slo.load(slo_config).event_latency
    target, usage_of, on_cluster = _target(target_kind, state_dir, port_base)
    endpoints = target.endpoints()
    generator = GeneratorClient(endpoints.generator_url, endpoints.generator_token.reveal())
    observer = Observer(endpoints.prometheus_url)
    usage = usage_of(observer)
    dsn = endpoints.pg_dsn.reveal()

    def count(before: Any, after: Any, dead: int) -> Any:
        return reconcile(dsn, before, after, dead, settle_timeout=120.0, source=generator)

    rates = plan.rates()
    click.echo(
        f"capacity: {len(rates)} steps of {plan.step_s:g} s, "
        f"{rates[0]:,.0f} → {rates[-1]:,.0f} events/s (at most {plan.longest_s / 60:.1f} min); "
        "Ctrl-C stops and restores the rate",
        err=True,
    )
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        result = climb(plan, latency, generator, observer, usage, count, stop, _progress)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    found = report.findings(result, on_cluster)
    stamp = datetime.fromtimestamp(result.started_at, UTC).strftime("%Y%m%dT%H%M%SZ")
    data_path, page = report.write(
        runs_dir / f"{stamp}-capacity", result, found, usage.source, latency.threshold_s
    )
    if output == "json":
        click.echo(data_path.read_text(encoding="utf-8"), nl=False)
    else:
        _summary(json.loads(data_path.read_text(encoding="utf-8")))
    click.echo(f"capacity report: {page}", err=True)
    if result.stopped:
        sys.exit(130)
    sys.exit(0 if found.capacity is not None else 1)


def _progress(event: str, data: Mapping[str, Any]) -> None:
    """Live progress on stderr: a line per step, a status line every ~10 s within it."""
    if event == "step-start":
        click.echo(f"step {data['index']}/{data['total']}: {data['rate']:,.0f} events/s", err=True)
    elif event == "step-progress":
        if int(data["seconds"]) % 10 == 0 and data["seconds"] >= 1:
            click.echo(
                f"  {data['seconds']:.0f}/{data['of']:.0f} s: "
                f"{data['confirmed_per_s']:,.0f}/s confirmed, {data['buffered']:,} buffered",
                err=True,
            )
    elif event == "step-end":
        step = data["step"]
        verdict = "held" if step.held else f"failed: {step.why}"
        p99 = "n/a" if step.p99_s is None else f"{step.p99_s * 1000:,.0f} ms"
        click.echo(
            f"  {step.confirmed_per_s:,.0f}/s confirmed, {step.stored_per_s:,.0f}/s stored, "
            f"p99 {p99}: {printable(verdict)}",
            err=True,
        )
    elif event == "restored":
        click.echo(f"rate restored to {data['rate']:g} events/s; counting the ledger", err=True)


def _summary(data: Mapping[str, Any]) -> None:
    click.secho(f"capacity: {data['capacity_text']}", bold=True)
    if data["capacity_is_lower_bound"]:
        click.echo("  every step held: start higher (--start) or allow more steps (--steps)")
    bottleneck = data.get("bottleneck") or {}
    click.echo(f"bottleneck: {printable(bottleneck.get('text') or 'no step measured')}")
    click.echo(f"headroom: {printable(data['headroom'])}")
    click.echo(f"first limit: {printable(data['advice'])}")
    ledger = data.get("ledger") or {}
    click.echo(
        f"ledger: {ledger.get('confirmed', 0):,} confirmed, {ledger.get('stored', 0):,} stored, "
        f"{ledger.get('lost', 0)} lost, {ledger.get('duplicated', 0)} duplicated"
    )
    click.echo(f"  {'offered/s':>10} {'confirmed/s':>12} {'p99':>9}  CPU µs/event")
    for step in data["steps"]:
        p99 = "n/a" if step["p99_seconds"] is None else f"{step['p99_seconds'] * 1000:,.0f} ms"
        cpu = ", ".join(
            f"{name} {c['cpu_microseconds_per_event']:,.0f}"
            for name, c in step["components"].items()
            if c["cpu_microseconds_per_event"] is not None
            and name in ("audit-event-generator", "rabbitmq", "audit-log-analysis", "postgres")
        )
        mark = "" if step["held"] else "  ✗"
        click.echo(
            f"  {step['offered_per_second']:>10,.0f} {step['confirmed_per_second']:>12,.0f} "
            f"{p99:>9}  {cpu}{mark}"
        )
    for projection in data["projections"]:
        click.echo(
            f"  {projection['component']} would saturate near "
            f"{projection['saturates_at_events_per_second']:,} events/s"
        )
