"""event-audit-dashboard: the HTTP handlers with fake data sources, and the dependency deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from auditflow.dashboard.app import Sources, build
from auditflow.dashboard.queries import Counters, Event, Sli, Unavailable, bounded


class FakeEvents:
    def __init__(self, down: bool = False) -> None:
        self.down = down
        self.limits: list[int] = []

    async def recent(self, limit: int) -> list[Event]:
        self.limits.append(limit)
        if self.down:
            raise Unavailable("postgresql", "connection refused")
        return [
            Event(
                "id1",
                "2024-05-01T10:00:00+00:00",
                "alice",
                "login",
                "/",
                "success",
                "10.0.0.1",
                "c",
            )
        ]

    async def ping(self) -> None:
        if self.down:
            raise Unavailable("postgresql", "connection refused")

    async def counters(self) -> Counters:
        if self.down:
            raise Unavailable("postgresql", "connection refused")
        return Counters({"login": 7}, {"success": 7}, 7, source="postgresql")

    async def close(self) -> None:
        pass


class FakeCounters:
    def __init__(self, down: bool = False) -> None:
        self.down = down
        self.calls = 0

    async def counters(self) -> Counters:
        self.calls += 1
        if self.down:
            raise Unavailable("redis", "connection refused")
        return Counters({"login": 1}, {"success": 1}, 1)

    async def ping(self) -> None:
        if self.down:
            raise Unavailable("redis", "connection refused")

    async def close(self) -> None:
        pass


class HangingSlis:
    """A Prometheus that never answers: bounded() must cut it off."""

    async def slis(self) -> list[Sli]:
        never: list[Sli] = []
        return await bounded("prometheus", asyncio.sleep(3600, never), 0.2)

    async def ping(self) -> None:
        await bounded("prometheus", asyncio.sleep(3600), 0.2)

    async def close(self) -> None:
        pass


def run_client(
    sources: Sources, scenario: Callable[[TestClient[Any, Any]], Awaitable[None]]
) -> None:
    async def go() -> None:
        client: TestClient[Any, Any] = TestClient(TestServer(build(sources)))
        await client.start_server()
        try:
            await scenario(client)
        finally:
            await client.close()

    asyncio.run(go())


def make(events: FakeEvents | None = None, counters: FakeCounters | None = None) -> Sources:
    # Sources takes the concrete readers (no Protocol in auditflow.dashboard); these fakes have
    # the same async methods.
    return Sources(
        events or FakeEvents(),  # type: ignore[arg-type]
        counters or FakeCounters(),  # type: ignore[arg-type]
        HangingSlis(),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("limit", ["0", "501", "abc", "-1", "1.5"])
def test_recent_limit_out_of_range_is_400(limit: str) -> None:
    """/api/events/recent rejects a limit outside 1..500 or not an integer with 400."""
    events = FakeEvents()

    async def scenario(client: TestClient[Any, Any]) -> None:
        resp = await client.get(f"/api/events/recent?limit={limit}")
        assert resp.status == 400
        assert (await resp.json())["field"] == "limit"

    run_client(make(events), scenario)
    assert events.limits == []


def test_recent_limit_passed_through() -> None:
    """A valid limit reaches the query, and the default is 50."""
    events = FakeEvents()

    async def scenario(client: TestClient[Any, Any]) -> None:
        assert (await client.get("/api/events/recent?limit=500")).status == 200
        body = await (await client.get("/api/events/recent")).json()
        assert body["count"] == 1

    run_client(make(events), scenario)
    assert events.limits == [500, 50]


def test_page_is_200_and_degraded_when_postgres_down_and_prometheus_hangs() -> None:
    """With PG refusing and Prometheus hanging, / still answers 200 quickly with both named."""

    async def scenario(client: TestClient[Any, Any]) -> None:
        started = time.monotonic()
        resp = await client.get("/")
        elapsed = time.monotonic() - started
        html = await resp.text()
        assert resp.status == 200
        assert elapsed < 2.0
        assert 'id="degraded-banner"' in html
        assert 'data-dependencies="postgresql,prometheus"' in html
        assert 'id="counters-total" data-total="1"' in html

    run_client(make(FakeEvents(down=True)), scenario)


def test_api_503_names_dependency_and_status_reports_all() -> None:
    """The JSON API answers 503 naming the down dependency; /api/status lists every state."""

    async def scenario(client: TestClient[Any, Any]) -> None:
        resp = await client.get("/api/events/recent")
        assert resp.status == 503
        assert (await resp.json())["dependency"] == "postgresql"
        assert (await client.get("/api/counters")).status == 200
        status = await (await client.get("/api/status")).json()
        assert status["degraded"] == ["postgresql", "prometheus"]
        assert status["dependencies"]["redis"]["up"] is True

    run_client(make(FakeEvents(down=True)), scenario)


def test_counters_fall_back_to_postgresql_while_redis_is_down() -> None:
    """Redis down: the counters API still answers 200, counted from PostgreSQL and saying so;
    the page shows them with a note, and its banner still names Redis."""

    async def scenario(client: TestClient[Any, Any]) -> None:
        resp = await client.get("/api/counters")
        assert resp.status == 200
        body = await resp.json()
        assert (body["total"], body["source"]) == (7, "postgresql")
        assert body["degraded"] == "redis unreachable: connection refused"
        html = await (await client.get("/")).text()
        assert 'data-total="7" data-source="postgresql"' in html
        assert 'id="counters-fallback"' in html
        assert 'data-dependencies="prometheus,redis"' in html

    run_client(make(counters=FakeCounters(down=True)), scenario)


def test_counters_are_503_only_when_neither_source_answers() -> None:
    async def scenario(client: TestClient[Any, Any]) -> None:
        resp = await client.get("/api/counters")
        assert resp.status == 503
        body = await resp.json()
        assert body["dependency"] == "redis"
        assert "counting in PostgreSQL failed: connection refused" in body["error"]
        html = await (await client.get("/")).text()
        assert 'id="counters-unavailable"' in html

    run_client(make(FakeEvents(down=True), FakeCounters(down=True)), scenario)


def test_counters_last_known_are_served_when_neither_can_answer_and_redis_is_not_hammered() -> None:
    """Redis answered once, then Redis and PostgreSQL both fail: the last Redis counters are
    served, stale and saying so; Redis, known down, is not asked again on the next request."""
    events, counters = FakeEvents(), FakeCounters()

    async def scenario(client: TestClient[Any, Any]) -> None:
        first = await (await client.get("/api/counters")).json()
        assert first["source"] == "redis"
        events.down, counters.down = True, True
        for _ in range(2):
            resp = await client.get("/api/counters")
            assert resp.status == 200
            body = await resp.json()
            assert (body["total"], body["source"]) == (1, "cache")
            assert body["as_of"] and body["degraded"].startswith("redis unreachable")
        assert counters.calls == 2  # the first answer and the failure, not the third request
        assert "PostgreSQL could not count in time" in await (await client.get("/")).text()

    run_client(make(events, counters), scenario)


def test_counters_from_redis_say_so() -> None:
    async def scenario(client: TestClient[Any, Any]) -> None:
        body = await (await client.get("/api/counters")).json()
        assert (body["total"], body["source"]) == (1, "redis") and "degraded" not in body
        assert 'id="counters-fallback"' not in await (await client.get("/")).text()

    run_client(make(), scenario)


def test_healthz_stays_200_with_dependencies_down() -> None:
    """/healthz is 200 while dependencies are down, and reports them for information."""

    async def scenario(client: TestClient[Any, Any]) -> None:
        await client.get("/")
        resp = await client.get("/healthz")
        assert resp.status == 200
        detail = (await resp.json())["checks"]["dependencies"]["detail"]
        assert "postgresql=down" in detail
        assert "redis=up" in detail

    run_client(make(FakeEvents(down=True)), scenario)


def test_bounded_returns_quickly_and_wraps_errors() -> None:
    """bounded() gives up at its deadline and turns library errors into Unavailable."""

    async def boom() -> None:
        raise ConnectionRefusedError("refused")

    async def go() -> None:
        started = time.monotonic()
        with pytest.raises(Unavailable, match=r"no answer within 0\.1 s"):
            await bounded("redis", asyncio.sleep(10), 0.1)
        assert time.monotonic() - started < 1.0
        with pytest.raises(Unavailable) as info:
            await bounded("redis", boom(), 1.0)
        assert info.value.dependency == "redis"
        assert "ConnectionRefusedError" in info.value.detail
        assert await bounded("redis", asyncio.sleep(0, result=7), 1.0) == 7

    asyncio.run(go())
