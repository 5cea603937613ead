"""An in-memory target for unit tests of faults and the runner.

It records every call and simulates components that a kill restarts and a stop keeps down; its
endpoints point at the closed port 127.0.0.1:9. Not a platform: nothing really fails.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from drills.errors import TargetError
from drills.secret import Secret
from drills.targets.base import ComponentState, Endpoints, TargetIdentity

# Placeholders with recognisable values, so tests can assert that none of them leaks anywhere.
FAKE_TOKEN = "fake-admin-token-4f1c"  # noqa: S105 - a fake's placeholder
FAKE_PASSWORD = "fake-password-9b2e"  # noqa: S105 - a fake's placeholder


@dataclass
class FakeTarget:
    """A `Target` whose components are dictionaries. `fail_start` makes `start` raise N times.

    `ident` is the platform's identity (journaled by runs; `recover` matches on it)."""

    name: str = "fake"
    ident: TargetIdentity = field(default_factory=lambda: TargetIdentity("fake", "unit-tests"))
    components: dict[str, ComponentState] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    fail_start: int = 0
    _pids: int = 1000

    def __post_init__(self) -> None:
        for name in (
            "rabbitmq",
            "postgres",
            "redis",
            "audit-log-analysis",
            "audit-event-generator",
            "event-audit-dashboard",
            "notification-service",
            "alertmanager",
        ):
            self.components.setdefault(name, self._fresh(name))

    def _fresh(self, name: str) -> ComponentState:
        self._pids += 1
        return ComponentState(name, True, str(self._pids), time.time(), True)

    def describe(self) -> str:
        return "fake target (unit tests)"

    def identity(self) -> TargetIdentity:
        return self.ident

    def endpoints(self) -> Endpoints:
        return Endpoints(
            prometheus_url="http://127.0.0.1:9",
            alertmanager_url="http://127.0.0.1:9",
            generator_url="http://127.0.0.1:9",
            generator_token=Secret(FAKE_TOKEN),
            notification_url="http://127.0.0.1:9",
            amqp_url=Secret(f"amqp://guest:{FAKE_PASSWORD}@127.0.0.1:9/"),
            pg_dsn=Secret("host=127.0.0.1 port=9"),
            pg_admin_dsn=Secret(f"host=127.0.0.1 port=9 password={FAKE_PASSWORD}"),
        )

    def state(self, component: str) -> ComponentState:
        if component not in self.components:
            raise TargetError(f"no component {component!r}")
        return self.components[component]

    def kill(self, component: str, signal_name: str) -> None:
        self.calls.append(("kill", f"{component}:{signal_name}"))
        self.components[component] = self._fresh(component)  # restarted by its "supervisor"

    def stop(self, component: str, graceful: bool = True) -> None:
        self.calls.append(("stop", component if graceful else f"{component}:hard"))
        old = self.components[component]
        self.components[component] = ComponentState(component, False, "0", None, False)
        del old

    def start(self, component: str) -> None:
        self.calls.append(("start", component))
        if self.fail_start > 0:
            self.fail_start -= 1
            raise TargetError(f"simulated failure starting {component}")
        if not self.components[component].running:
            self.components[component] = self._fresh(component)

    def wait_ready(self, component: str, timeout: float) -> float:
        if not self.components[component].ready:
            raise TargetError(f"{component} is not ready")
        return time.time()
