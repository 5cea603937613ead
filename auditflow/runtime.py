"""Running a service: one asyncio loop, an HTTP server, and a clean stop on SIGTERM or Ctrl-C.

Supervisord and Kubernetes both stop a process with SIGTERM; the service then finishes its current
batch, acknowledges what it committed, closes its connections and exits 0. A second signal while
stopping is ignored rather than turning a clean stop into a lost batch — the supervisor's kill
timeout is the backstop.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

from aiohttp import web

from auditflow.config import ConfigError, HttpSettings, fail
from auditflow.telemetry import SERVICE_UP

ServiceMain = Callable[[asyncio.Event], Awaitable[None]]


async def serve_http(app: web.Application, http: HttpSettings) -> web.AppRunner:
    """Start serving `app`; the caller cleans up the returned runner when stopping."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, http.host, http.port, reuse_address=True)
    await site.start()
    return runner


def run(service: str, main: Callable[[], ServiceMain]) -> None:
    """Build the service (config errors exit 2) and run it until SIGTERM/SIGINT."""
    log = logging.getLogger(service)
    try:
        body = main()
    except ConfigError as error:
        fail(error, service)
        return

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, _on_signal, stop, log, sig)
        SERVICE_UP.labels(service).set(1)
        try:
            await body(stop)
        finally:
            SERVICE_UP.labels(service).set(0)
        log.info("stopped cleanly")

    asyncio.run(runner())


def _on_signal(stop: asyncio.Event, log: logging.Logger, sig: signal.Signals) -> None:
    if stop.is_set():
        log.warning("already stopping", extra={"fields": {"signal": sig.name}})
        return
    log.info("stopping", extra={"fields": {"signal": sig.name}})
    stop.set()
