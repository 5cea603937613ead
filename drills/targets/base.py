"""The target protocol: what a fault may ask of the platform, whatever runs it.

Faults are typed against `Target`, never a concrete backend, so one drill file works on the local
sandbox and on Kubernetes. Every method raises `TargetError` (with the backend's error chained) and
nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


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
    generator_token: str
    notification_url: str
    amqp_url: str
    pg_dsn: str
    pg_admin_dsn: str


class Target(Protocol):
    """A running AuditFlow platform the harness may disturb."""

    name: str

    def describe(self) -> str:
        """One line naming what will be touched (shown before anything happens)."""
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
