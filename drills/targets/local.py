"""The local target: the supervisord sandbox. A "pod" is a supervised program.

Kill is supervisord's `signalProcess` on the program's process group (supervisord then restarts
it, like a Deployment's controller); stop/start are supervisord's, so a stopped broker stays
stopped until rollback starts it. Start times come from supervisord, not from the harness's clock.
PostgreSQL's data directory is lent to data-loss faults as a `PgVolume` (`local_volume`), and a
program's process group to process-freeze as a `Freezer` (`local_freezer`), and the programs'
log files to the post-mortem's log evidence (`HasLogs`, read by `local_logs`), and the fault
proxy's routes to network faults (`HasNetFaults`, `local_netfault`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import fields

from drills.errors import TargetError
from drills.log_evidence import Source
from drills.netfault.routes import PROGRAM as NETFAULT_PROGRAM
from drills.sandbox.connections import amqp_url, pg_dsn
from drills.sandbox.health import probe
from drills.sandbox.lifecycle import Sandbox, resolve, resolve_readonly
from drills.sandbox.procfs import pid_start_time
from drills.settings import Settings
from drills.targets.base import ComponentState, Endpoints, TargetIdentity
from drills.targets.deployer import Deployer
from drills.targets.freezer import Freezer
from drills.targets.local_deploy import LocalDeployer
from drills.targets.local_freezer import LocalFreezer
from drills.targets.local_logs import read_program
from drills.targets.local_netfault import LocalNetFaults
from drills.targets.local_volume import LocalVolume
from drills.targets.logs import LogRead
from drills.targets.netfault import NetFaults
from drills.targets.pg_volume import PgVolume

STATE_TIMEOUT_S = 60.0
# Each readiness look is a supervisord XML-RPC call plus a health probe (~5-10 ms of harness CPU);
# at 0.1 s they were most of the harness's CPU while a restarted component came back. The ready
# time is a phase mark in the report; TTR itself comes from Prometheus at 1 s resolution.
READY_POLL_S = 0.25


class LocalTarget:
    """A `Target` backed by the local sandbox."""

    name = "local"

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.supervisor = sandbox.supervisor

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalTarget:
        return cls(resolve(settings))

    @classmethod
    def for_plan(cls, settings: Settings) -> LocalTarget:
        """A read-only view for `--dry-run`: creates no state directory, secret or marker."""
        return cls(resolve_readonly(settings))

    def describe(self) -> str:
        where = (
            f"local sandbox in {self.sandbox.layout.root} "
            f"(ports {self.sandbox.settings.ports.base}+)"
        )
        if not self.sandbox.created:
            where += " — not created yet (`genesis-drill platform up` creates it)"
        return where

    def identity(self) -> TargetIdentity:
        """The sandbox is its absolute state directory and its port block."""
        state, base = self.sandbox.settings.state_dir.resolve(), self.sandbox.settings.port_base
        return TargetIdentity(
            "local", f"{state} ports {base}", f"--state-dir {state} --port-base {base}"
        )

    def endpoints(self) -> Endpoints:
        ports, secrets = self.sandbox.settings.ports, self.sandbox.secrets
        return Endpoints(
            prometheus_url=f"http://127.0.0.1:{ports.of('prometheus')}",
            alertmanager_url=f"http://127.0.0.1:{ports.of('alertmanager')}",
            generator_url=f"http://127.0.0.1:{ports.of('audit-event-generator')}",
            generator_token=secrets.admin_token,
            notification_url=f"http://127.0.0.1:{ports.of('notification-service')}",
            amqp_url=amqp_url(ports.of("rabbitmq"), secrets),
            pg_dsn=pg_dsn(ports.of("postgres"), secrets),
            pg_admin_dsn=pg_dsn(ports.of("postgres"), secrets, superuser=True),
            dashboard_url=f"http://127.0.0.1:{ports.of('event-audit-dashboard')}",
        )

    def _program(self, component: str) -> str:
        return self.sandbox.program(component).name

    def state(self, component: str) -> ComponentState:
        program = self.sandbox.program(component)
        info = self.supervisor.process(program.name)
        running = info.state == "RUNNING"
        ready = running and probe(program.probe, self.sandbox.secrets).ok
        return ComponentState(
            name=component,
            running=running,
            pid_or_uid=str(info.pid),
            # The kernel's start time of the PID (10 ms resolution); supervisord's is whole seconds.
            started_at=(pid_start_time(info.pid) or float(info.start)) if info.pid else None,
            ready=ready,
        )

    def kill(self, component: str, signal_name: str) -> None:
        """Signal the program's whole process group, by the PID supervisord started.

        supervisord's own `signalProcess` signals only the program's PID: for rabbitmq-server, a
        shell wrapper around the Erlang VM, that would kill the wrapper and orphan a broker that
        keeps serving. supervisord makes every program a process-group leader, so the group id
        is the PID it reports.
        """
        pid = self._running_pid(component, "kill")
        try:
            os.killpg(pid, getattr(signal, f"SIG{signal_name}"))
        except ProcessLookupError as exc:
            raise TargetError(f"{component} (pid {pid}) vanished before the kill") from exc

    def _running_pid(self, component: str, action: str = "freeze") -> int:
        info = self.supervisor.process(self._program(component))
        if info.state != "RUNNING" or not info.pid:
            raise TargetError(f"{component} is not running ({info.state}); nothing to {action}")
        return info.pid

    def stop(self, component: str, graceful: bool = True) -> None:
        """Stop the program and keep it stopped.

        A hard stop asks supervisord to stop first (state STOPPING, so the death that follows is
        not answered with a restart) and then SIGKILLs the process group at once — killing first
        and stopping after would race supervisord's immediate restart, and the fresh broker would
        then take its whole stop timeout to shut down gracefully.

        A stop request is only accepted in RUNNING, STARTING or BACKOFF, so this keeps asking
        (without blocking supervisord's API on a long stop) until the state is STOPPED.
        """
        name = self._program(component)
        deadline = time.monotonic() + STATE_TIMEOUT_S
        killed: set[int] = set()
        while True:
            info = self.supervisor.process(name)
            if info.state in ("STOPPED", "FATAL"):
                return
            if info.state in ("RUNNING", "STARTING", "BACKOFF"):
                with contextlib.suppress(TargetError):  # raced a state change: look again
                    self.supervisor.stop(name, wait=False)
                continue
            if not graceful and info.state == "STOPPING" and info.pid and info.pid not in killed:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(info.pid, signal.SIGKILL)
                killed.add(info.pid)
            if time.monotonic() > deadline:
                raise TargetError(f"{component} did not stop within {STATE_TIMEOUT_S:.0f} s")
            time.sleep(0.02)

    def start(self, component: str) -> None:
        name = self._program(component)
        deadline = time.monotonic() + STATE_TIMEOUT_S
        while True:
            state = self.supervisor.process(name).state
            if state in ("RUNNING", "STARTING", "BACKOFF"):
                return
            if state in ("STOPPED", "EXITED", "FATAL"):
                with contextlib.suppress(TargetError):
                    self.supervisor.start(name, wait=False)
            if time.monotonic() > deadline:
                raise TargetError(f"{component} did not start within {STATE_TIMEOUT_S:.0f} s")
            time.sleep(0.05)

    def wait_ready(self, component: str, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.state(component).ready:
                return time.time()
            time.sleep(READY_POLL_S)
        raise TargetError(f"{component} did not become ready within {timeout:.0f} s")

    def pg_volume(self) -> PgVolume:
        """PostgreSQL and its data directory, for pvc-wipe-restore (`HasPgVolume`)."""
        return LocalVolume(self)

    def deployer(self) -> Deployer:
        """The programs' revisioned definitions, for bad-deploy (`HasDeployer`)."""
        return LocalDeployer.of(self.sandbox)

    def freezer(self) -> Freezer:
        """The programs' process groups, for process-freeze (`HasFreezer`)."""
        return LocalFreezer(self._running_pid)

    def netfaults(self) -> NetFaults:
        """The fault proxy's routes, for network faults (`HasNetFaults`)."""
        port = self.sandbox.settings.ports.of(NETFAULT_PROGRAM)
        return LocalNetFaults(port, self.sandbox.secrets.netfault.reveal())

    def read_logs(self, since: float, until: float, max_bytes: int) -> LogRead:
        """Every program's `logs/<program>.log` from `since` on (`HasLogs`); the sandbox's
        generated credentials go along, for redaction by value."""
        logs_dir = self.sandbox.layout.logs
        sources, missing = [], []
        for program in self.sandbox.programs:
            try:
                lines, cut = read_program(logs_dir, program.name, since, max_bytes)
            except OSError as exc:
                missing.append(f"{program.name} ({exc.strerror or type(exc).__name__})")
                continue
            if not lines and not (logs_dir / f"{program.name}.log").exists():
                missing.append(f"{program.name} (no log file)")
                continue
            note = f"read stopped at {max_bytes // (1024 * 1024)} MB" if cut else ""
            sources.append(Source(program.name, lines, cut, note))
        secrets = self.sandbox.secrets
        known = [getattr(secrets, f.name) for f in fields(secrets)]
        note = f"not read: {', '.join(missing)}" if missing else ""
        return LogRead(sources, known, note)
