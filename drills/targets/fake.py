"""An in-memory target for unit tests of faults and the runner.

It records every call and simulates components that a kill restarts and a stop keeps down; its
endpoints point at the closed port 127.0.0.1:9. Not a platform: nothing really fails. Its
`PgVolume` (`FakeVolume`) is a flag for "the volume holds a cluster" over the fake's postgres, so
the data-loss fault's lifecycle can be unit-tested against the capability without a database.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

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
    _volume: FakeVolume | None = field(default=None, repr=False, compare=False)

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
            dashboard_url="http://127.0.0.1:9",
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

    def pg_volume(self) -> FakeVolume:
        """The same volume on every call (its state outlives one fault phase, as a disk does)."""
        if self._volume is None:
            self._volume = FakeVolume(self)
        return self._volume


@dataclass
class FakeVolume:
    """A `PgVolume` whose storage is a flag and whose server is the fake's `postgres` component.

    Every operation is recorded in the target's `calls` as ("volume", operation). It refuses what
    the real ones refuse: wiping under a running server, accepting connections without a cluster.
    `temp` is what `temp_files` reports (what the fault must journal before a reprovision).
    """

    target: FakeTarget = field(repr=False, compare=False)
    pg_dump: str = "/fake/bin/pg_dump"
    pg_restore: str = "/fake/bin/pg_restore"
    has_cluster: bool = True
    entries: int = 3
    temp: list[Path] = field(default_factory=list)

    def _record(self, operation: str) -> None:
        self.target.calls.append(("volume", operation))

    def describe(self) -> str:
        return f"fake PostgreSQL volume of {self.target.describe()}"

    def contains(self, path: Path) -> bool:
        return False

    def initialised(self) -> bool:
        return self.has_cluster

    def running(self) -> bool:
        return self.target.state("postgres").running

    def halt(self) -> None:
        self._record("halt")
        self.target.stop("postgres", graceful=False)

    def wipe(self) -> int:
        if self.running():
            raise TargetError("refusing to wipe the volume of a running postgres")
        self._record("wipe")
        removed, self.has_cluster = (self.entries if self.has_cluster else 0), False
        return removed

    def temp_files(self) -> list[Path]:
        return list(self.temp)

    def reprovision(self) -> bool:
        self._record("reprovision")
        created, self.has_cluster = not self.has_cluster, True
        return created

    def start(self) -> None:
        self._record("start")
        self.target.start("postgres")

    def wait_accepting(self, timeout: float) -> float:
        if not self.has_cluster:
            raise TargetError("postgres cannot accept connections: the volume holds no cluster")
        return self.target.wait_ready("postgres", timeout)

    def bootstrap(self) -> None:
        self._record("bootstrap")
