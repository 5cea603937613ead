"""What each component uses while the load climbs: CPU seconds so far, resident memory now, and
how much CPU it could use at most.

Locally the figures come from `/proc` (each supervised program's process tree: user + system
ticks, resident pages), read by this process — no agent, no sampling error beyond one clock tick
(10 ms) per process per reading. The most a component can use is not simply the machine's cores:
a CPython service runs its Python code under one GIL per process, so its process tree can use
about one core per process; Redis executes commands on one thread; RabbitMQ (Erlang schedulers)
and PostgreSQL (a process per connection) can use every core. A component that reaches its own
ceiling is the bottleneck even while the machine still has idle cores.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from drills.sandbox.procfs import descendants, tree_cpu_seconds, tree_rss_bytes
from drills.sandbox.supervisor import Supervisor

# The pipeline's components, whose CPU per event and ceiling are judged; the rest of the
# sandbox (exporters, Prometheus, Alertmanager) is measured and reported but is not a candidate
# for the bottleneck of the event path.
PIPELINE = (
    "audit-event-generator",
    "rabbitmq",
    "audit-log-analysis",
    "postgres",
    "redis",
)
PYTHON_SERVICES = frozenset(
    {"audit-event-generator", "audit-log-analysis", "event-audit-dashboard", "notification-service"}
)
SINGLE_THREADED = frozenset({"redis"})


@dataclass(frozen=True)
class Reading:
    """One component at one moment."""

    cpu_seconds: float
    rss_bytes: int
    ceiling_cores: float  # the most CPU it can use, in cores (see the module docstring)


class UsageSource(Protocol):
    """Where a capacity climb reads per-component usage from."""

    def read(self) -> Mapping[str, Reading]: ...

    @property
    def cores(self) -> float: ...

    @property
    def source(self) -> str: ...


class LocalUsage:
    """The local sandbox's programs, from /proc, by the PIDs supervisord reports."""

    source = "/proc of each supervised program's process tree (this machine)"

    def __init__(self, supervisor: Supervisor) -> None:
        self._supervisor = supervisor

    @property
    def cores(self) -> float:
        return float(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)

    def read(self) -> dict[str, Reading]:
        readings = {}
        for info in self._supervisor.processes():
            if not info.pid:
                continue
            processes = 1 + len(descendants(info.pid))
            readings[info.name] = Reading(
                tree_cpu_seconds(info.pid),
                tree_rss_bytes(info.pid),
                ceiling(info.name, processes, self.cores),
            )
        return readings


def ceiling(component: str, processes: int, cores: float) -> float:
    """The most CPU `component` can use, in cores (why: the module docstring)."""
    if component in SINGLE_THREADED:
        return 1.0
    if component in PYTHON_SERVICES:
        return float(min(max(processes, 1), cores))
    return cores
