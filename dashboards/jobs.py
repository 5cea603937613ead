"""What every AuditFlow service's row starts with, whatever the service does.

Up, restarts in the time range (process_start_time_seconds changing, what AuditAnalysisRestarted
watches), HTTP traffic and p99 latency by route (`api_request_duration_seconds`, shared
telemetry), and the process's CPU and resident memory.
"""

from __future__ import annotations

from dashboards.board import Board
from dashboards.panels import (
    GREEN,
    ORANGE,
    RATE,
    UP,
    graph,
    q,
    single,
    thresholds,
)


def p99(metric: str, selector: str, by: str = "") -> str:
    """The 99th percentile of histogram `metric` over the series `selector` picks, per `by`."""
    labels = f"le, {by}" if by else "le"
    return (
        f"histogram_quantile(0.99, sum by ({labels}) (rate({metric}_bucket{{{selector}}}[{RATE}])))"
    )


def stats(board: Board, job: str) -> None:
    """Up and restarts: the row's first two stats, 3 columns each."""
    board.add(
        single(
            "Up",
            q(f'min(up{{job="{job}"}})'),
            limits=UP,
            description="1 while Prometheus scrapes every instance; 0 when one is down.",
        ),
        3,
        4,
    )
    board.add(
        single(
            "Restarts in the time range",
            q(f'sum(changes(process_start_time_seconds{{job="{job}"}}[$__range]))'),
            limits=thresholds(GREEN, (1, ORANGE)),
            description="How often the process started anew (process_start_time_seconds "
            "changed), what AuditAnalysisRestarted watches.",
        ),
        3,
        4,
    )


def graphs(board: Board, job: str) -> None:
    """HTTP requests and p99 latency by route, CPU and resident memory: four panels a row wide."""
    selector = f'job="{job}"'
    board.add(
        graph(
            "HTTP requests by route and status",
            [
                q(
                    "sum by (route, status) "
                    f"(rate(api_request_duration_seconds_count{{{selector}}}[{RATE}]))",
                    "{{route}} {{status}}",
                )
            ],
            unit="reqps",
        ),
        6,
    )
    board.add(
        graph(
            "HTTP latency p99 by route",
            [q(p99("api_request_duration_seconds", selector, "route"), "{{route}}")],
            unit="s",
        ),
        6,
    )
    board.add(
        graph(
            "CPU",
            [q(f'sum(rate(process_cpu_seconds_total{{job="{job}"}}[{RATE}]))', "cores")],
            unit="short",
            description="CPU seconds per second of the service's processes (1 = one core).",
        ),
        6,
    )
    board.add(
        graph(
            "Resident memory",
            [q(f'sum(process_resident_memory_bytes{{job="{job}"}})', "RSS")],
            unit="bytes",
        ),
        6,
    )
