"""`platform up | status | down`: bring the local AuditFlow platform to life, report on it, and stop
exactly what was started.

`up` is idempotent (a running sandbox is left running, a partly running one is completed), waits
until every component passes its readiness probe, and names whatever did not. `down` stops programs
through supervisord, then checks by recorded PID and start time that nothing survived, and that no
port of the block is still listening.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from drills.errors import ComponentFailed, PortBusy, TargetError
from drills.sandbox import configs, ownership, rabbitmq_policy
from drills.sandbox.binaries import Binaries
from drills.sandbox.health import Health, port_open, probe
from drills.sandbox.layout import PORT_OFFSETS, Layout
from drills.sandbox.leftovers import clean_leftovers, record_pids
from drills.sandbox.postgres import (
    PostgresPlacement,
    bootstrap,
    initdb_if_needed,
    place,
    placed,
    start_initdb,
)
from drills.sandbox.procfs import pid_alive, tree_rss_bytes
from drills.sandbox.programs import (
    NETFAULT_TOKEN_FILE,
    Program,
    build_programs,
    redis_dir,
)
from drills.sandbox.secrets import SandboxSecrets
from drills.sandbox.supervisor import Supervisor
from drills.settings import Settings

Progress = Callable[[str, str], None]
READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 90.0


def _quiet(_component: str, _message: str) -> None:
    return None


@dataclass(frozen=True)
class Sandbox:
    """Everything needed to operate one sandbox, resolved from settings."""

    settings: Settings
    layout: Layout
    secrets: SandboxSecrets
    placement: PostgresPlacement
    programs: list[Program]
    # False for a read-only view of a sandbox that was never brought up (a dry run's plan).
    created: bool = True

    @property
    def supervisor(self) -> Supervisor:
        return Supervisor(self.layout, self.settings.ports, self.secrets)

    def program(self, name: str) -> Program:
        for program in self.programs:
            if program.name == name:
                return program
        raise TargetError(f"no sandbox component named {name!r}")


def resolve(settings: Settings, binaries: Binaries | None = None) -> Sandbox:
    layout = Layout(settings.state_dir)
    binaries = binaries or Binaries.locate()
    ownership.claim(layout.root)
    secrets = SandboxSecrets.load_or_create(layout.secrets_file)
    placement = place(layout)
    programs = build_programs(
        layout,
        settings.ports,
        secrets,
        binaries,
        settings.python,
        placement.data_dir,
        placement.user,
    )
    return Sandbox(settings, layout, secrets, placement, programs)


def resolve_readonly(settings: Settings, binaries: Binaries | None = None) -> Sandbox:
    """The sandbox as it is, changing nothing on disk: for `--dry-run`.

    No directory, secret or marker is created; a sandbox never brought up is described with
    throw-away credentials that are never written and `created=False`.
    """
    layout = Layout(settings.state_dir)
    binaries = binaries or Binaries.locate()
    stored = SandboxSecrets.load(layout.secrets_file)
    secrets = stored if stored is not None else SandboxSecrets.generate()
    placement = placed(layout)
    programs = build_programs(
        layout,
        settings.ports,
        secrets,
        binaries,
        settings.python,
        placement.data_dir,
        placement.user,
    )
    return Sandbox(settings, layout, secrets, placement, programs, created=stored is not None)


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    kind: str
    state: str
    pid: int
    uptime_seconds: float | None
    port: int
    healthy: bool
    detail: str
    rss_bytes: int


@dataclass(frozen=True)
class UpReport:
    already_running: bool
    seconds: float
    components: list[ComponentStatus]


def up(settings: Settings, progress: Progress = _quiet) -> UpReport:
    started = time.monotonic()
    sandbox = resolve(settings)
    supervisor = sandbox.supervisor
    already = supervisor.running()
    # A first boot runs initdb in the background while supervisord starts the broker (the
    # slowest component); PostgreSQL is retried by supervisord until its cluster is in place.
    initdb = (
        None if already else start_initdb(sandbox.placement, Binaries.locate(), sandbox.secrets)
    )
    try:
        _prepare_files(sandbox, progress, initdb=initdb is None)
        if already:
            progress("supervisord", "already running; applying configuration")
            supervisor.reload_config()
            for info in supervisor.processes():
                if info.state in ("STOPPED", "EXITED", "FATAL"):
                    supervisor.start(info.name, wait=False)
        else:
            clean_leftovers(sandbox.layout.root, progress)
            _check_ports_free(sandbox)
            progress("supervisord", "starting")
            supervisor.start_daemon()
    finally:
        if initdb is not None:  # never leave initdb running (or its password file) behind
            initdb.finish()
            progress("postgres", f"initialised a new cluster in {sandbox.placement.data_dir}")
    record_pids(sandbox.layout.root, sandbox.supervisor)
    _wait_ready(sandbox, progress)
    record_pids(sandbox.layout.root, sandbox.supervisor)
    return UpReport(already, time.monotonic() - started, status_of(sandbox))


def _prepare_files(sandbox: Sandbox, progress: Progress, initdb: bool = True) -> None:
    layout, ports, secrets = sandbox.layout, sandbox.settings.ports, sandbox.secrets
    for directory in (layout.conf, layout.logs, layout.logs / "rabbitmq"):
        directory.mkdir(parents=True, exist_ok=True)
    for name in ("rabbitmq", "redis", "alertmanager", "prometheus", "notification-service"):
        layout.data_of(name).mkdir(parents=True, exist_ok=True)
    if initdb and initdb_if_needed(sandbox.placement, Binaries.locate(), secrets):
        progress("postgres", f"initialised a new cluster in {sandbox.placement.data_dir}")
    (layout.root / "postgres.location").write_text(str(sandbox.placement.data_dir) + "\n")
    _write_redis_conf(sandbox)
    configs.write_private(layout.conf / "rabbitmq.conf", configs.rabbitmq_conf(ports, secrets))
    configs.write_private(layout.conf / "rabbitmq-enabled-plugins", "[rabbitmq_prometheus].\n")
    configs.write_private(layout.conf / "rabbitmq-env.conf", "# intentionally empty\n")
    configs.write_private(layout.conf / "rabbitmq-advanced.config", "[].\n")
    monitoring = sandbox.settings.monitoring_dir
    am_password = layout.conf / "alertmanager-password"
    configs.write_private(am_password, secrets.alertmanager.reveal())
    configs.write_private(
        layout.conf / "alertmanager-web.yml", configs.alertmanager_web_yml(secrets)
    )
    configs.write_private(
        layout.conf / "prometheus.yml", configs.prometheus_yml(ports, monitoring, am_password)
    )
    configs.write_private(layout.conf / NETFAULT_TOKEN_FILE, secrets.netfault.reveal())
    token_file = layout.conf / "notify-token"
    configs.write_private(token_file, secrets.notify_token.reveal())
    configs.write_private(
        layout.conf / "alertmanager.yml", configs.alertmanager_yml(ports, monitoring, token_file)
    )
    configs.write_private(
        layout.supervisord_conf,
        configs.supervisord_conf(layout, ports, secrets, sandbox.programs),
    )


def _write_redis_conf(sandbox: Sandbox) -> None:
    """Redis's directory and config, owned by the account it runs as (not root, under root)."""
    placement = sandbox.placement
    home = redis_dir(sandbox.layout, placement.data_dir, placement.user)
    home.mkdir(parents=True, exist_ok=True)
    conf = home / "redis.conf"
    configs.write_private(conf, configs.redis_conf(sandbox.settings.ports, sandbox.secrets, home))
    ids = placement.owner_ids()
    if ids:
        os.chown(home, *ids)
        os.chown(conf, *ids)


def _check_ports_free(sandbox: Sandbox) -> None:
    ports = sandbox.settings.ports
    busy = [
        f"{ports.of(name)} ({name})"
        for name in PORT_OFFSETS
        if name != "rabbitmq-dist" and port_open(ports.of(name), timeout=0.2)
    ]
    if busy:
        raise PortBusy(
            "ports of the sandbox's block are already in use by another process: "
            + ", ".join(busy)
            + f". Choose another block with GENESIS_PORT_BASE (now {ports.base})."
        )


def _wait_ready(sandbox: Sandbox, progress: Progress) -> None:
    pending = {program.name: program for program in sandbox.programs}
    last: dict[str, Health] = {}
    bootstrapped = False
    deadline = time.monotonic() + READY_TIMEOUT_S
    while pending and time.monotonic() < deadline:
        for name, program in list(pending.items()):
            health = probe(program.probe, sandbox.secrets)
            last[name] = health
            if not health.ok:
                continue
            if name == "postgres" and not bootstrapped:
                bootstrap(sandbox.settings.ports.of("postgres"), sandbox.secrets)
                bootstrapped = True
            if name == "rabbitmq":
                rabbitmq_policy.apply(program)
            progress(name, "ready")
            del pending[name]
        if pending:
            _fail_fast_on_fatal(sandbox, pending)
            time.sleep(0.2)
    if pending:
        lines = [
            f"{name}: {last[name].detail}\n"
            f"  last lines of {sandbox.layout.logs / (name + '.log')}:\n"
            + _tail(sandbox.layout.logs / f"{name}.log", 6)
            for name in sorted(pending)
            if name in last
        ]
        raise ComponentFailed(f"not healthy after {READY_TIMEOUT_S:.0f} s:\n" + "\n".join(lines))


def _fail_fast_on_fatal(sandbox: Sandbox, pending: dict[str, Program]) -> None:
    """A program that supervisord gave up on will not get healthy by waiting longer."""
    for info in sandbox.supervisor.processes():
        if info.name in pending and info.state == "FATAL":
            log = sandbox.layout.logs / f"{info.name}.log"
            raise ComponentFailed(
                f"{info.name} failed to start ({info.description}); last lines of {log}:\n"
                + _tail(log)
            )


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def status_of(sandbox: Sandbox) -> list[ComponentStatus]:
    supervisor = sandbox.supervisor
    infos = {info.name: info for info in supervisor.processes()} if supervisor.running() else {}
    now = time.time()
    result = []
    for program in sandbox.programs:
        info = infos.get(program.name)
        state = info.state if info else "NOT RUNNING"
        health = (
            probe(program.probe, sandbox.secrets)
            if state == "RUNNING"
            else Health(False, "not running")
        )
        result.append(
            ComponentStatus(
                name=program.name,
                kind=program.kind,
                state=state,
                pid=info.pid if info else 0,
                uptime_seconds=(now - info.start) if info and info.pid else None,
                port=program.probe.port,
                healthy=health.ok,
                detail=health.detail,
                rss_bytes=tree_rss_bytes(info.pid) if info and info.pid else 0,
            )
        )
    return result


def status(settings: Settings) -> list[ComponentStatus]:
    # Looking changes nothing: no state directory or secrets are created by `status`.
    return status_of(resolve_readonly(settings))


# --- stopping ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DownReport:
    stopped: list[str]
    leftovers_killed: list[str]
    ports_still_open: list[int]
    purged: bool
    seconds: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def down(settings: Settings, purge: bool = False, progress: Progress = _quiet) -> DownReport:
    """Stop the sandbox; with `purge`, also delete its state directory — only after proving the
    sandbox created it (ownership.py), checked before anything is stopped or removed."""
    started = time.monotonic()
    layout = Layout(settings.state_dir)
    if purge and os.path.lexists(layout.root):
        ownership.check_purgeable(layout.root)
    if not layout.secrets_file.exists():
        if purge and layout.root.exists():
            ownership.purge(layout.root)
        return DownReport([], [], [], purge, time.monotonic() - started)
    sandbox = resolve(settings)
    supervisor = sandbox.supervisor
    stopped: list[str] = []
    if supervisor.running():
        record_pids(sandbox.layout.root, sandbox.supervisor)
        names = [info.name for info in supervisor.processes() if info.pid]
        progress("supervisord", f"stopping {len(names)} programs")
        supervisor.stop_all()
        stopped = names
        daemon = supervisor.daemon_pid()
        supervisor.shutdown()
        if daemon:
            deadline = time.monotonic() + STOP_TIMEOUT_S
            while pid_alive(daemon) and time.monotonic() < deadline:
                time.sleep(0.1)
    leftovers = clean_leftovers(sandbox.layout.root, progress)
    ports = sandbox.settings.ports
    still_open = [ports.of(name) for name in PORT_OFFSETS if port_open(ports.of(name), timeout=0.2)]
    if purge:
        progress("state", f"removing {layout.root}")
        pg_root = sandbox.placement.data_dir.parent
        if not pg_root.is_relative_to(layout.root):
            # The /var/tmp fallback's name is derived from the state directory (postgres.place).
            shutil.rmtree(pg_root, ignore_errors=True)
        ownership.purge(layout.root)
    return DownReport(stopped, leftovers, still_open, purge, time.monotonic() - started)
