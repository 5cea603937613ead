"""The target protocol: what a fault may ask of the platform, whatever runs it.

Faults are typed against `Target`, never a concrete backend, so one drill file works on the local
sandbox and on Kubernetes. Every method raises `TargetError` (with the backend's error chained) and
nothing else.

Every password and token the endpoints carry — the generator's admin token and the AMQP URL and
PostgreSQL DSNs that embed passwords — is a `Secret`, so a repr of the endpoints (or of a fault's
context holding them) never shows one; the single point of use calls `reveal()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from drills.secret import Secret


@dataclass(frozen=True)
class ComponentState:
    """A component ("pod") as the target sees it."""

    name: str
    running: bool
    pid_or_uid: str
    started_at: float | None  # unix seconds; from the backend (supervisord, Kubernetes), not us
    ready: bool


@dataclass(frozen=True)
class Endpoints:
    """How the harness reaches the platform's observable surfaces."""

    prometheus_url: str
    alertmanager_url: str
    generator_url: str
    generator_token: Secret
    notification_url: str
    amqp_url: Secret  # amqp://user:password@host:port/vhost
    pg_dsn: Secret  # libpq conninfo with the application role's password
    pg_admin_dsn: Secret  # libpq conninfo with the superuser's password
    # The dashboard's page and API (the client probe, the counter check); "" if unknown.
    dashboard_url: str = ""


@dataclass(frozen=True)
class TargetIdentity:
    """Which platform a target acts on, recorded in every run's journal (`run-start`).

    `recover` (and a run's preflight) undoes only the dead runs whose identity equals its own
    target's: a fault injected on a cluster must never be "rolled back" on the local sandbox.
    `kind` is the target's name; `id` is stable for one platform — local: the absolute state
    directory and the port base; kubernetes: the API server and the namespace.
    """

    kind: str
    id: str
    # The command-line options that select this platform again (shown in "recover it with"
    # hints); not part of the identity.
    options: str = field(default="", compare=False)

    def describe(self) -> str:
        return f"{self.kind} {self.id}"

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "id": self.id, "options": self.options}

    @classmethod
    def from_json(cls, value: Any) -> TargetIdentity | None:
        """The identity a journal recorded; None when there is none (older runs) or it is odd."""
        if not isinstance(value, dict):
            return None
        kind, ident, options = value.get("kind"), value.get("id"), value.get("options", "")
        if not isinstance(kind, str) or not isinstance(ident, str):
            return None
        return cls(kind, ident, options if isinstance(options, str) else "")


class Target(Protocol):
    """A running AuditFlow platform the harness may disturb."""

    name: str

    def describe(self) -> str:
        """One line naming what will be touched (shown before anything happens)."""
        ...

    def identity(self) -> TargetIdentity:
        """Which platform this is (stable across runs); computed without touching it."""
        ...

    def endpoints(self) -> Endpoints: ...

    def state(self, component: str) -> ComponentState: ...

    def kill(self, component: str, signal_name: str) -> None:
        """Kill the component's process(es) abruptly; the supervisor/controller restarts it."""
        ...

    def stop(self, component: str, graceful: bool = True) -> None:
        """Stop the component and keep it stopped until `start`.

        `graceful=False` is a hard stop: the component is killed without a chance to shut down
        cleanly, and is not restarted by its supervisor/controller in between.
        """
        ...

    def start(self, component: str) -> None:
        """Start a stopped component (idempotent: a running one is left alone)."""
        ...

    def wait_ready(self, component: str, timeout: float) -> float:
        """Block until the component is running and healthy; return when (unix seconds)."""
        ...
