"""Wires the generator together: settings → buffer, publisher, generation loop, HTTP.

Shutdown order matters: stop generating first, give in-flight and buffered events a bounded time
(5 s) to be confirmed, then close the connection and the HTTP server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from auditflow import jsonlog
from auditflow.config import Env, redact_url
from auditflow.generator import SERVICE
from auditflow.generator.admin import add_routes
from auditflow.generator.buffer import PendingBuffer
from auditflow.generator.publisher import Publisher
from auditflow.generator.service import Generator
from auditflow.generator.settings import GeneratorSettings
from auditflow.runtime import ServiceMain, serve_http
from auditflow.telemetry import Check, build_app

log = logging.getLogger(SERVICE)

DRAIN_TIMEOUT_S = 5.0


def build() -> ServiceMain:
    """Read settings (ConfigError → exit 2) and return the service body for `runtime.run`."""
    settings = GeneratorSettings.from_env(Env.current())
    jsonlog.setup(SERVICE, settings.log_level)

    async def main(stop: asyncio.Event) -> None:
        buffer = PendingBuffer(settings.buffer_max)
        publisher = Publisher(settings.amqp_url, buffer)
        generator = Generator(settings.run_id, settings.rate, buffer, publisher)

        async def health() -> Mapping[str, Check]:
            return {
                "generation_loop": Check(
                    generator.healthy(), "" if generator.healthy() else "stalled"
                ),
                "broker": Check(publisher.connected, "" if publisher.connected else "disconnected"),
            }

        app = build_app(SERVICE, health)
        add_routes(app, generator, settings.admin_token)
        runner = await serve_http(app, settings.http)
        log.info(
            "started",
            extra={
                "fields": {
                    "port": settings.http.port,
                    "amqp": redact_url(settings.amqp_url),
                    "run_id": settings.run_id,
                    "rate": settings.rate,
                    "buffer_max": settings.buffer_max,
                    "admin_writes": settings.admin_token is not None,
                }
            },
        )
        publishing = asyncio.create_task(publisher.run())
        try:
            await generator.run(stop)
            left = await publisher.drain(DRAIN_TIMEOUT_S)
            stats = generator.stats()
            log_fields = {
                "last_seq": stats.last_seq,
                "confirmed": stats.confirmed,
                "unconfirmed": left,
            }
            if left:
                log.warning("stopping with unconfirmed events", extra={"fields": log_fields})
            else:
                log.info("all events confirmed", extra={"fields": log_fields})
        finally:
            publisher.stop()
            await publishing
            await runner.cleanup()

    return main
