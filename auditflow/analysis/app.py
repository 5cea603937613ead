"""Wires the analysis service together and defines its shutdown order.

SIGTERM: cancel the consumer (no new deliveries), flush and acknowledge the current batch, let
dead-letters finish, push the last counters, then close the broker, database and HTTP server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from auditflow import jsonlog
from auditflow.analysis import SERVICE
from auditflow.analysis.consumer import Consumer
from auditflow.analysis.counters import RedisCounters
from auditflow.analysis.notify import Notifier
from auditflow.analysis.pipeline import Pipeline
from auditflow.analysis.security import FailedLoginRule
from auditflow.analysis.settings import AnalysisSettings
from auditflow.analysis.store import PgStore
from auditflow.config import Env, redact_url
from auditflow.runtime import ServiceMain, serve_http
from auditflow.telemetry import Check, build_app

log = logging.getLogger(SERVICE)

DRAIN_TIMEOUT_S = 10.0


def build() -> ServiceMain:
    """Read settings (ConfigError → exit 2) and return the service body for `runtime.run`."""
    settings = AnalysisSettings.from_env(Env.current())
    jsonlog.setup(SERVICE, settings.log_level)

    async def main(stop: asyncio.Event) -> None:
        counters = RedisCounters(settings.redis_url)
        notifier = Notifier(settings.notify_url, settings.notify_token)
        pipeline = Pipeline(
            PgStore(settings.pg_dsn),
            counters.deltas,
            FailedLoginRule(settings.failed_login_threshold, settings.failed_login_window_s),
            notifier,
            settings.batch_max,
            settings.batch_age_ms / 1000,
        )
        counters.seed = pipeline.stored_counts
        consumer = Consumer(
            settings.amqp_url, settings.prefetch, settings.max_event_bytes, pipeline
        )

        async def health() -> Mapping[str, Check]:
            return {
                "broker": Check(consumer.connected, "" if consumer.connected else "disconnected"),
                "postgres": Check(pipeline.pg_up, pipeline.pg_error if not pipeline.pg_up else ""),
                "redis": Check(counters.up, "" if counters.up else "unreachable"),
            }

        app = build_app(SERVICE, health)
        runner = await serve_http(app, settings.http)
        log.info(
            "started",
            extra={
                "fields": {
                    "port": settings.http.port,
                    "amqp": redact_url(settings.amqp_url),
                    "redis": redact_url(settings.redis_url),
                    "prefetch": settings.prefetch,
                    "batch_max": settings.batch_max,
                    "batch_age_ms": settings.batch_age_ms,
                }
            },
        )
        counter_stop = asyncio.Event()
        pushing = asyncio.create_task(counters.run(counter_stop))
        try:
            await pipeline.prepare(stop)  # schema first: no point consuming without storage
            if stop.is_set():
                return
            flush_stop = asyncio.Event()  # set only once no more deliveries can arrive
            flushing = asyncio.create_task(pipeline.run(flush_stop, DRAIN_TIMEOUT_S))
            consuming = asyncio.create_task(consumer.run(stop))
            await stop.wait()
            await consumer.stop_consuming()
            await consuming
            await asyncio.sleep(0.05)  # deliveries that raced the cancel reach the batch
            flush_stop.set()
            await flushing
            await consumer.close()
        finally:
            counter_stop.set()
            await pushing
            await counters.close()
            await notifier.close()
            await pipeline.store.close()
            await runner.cleanup()

    return main
