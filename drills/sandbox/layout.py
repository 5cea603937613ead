"""Where the sandbox lives: its state directory, its port block, and the endpoints derived.

Every private instance gets a port inside one block (default 28100-28149), well away from the
default ports of a machine's own RabbitMQ (5672), PostgreSQL (5432) or Redis (6379) and below the
Linux ephemeral range (32768+), so client sockets never squat on them. Change the block with
`GENESIS_PORT_BASE` to run two sandboxes side by side (the test suite does).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_PORT_BASE = 28100
PORT_BLOCK_SIZE = 50

# Offsets inside the block; the names are the component names used everywhere else.
PORT_OFFSETS: dict[str, int] = {
    "rabbitmq": 0,
    "rabbitmq-dist": 1,
    "rabbitmq-metrics": 2,
    "epmd": 3,
    "postgres": 10,
    "redis": 11,
    "prometheus": 20,
    "alertmanager": 21,
    "node-exporter": 22,
    "postgres-exporter": 23,
    "redis-exporter": 24,
    "audit-event-generator": 30,
    "audit-log-analysis": 31,
    "event-audit-dashboard": 32,
    "notification-service": 33,
    "supervisord": 40,
    # The fault proxy (drills.netfault): its control port, then one listener per route.
    "netfault-proxy": 45,
    "netfault-proxy-analysis-rabbitmq": 46,
    "netfault-proxy-analysis-postgres": 47,
    "netfault-proxy-dashboard-postgres": 48,
}


@dataclass(frozen=True)
class Ports:
    """The port block of one sandbox."""

    base: int = DEFAULT_PORT_BASE

    def __post_init__(self) -> None:
        if not 1024 <= self.base <= 65535 - PORT_BLOCK_SIZE:
            raise ValueError(
                f"port base {self.base} must be within 1024..{65535 - PORT_BLOCK_SIZE}"
            )

    def of(self, component: str) -> int:
        return self.base + PORT_OFFSETS[component]


@dataclass(frozen=True)
class Layout:
    """The state directory tree of one sandbox (default `.genesis/`, git-ignored)."""

    root: Path

    @property
    def conf(self) -> Path:
        return self.root / "conf"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def secrets_file(self) -> Path:
        return self.root / "secrets.json"

    @property
    def supervisord_conf(self) -> Path:
        return self.conf / "supervisord.conf"

    @property
    def supervisord_pid(self) -> Path:
        return self.root / "supervisord.pid"

    def data_of(self, component: str) -> Path:
        return self.data / component
