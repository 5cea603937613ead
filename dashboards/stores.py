"""The data-store rows of the infrastructure dashboard: RabbitMQ, PostgreSQL, Redis.

RabbitMQ reports through its own `rabbitmq_prometheus` plugin with per-queue series (the alert
rules' thresholds are drawn on the analysis queue's depth), PostgreSQL and Redis through their
exporters, which keep reporting `pg_up` / `redis_up` = 0 while the database is gone.
"""

from __future__ import annotations

from dashboards.board import Board
from dashboards.panels import (
    GREEN,
    ORANGE,
    RATE,
    RED,
    UP,
    graph,
    q,
    single,
    thresholds,
)

ANALYSIS_QUEUE = 'queue="auditflow.analysis"'
QUEUE_FULL = 24000  # RabbitMQQueueFull: 80 % of the queue's 30,000 bound
BACKLOG = 500  # QueueBacklogGrowing's floor
AUDITFLOW_DB = 'datname="auditflow"'


def rabbitmq(board: Board) -> None:
    board.row("RabbitMQ")
    board.add(single("Up", q('min(up{job="rabbitmq"})'), limits=UP), 4, 4)
    board.add(
        single(
            "auditflow.analysis: ready",
            q(f"sum(rabbitmq_queue_messages_ready{{{ANALYSIS_QUEUE}}})"),
            limits=thresholds(GREEN, (BACKLOG, ORANGE), (QUEUE_FULL, RED)),
            description=f"Orange from {BACKLOG} (QueueBacklogGrowing's floor), red from "
            f"{QUEUE_FULL} (RabbitMQQueueFull: 80 % of the 30,000 bound).",
        ),
        5,
        4,
    )
    board.add(
        single(
            "auditflow.analysis: consumers",
            q(f"sum(rabbitmq_queue_consumers{{{ANALYSIS_QUEUE}}})"),
            limits=UP,
            description="0 is AnalysisNoConsumers: events queue up, nobody stores them.",
        ),
        5,
        4,
    )
    board.add(
        single(
            "Memory alarm",
            q("max(rabbitmq_alarms_memory_used_watermark)"),
            limits=thresholds(GREEN, (1, RED)),
            description="1 while the broker blocks publishers for memory.",
        ),
        5,
        4,
    )
    board.add(
        single(
            "Disk alarm",
            q("max(rabbitmq_alarms_free_disk_space_watermark)"),
            limits=thresholds(GREEN, (1, RED)),
            description="1 while the broker blocks publishers for disk space.",
        ),
        5,
        4,
    )
    board.add(
        graph(
            "Messages ready by queue",
            [q("sum by (queue) (rabbitmq_queue_messages_ready)", "{{queue}}")],
            description="auditflow.archive is a stream (kept for re-drives), so it only grows.",
        ),
        8,
    )
    board.add(
        graph(
            "Messages unacknowledged by queue",
            [q("sum by (queue) (rabbitmq_queue_messages_unacked)", "{{queue}}")],
            description="Delivered to a consumer, not yet acknowledged: the analysis service's "
            "prefetch window.",
        ),
        8,
    )
    board.add(
        graph(
            "Message rates",
            [
                q(f"sum(rate(rabbitmq_global_messages_received_total[{RATE}]))", "received"),
                q(f"sum(rate(rabbitmq_global_messages_confirmed_total[{RATE}]))", "confirmed"),
                q(f"sum(rate(rabbitmq_global_messages_delivered_total[{RATE}]))", "delivered"),
                q(
                    f"sum(rate(rabbitmq_global_messages_acknowledged_total[{RATE}]))",
                    "acknowledged",
                ),
            ],
            unit="reqps",
        ),
        8,
    )
    board.add(
        graph(
            "Consumers by queue",
            [q("sum by (queue) (rabbitmq_queue_consumers)", "{{queue}}")],
        ),
        8,
    )
    board.add(
        graph(
            "Connections and channels",
            [
                q("sum(rabbitmq_connections)", "connections"),
                q("sum(rabbitmq_channels)", "channels"),
            ],
        ),
        8,
    )
    board.add(
        graph(
            "Broker memory",
            [
                q("sum(rabbitmq_process_resident_memory_bytes)", "resident"),
                q("sum(rabbitmq_resident_memory_limit_bytes)", "high watermark"),
            ],
            unit="bytes",
        ),
        8,
    )


def postgres(board: Board) -> None:
    board.row("PostgreSQL (postgres_exporter)")
    board.add(
        single(
            "Up",
            q("min(pg_up)"),
            limits=UP,
            description="pg_up: the exporter reaches PostgreSQL (PostgresDown fires on 0).",
        ),
        4,
        4,
    )
    board.add(
        single(
            "Backends on auditflow",
            q(f"sum(pg_stat_database_numbackends{{{AUDITFLOW_DB}}})"),
        ),
        5,
        4,
    )
    board.add(
        single(
            "Longest open transaction",
            q(f"max(pg_stat_activity_max_tx_duration{{{AUDITFLOW_DB}}})"),
            unit="s",
            limits=thresholds(GREEN, (10, ORANGE), (30, RED)),
            description="A held lock (db-lock-stall, migration-lock) shows here first.",
        ),
        5,
        4,
    )
    board.add(
        single(
            "Database size",
            q(f"sum(pg_database_size_bytes{{{AUDITFLOW_DB}}})"),
            unit="bytes",
        ),
        5,
        4,
    )
    board.add(
        single(
            "Deadlocks in the time range",
            q(f"sum(increase(pg_stat_database_deadlocks{{{AUDITFLOW_DB}}}[$__range]))"),
            decimals=0,
            limits=thresholds(GREEN, (1, RED)),
        ),
        5,
        4,
    )
    board.add(
        graph(
            "Transactions",
            [
                q(
                    f"sum(rate(pg_stat_database_xact_commit{{{AUDITFLOW_DB}}}[{RATE}]))",
                    "commits",
                ),
                q(
                    f"sum(rate(pg_stat_database_xact_rollback{{{AUDITFLOW_DB}}}[{RATE}]))",
                    "rollbacks",
                ),
            ],
            unit="reqps",
        ),
        8,
    )
    board.add(
        graph(
            "Rows inserted and fetched",
            [
                q(
                    f"sum(rate(pg_stat_database_tup_inserted{{{AUDITFLOW_DB}}}[{RATE}]))",
                    "inserted",
                ),
                q(
                    f"sum(rate(pg_stat_database_tup_fetched{{{AUDITFLOW_DB}}}[{RATE}]))",
                    "fetched",
                ),
            ],
            unit="reqps",
        ),
        8,
    )
    board.add(
        graph(
            "Locks by mode",
            [q(f"sum by (mode) (pg_locks_count{{{AUDITFLOW_DB}}})", "{{mode}}")],
            description="An exclusive table lock held by a drill shows as exclusivelock or "
            "accessexclusivelock.",
        ),
        8,
    )
    board.add(
        graph(
            "Connections by state",
            [q(f"sum by (state) (pg_stat_activity_count{{{AUDITFLOW_DB}}})", "{{state}}")],
        ),
        12,
    )
    board.add(
        graph(
            "Buffer cache hit ratio",
            [
                q(
                    f"sum(rate(pg_stat_database_blks_hit{{{AUDITFLOW_DB}}}[{RATE}]))"
                    f" / (sum(rate(pg_stat_database_blks_hit{{{AUDITFLOW_DB}}}[{RATE}]))"
                    f" + sum(rate(pg_stat_database_blks_read{{{AUDITFLOW_DB}}}[{RATE}])))",
                    "hit ratio",
                )
            ],
            unit="percentunit",
        ),
        12,
    )


def redis(board: Board) -> None:
    board.row("Redis (redis_exporter)")
    board.add(
        single(
            "Up",
            q("min(redis_up)"),
            limits=UP,
            description="redis_up: the exporter reaches Redis (RedisDown fires on 0).",
        ),
        4,
        4,
    )
    board.add(single("Clients", q("sum(redis_connected_clients)")), 5, 4)
    board.add(single("Memory used", q("sum(redis_memory_used_bytes)"), unit="bytes"), 5, 4)
    board.add(single("Keys", q("sum(redis_db_keys)")), 5, 4)
    board.add(
        single(
            "Rejected connections in the time range",
            q("sum(increase(redis_rejected_connections_total[$__range]))"),
            decimals=0,
            limits=thresholds(GREEN, (1, RED)),
        ),
        5,
        4,
    )
    board.add(
        graph(
            "Commands",
            [q(f"sum(rate(redis_commands_processed_total[{RATE}]))", "commands")],
            unit="reqps",
        ),
        8,
    )
    board.add(
        graph(
            "Keyspace hits and misses",
            [
                q(f"sum(rate(redis_keyspace_hits_total[{RATE}]))", "hits"),
                q(f"sum(rate(redis_keyspace_misses_total[{RATE}]))", "misses"),
            ],
            unit="reqps",
        ),
        8,
    )
    board.add(
        graph(
            "Memory",
            [
                q("sum(redis_memory_used_bytes)", "used"),
                q("sum(redis_memory_used_rss_bytes)", "resident"),
            ],
            unit="bytes",
        ),
        8,
    )
