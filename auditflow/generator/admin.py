"""The admin HTTP API: stats for anyone; rate/burst changes and the per-seq publish outcomes
(`/admin/outcomes`, the ledger's evidence) for bearer-token holders.

Token comparison is constant-time; with no token configured every write is refused (403) so a
sandbox without a token cannot be re-rated by accident.
"""

from __future__ import annotations

import dataclasses
import hmac
import math
from typing import Any

from aiohttp import web

from auditflow.generator.service import Generator
from auditflow.generator.settings import MAX_RATE

MAX_SEQ = 2**63 - 1  # a PostgreSQL bigint, as the analysis service stores it


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _authorize(request: web.Request, token: str | None) -> web.Response | None:
    if token is None:
        return _error(403, "admin writes are disabled: AUDITFLOW_ADMIN_TOKEN is not set")
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        response = _error(401, "missing or wrong bearer token")
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    return None


async def _json_object(request: web.Request) -> dict[str, Any] | web.Response:
    try:
        payload = await request.json()
    except ValueError:
        return _error(400, "body must be JSON")
    if not isinstance(payload, dict):
        return _error(400, "body must be a JSON object")
    return payload


def _seq_param(request: web.Request, name: str) -> int | web.Response:
    raw = request.query.get(name)
    if raw is None:
        return _error(400, f'query parameter "{name}" is required (a sequence number)')
    try:
        value = int(raw)
    except ValueError:
        return _error(400, f'"{name}" must be an integer, got {raw[:40]!r}')
    if not 1 <= value <= MAX_SEQ:
        return _error(400, f'"{name}" must be between 1 and {MAX_SEQ}, got {value}')
    return value


def add_routes(app: web.Application, generator: Generator, token: str | None) -> None:
    """Install `/admin/stats`, `/admin/outcomes`, `/admin/rate` and `/admin/burst` on `app`."""

    async def stats(_: web.Request) -> web.Response:
        return web.json_response(dataclasses.asdict(generator.stats()))

    async def outcomes(request: web.Request) -> web.Response:
        """`GET /admin/outcomes?first=A&last=B`: final status counts of `[A, B]` and the seqs
        that are not `ok`, as intervals (bounded: they are all in the buffer)."""
        denied = _authorize(request, token)
        if denied is not None:
            return denied
        first = _seq_param(request, "first")
        if isinstance(first, web.Response):
            return first
        last = _seq_param(request, "last")
        if isinstance(last, web.Response):
            return last
        if last < first - 1:
            return _error(400, f'"last" ({last}) must be >= "first" - 1 ({first - 1})')
        return web.json_response(generator.outcomes(first, last))

    async def set_rate(request: web.Request) -> web.Response:
        denied = _authorize(request, token)
        if denied is not None:
            return denied
        payload = await _json_object(request)
        if isinstance(payload, web.Response):
            return payload
        rate = payload.get("rate")
        if (
            isinstance(rate, bool)
            or not isinstance(rate, int | float)
            or not math.isfinite(rate)
            or not 0 <= rate <= MAX_RATE
        ):
            return _error(400, f'"rate" must be a number between 0 and {MAX_RATE:g}')
        generator.set_rate(float(rate))
        return web.json_response({"rate": generator.rate})

    async def burst(request: web.Request) -> web.Response:
        denied = _authorize(request, token)
        if denied is not None:
            return denied
        payload = await _json_object(request)
        if isinstance(payload, web.Response):
            return payload
        count = payload.get("count")
        limit = generator.buffer.capacity
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= limit:
            return _error(400, f'"count" must be an integer between 1 and {limit} (buffer max)')
        generator.burst(count)
        return web.json_response({"queued": count, "burst_pending": generator.burst_owed})

    app.router.add_get("/admin/stats", stats)
    app.router.add_get("/admin/outcomes", outcomes)
    app.router.add_post("/admin/rate", set_rate)
    app.router.add_post("/admin/burst", burst)
