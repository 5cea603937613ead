"""The pipeline's rows of the services dashboard: the generator and the analysis service.

The generator publishes with confirms and holds what the broker has not confirmed in a bounded
buffer; the analysis service validates, stores in PostgreSQL and dead-letters the malformed
(docs/auditflow-contract.md, "Metrics").
"""

from __future__ import annotations

from dashboards import jobs
from dashboards import objectives as slo
from dashboards.board import Board
from dashboards.panels import (
    GREEN,
    ORANGE,
    RATE,
    RED,
    UP,
    at_most,
    graph,
    q,
    single,
    thresholds,
    zero_as,
)

GENERATOR = "audit-event-generator"
ANALYSIS = "audit-log-analysis"


def generator(board: Board) -> None:
    job = f'job="{GENERATOR}"'
    board.row(f"{GENERATOR}: publishes events with confirms, buffers what is unconfirmed")
    jobs.stats(board, GENERATOR)
    board.add(single("Target rate", q(f"sum(generator_target_rate{{{job}}})"), unit="reqps"), 3, 4)
    board.add(
        single(
            "Broker connected",
            q(f"min(generator_broker_connected{{{job}}})"),
            limits=UP,
        ),
        3,
        4,
    )
    board.add(
        single(
            "Buffer fill",
            q(f"sum(generator_buffer_events{{{job}}}) / sum(generator_buffer_capacity{{{job}}})"),
            unit="percentunit",
            decimals=1,
            limits=thresholds(GREEN, (0.5, ORANGE), (0.8, RED)),
            description="Events held until the broker confirms them, of the buffer's bound; at "
            "the bound the generator stops generating (generator_buffer_full_total).",
        ),
        6,
        4,
    )
    board.add(
        single(
            "Publish failures in the time range",
            q(f"sum(increase(messages_publish_failures_total{{{job}}}[$__range])) or vector(0)"),
            limits=thresholds(GREEN, (1, ORANGE)),
            description="Publishes nacked, returned or unconfirmed at a connection loss; each is "
            "re-published from the buffer.",
        ),
        6,
        4,
    )
    board.add(
        graph(
            "Events generated and confirmed",
            [
                q(f"sum(rate(events_generated_total{{{job}}}[{RATE}]))", "generated"),
                q(
                    f"sum(rate(messages_published_total{{{job}}}[{RATE}]))",
                    "confirmed by the broker",
                ),
                q(f"sum(generator_target_rate{{{job}}})", "target rate"),
            ],
            unit="reqps",
        ),
        8,
    )
    board.add(
        graph(
            "Publish failures and buffer-full stalls",
            [
                q(
                    f"sum by (reason) (rate(messages_publish_failures_total{{{job}}}[{RATE}]))"
                    f" or {zero_as('reason')}",
                    "not confirmed: {{reason}}",
                ),
                q(f"sum(rate(generator_buffer_full_total{{{job}}}[{RATE}]))", "buffer full"),
            ],
            unit="reqps",
        ),
        8,
    )
    board.add(
        graph(
            "Buffered events",
            [
                q(f"sum(generator_buffer_events{{{job}}})", "buffered"),
                q(f"sum(generator_buffer_capacity{{{job}}})", "capacity"),
            ],
        ),
        8,
    )
    jobs.graphs(board, GENERATOR)


def analysis(board: Board) -> None:
    job = f'job="{ANALYSIS}"'
    board.row(f"{ANALYSIS}: validates, stores in PostgreSQL, dead-letters the malformed")
    jobs.stats(board, ANALYSIS)
    board.add(
        single("Consumer connected", q(f"min(analysis_consumer_connected{{{job}}})"), limits=UP),
        3,
        4,
    )
    board.add(
        single(
            "Dependencies up",
            q(f"min(dependency_up{{{job}}})"),
            limits=UP,
            description="0 while one of RabbitMQ, PostgreSQL or Redis is unreachable.",
        ),
        3,
        4,
    )
    board.add(
        single(
            "Stored in the time range",
            q(f'sum(increase(events_processed_total{{{job},result="stored"}}[$__range]))'),
            decimals=0,
        ),
        6,
        4,
    )
    board.add(
        single(
            "Dead-lettered in the time range",
            q(f"sum(increase(events_dead_lettered_total{{{job}}}[$__range])) or vector(0)"),
            decimals=0,
            limits=thresholds(GREEN, (1, ORANGE)),
        ),
        6,
        4,
    )
    board.add(
        graph(
            "Events processed by result",
            [
                q(
                    f"sum by (result) (rate(events_processed_total{{{job}}}[{RATE}]))",
                    "{{result}}",
                )
            ],
            unit="reqps",
            description="stored, duplicate (an event already stored: re-delivery after a "
            "restart) and dead_lettered.",
        ),
        8,
    )
    board.add(
        graph(
            "Dead letters by reason",
            [
                q(
                    f"sum by (reason) (rate(events_dead_lettered_total{{{job}}}[{RATE}]))"
                    f" or {zero_as('reason')}",
                    "{{reason}}",
                )
            ],
            unit="reqps",
        ),
        8,
    )
    board.add(
        graph(
            "Processing latency, publish → stored",
            [
                q(jobs.p99("event_processing_duration_seconds", job), "p99"),
                q(
                    "histogram_quantile(0.5, sum by (le) "
                    f"(rate(event_processing_duration_seconds_bucket{{{job}}}[{RATE}])))",
                    "p50",
                ),
            ],
            unit="s",
            limits=at_most(slo.LATENCY.threshold_s),
        ),
        8,
    )
    board.add(
        graph(
            "Batch size",
            [
                q(jobs.p99("analysis_batch_size", job), "p99"),
                q(
                    f"sum(rate(analysis_batch_size_sum{{{job}}}[{RATE}]))"
                    f" / sum(rate(analysis_batch_size_count{{{job}}}[{RATE}]))",
                    "mean",
                ),
            ],
            description="Events per PostgreSQL commit (AUDITFLOW_BATCH_MAX bounds it).",
        ),
        8,
    )
    board.add(
        graph(
            "Database query latency p99",
            [q(jobs.p99("database_query_duration_seconds", job, "operation"), "{{operation}}")],
            unit="s",
        ),
        8,
    )
    board.add(
        graph(
            "Security alerts raised",
            [
                q(
                    f"sum by (source) (rate(alerts_triggered_total{{{job}}}[{RATE}]))"
                    f" or {zero_as('source')}",
                    "{{source}}",
                )
            ],
            unit="reqps",
            description="Alerts the analysis service's rules send to the notification service.",
        ),
        8,
    )
    jobs.graphs(board, ANALYSIS)
