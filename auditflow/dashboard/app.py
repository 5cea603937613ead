"""event-audit-dashboard HTTP surface: `/` (HTML) and the JSON API.

- `GET /` — recent events, counters, SLIs; a `#degraded-banner` names each unreachable dependency.
  Always 200 within about one dependency timeout (1 s): the three sources are queried in parallel
  and each is cut off by `queries.bounded()`.
- `GET /api/events/recent?limit=N` (1..500, default 50; 400 otherwise), `GET /api/counters`,
  `GET /api/slis` — 503 `{"error", "dependency"}` when their source is unreachable. The counters
  come from Redis; while it is unreachable they are counted from PostgreSQL's rows instead
  (`"source": "postgresql"`, `"degraded"` says why), and if that cannot be done in time either,
  the last counters Redis gave (`"source": "cache"`, `"as_of"`): a Redis outage degrades the
  counters' freshness, not their answer — 503 only before anything was ever known.
- `GET /api/status` — always 200: the state of each dependency.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiohttp import web

from auditflow import jsonlog
from auditflow.config import Env
from auditflow.dashboard import SERVICE
from auditflow.dashboard.queries import (
    DEPENDENCIES,
    POSTGRESQL,
    PROMETHEUS,
    REDIS,
    CounterReader,
    Counters,
    EventReader,
    SliReader,
    Unavailable,
)
from auditflow.dashboard.settings import DashboardSettings
from auditflow.dashboard.view import PageModel, render_index
from auditflow.runtime import ServiceMain, serve_http
from auditflow.telemetry import DEPENDENCY_UP, Check, build_app

T = TypeVar("T")
CACHE = "cache"  # the counters' source when neither Redis nor PostgreSQL answered in time
log = logging.getLogger(SERVICE)

PAGE_EVENTS = 50
DEFAULT_API_LIMIT = 50
MAX_API_LIMIT = 500
PROBE_INTERVAL_S = 5.0


@dataclass
class Sources:
    """The dashboard's readers and the last known state of each dependency."""

    events: EventReader
    counters: CounterReader
    slis: SliReader
    state: dict[str, str | None] = field(default_factory=dict)
    last_counters: Counters | None = None  # the last ones Redis gave, with their time

    def mark(self, dependency: str, problem: str | None) -> None:
        """Record whether `dependency` just answered (problem None) or not."""
        known = dependency in self.state
        previous = self.state.get(dependency)
        self.state[dependency] = problem
        DEPENDENCY_UP.labels(SERVICE, dependency).set(0 if problem else 1)
        if not known or (previous is None) != (problem is None):
            if problem:
                log.warning(
                    "dependency unreachable",
                    extra={"fields": {"dependency": dependency, "detail": problem}},
                )
            else:
                log.info("dependency reachable", extra={"fields": {"dependency": dependency}})

    def describe(self, dependency: str) -> str:
        if dependency not in self.state:
            return "unknown"
        return "up" if self.state[dependency] is None else "down"

    async def attempt(self, dependency: str, work: Any) -> tuple[Any, str | None]:
        try:
            result = await work
        except Unavailable as exc:
            self.mark(dependency, exc.detail)
            return None, exc.detail
        self.mark(dependency, None)
        return result, None

    async def counters_or_fallback(self) -> tuple[Counters | None, str | None, str | None]:
        """The counters, Redis's problem (None: they came from Redis) and, when PostgreSQL could
        not stand in either, its problem.

        Redis known to be down (the last attempt or the background probe, every 5 s, failed) is
        not asked again: a hung Redis would cost its whole deadline before the fallback's, and
        the page must answer within about one. The probe notices its return. When PostgreSQL
        cannot count in time either (a large table, a busy server), the last counters Redis gave
        are served as they were (`source: cache`, `as_of`): stale, said so, never a 503 once
        anything was known.
        """
        problem = self.state.get(REDIS)
        if problem is None:
            counters, problem = await self.attempt(REDIS, self.counters.counters())
            if problem is None:
                self.last_counters = replace(counters, as_of=_now())
                return counters, None, None
        fallback, pg_problem = await self.attempt(POSTGRESQL, self.events.counters())
        if fallback is None and self.last_counters is not None:
            return replace(self.last_counters, source=CACHE), problem, pg_problem
        return fallback, problem, pg_problem

    async def probe_all(self) -> None:
        await asyncio.gather(
            self.attempt(POSTGRESQL, self.events.ping()),
            self.attempt(REDIS, self.counters.ping()),
            self.attempt(PROMETHEUS, self.slis.ping()),
        )

    async def close(self) -> None:
        await asyncio.gather(
            self.events.close(), self.counters.close(), self.slis.close(), return_exceptions=True
        )


SOURCES_KEY = web.AppKey("sources", Sources)


def build(sources: Sources) -> web.Application:
    """The dashboard application (shared telemetry plus the page and JSON API)."""

    async def health() -> Mapping[str, Check]:
        """Liveness of the dashboard process itself.

        `/healthz` answers 200 whenever this web server serves, even with PostgreSQL, Redis or
        Prometheus down: the dashboard degrades (banner, 503 from the affected API) rather than
        fails, and a liveness probe that failed on a dependency would make Kubernetes restart a
        perfectly good dashboard — which cannot bring PostgreSQL back. The last known dependency
        states are reported for information in the `dependencies` check's detail.
        """
        states = " ".join(f"{name}={sources.describe(name)}" for name in DEPENDENCIES)
        return {
            "http": Check(True, "serving"),
            "dependencies": Check(True, f"informational, not a liveness condition: {states}"),
        }

    app = build_app(SERVICE, health)
    app[SOURCES_KEY] = sources
    app.router.add_get("/", index)
    app.router.add_get("/api/events/recent", api_recent)
    app.router.add_get("/api/counters", api_counters)
    app.router.add_get("/api/slis", api_slis)
    app.router.add_get("/api/status", api_status)
    return app


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


async def index(request: web.Request) -> web.Response:
    sources = request.app[SOURCES_KEY]
    (events, pg), (counters, rd, _), (slis, pr) = await asyncio.gather(
        sources.attempt(POSTGRESQL, sources.events.recent(PAGE_EVENTS)),
        sources.counters_or_fallback(),
        sources.attempt(PROMETHEUS, sources.slis.slis()),
    )
    degraded = {
        name: problem
        for name, problem in ((POSTGRESQL, pg), (REDIS, rd), (PROMETHEUS, pr))
        if problem is not None
    }
    html = render_index(
        PageModel(
            events=events,
            counters=counters,
            slis=slis,
            degraded=degraded,
            generated_at=_now(),
        )
    )
    return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-store"})


def _unavailable(dependency: str, detail: str) -> web.Response:
    return web.json_response(
        {"error": f"{dependency} unreachable: {detail}", "dependency": dependency}, status=503
    )


async def api_recent(request: web.Request) -> web.Response:
    raw = request.query.get("limit", str(DEFAULT_API_LIMIT))
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_API_LIMIT:
        return web.json_response(
            {"error": f"limit must be an integer from 1 to {MAX_API_LIMIT}", "field": "limit"},
            status=400,
        )
    sources = request.app[SOURCES_KEY]
    events, problem = await sources.attempt(POSTGRESQL, sources.events.recent(limit))
    if problem is not None:
        return _unavailable(POSTGRESQL, problem)
    return web.json_response({"events": [e.to_json() for e in events], "count": len(events)})


async def api_counters(request: web.Request) -> web.Response:
    sources = request.app[SOURCES_KEY]
    counters, problem, fallback_problem = await sources.counters_or_fallback()
    if counters is None:
        return _unavailable(REDIS, f"{problem}; counting in PostgreSQL failed: {fallback_problem}")
    body = counters.to_json()
    if problem is not None:
        body["degraded"] = f"redis unreachable: {problem}"
    return web.json_response(body)


async def api_slis(request: web.Request) -> web.Response:
    sources = request.app[SOURCES_KEY]
    slis, problem = await sources.attempt(PROMETHEUS, sources.slis.slis())
    if problem is not None:
        return _unavailable(PROMETHEUS, problem)
    return web.json_response({"slis": [s.to_json() for s in slis]})


async def api_status(request: web.Request) -> web.Response:
    sources = request.app[SOURCES_KEY]
    await sources.probe_all()
    dependencies = {
        name: {"up": sources.state.get(name) is None, "detail": sources.state.get(name) or ""}
        for name in DEPENDENCIES
    }
    degraded = [name for name, dep in dependencies.items() if not dep["up"]]
    return web.json_response(
        {
            "service": SERVICE,
            "status": "degraded" if degraded else "ok",
            "degraded": degraded,
            "dependencies": dependencies,
        }
    )


async def _probe_forever(sources: Sources, stop: asyncio.Event) -> None:
    """Keep `dependency_up` current even when nobody looks at the page."""
    while not stop.is_set():
        try:
            await sources.probe_all()
        except Exception:  # a probe bug must not kill the loop; log it and go on
            log.exception("dependency probe failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=PROBE_INTERVAL_S)


def main() -> ServiceMain:
    """Read the configuration (errors exit 2) and return the service body."""
    settings = DashboardSettings.from_env(Env.current())
    jsonlog.setup(SERVICE, settings.log_level)

    async def body(stop: asyncio.Event) -> None:
        sources = Sources(
            events=EventReader(settings.pg_dsn, settings.timeout),
            counters=CounterReader(settings.redis_url, settings.timeout),
            slis=SliReader(settings.prometheus_url, settings.timeout),
        )
        runner = await serve_http(build(sources), settings.http)
        log.info(
            "serving",
            extra={"fields": {"host": settings.http.host, "port": settings.http.port}},
        )
        prober = asyncio.create_task(_probe_forever(sources, stop))
        try:
            await stop.wait()
        finally:
            await prober
            await runner.cleanup()
            await sources.close()

    return body
