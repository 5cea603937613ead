"""The proxy's control channel: HTTP/1.1 with JSON bodies on loopback, behind a bearer token.

Why HTTP and not a unix socket: the harness already speaks HTTP to every other sandbox surface
(httpx), a readiness probe is one GET, and `curl` can inspect a stuck proxy. Like every control
surface of the sandbox it refuses a caller without the sandbox's credentials; only `/healthz`
answers anyone (it says nothing but "ok").

    GET    /healthz                         200 {"ok": true}
    GET    /routes                          every route's state (fault, deadline, counters)
    PUT    /routes/<name>/fault             body: a fault (drills.netfault.faults); its state
    DELETE /routes/<name>/fault[?id=<id>]   {"cleared": bool}: only the fault with that id

One request per connection (`Connection: close`), bodies at most 64 KiB: a tiny server the
harness calls a few times per drill, not a web framework.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

from drills.netfault.faults import FaultSpec
from drills.netfault.route import Route

log = logging.getLogger("netfault")
MAX_BODY = 64 * 1024
READ_TIMEOUT_S = 5.0
REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
}


class Control:
    """Dispatches control requests to the routes."""

    def __init__(self, routes: dict[str, Route], token: str) -> None:
        self.routes = routes
        self.token = token

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, payload = await asyncio.wait_for(self._request(reader), READ_TIMEOUT_S)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError, ValueError):
            status, payload = 400, {"error": "malformed request"}
        body = json.dumps(payload).encode()
        head = (
            f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        )
        try:
            writer.write(head.encode() + body)
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _request(self, reader: asyncio.StreamReader) -> tuple[int, Any]:
        method, target, _version = (await reader.readline()).decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            key, _, value = line.decode("latin-1").partition(":")
            headers[key.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or "0")
        if length < 0 or length > MAX_BODY:
            return 413, {"error": f"body larger than {MAX_BODY} bytes"}
        body = await reader.readexactly(length) if length else b""
        url = urlsplit(target)
        if url.path == "/healthz":
            return 200, {"ok": True}
        if not self._authorised(headers.get("authorization", "")):
            return 401, {"error": "missing or wrong bearer token"}
        return await self.dispatch(method, url.path, parse_qs(url.query), body)

    def _authorised(self, header: str) -> bool:
        scheme, _, given = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), self.token)

    async def dispatch(  # noqa: PLR0911 - one return per answer reads best here
        self, method: str, path: str, query: dict[str, list[str]], body: bytes
    ) -> tuple[int, Any]:
        parts = [p for p in path.split("/") if p]
        if parts == ["routes"]:
            if method != "GET":
                return 405, {"error": f"{method} /routes: use GET"}
            return 200, {"routes": {name: r.state() for name, r in self.routes.items()}}
        if len(parts) != 3 or parts[0] != "routes" or parts[2] != "fault":
            return 404, {"error": f"no such resource {path!r}"}
        route = self.routes.get(parts[1])
        if route is None:
            return 404, {"error": f"no route {parts[1]!r} (routes: {', '.join(self.routes)})"}
        if method == "PUT":
            try:
                spec = FaultSpec.from_json(json.loads(body or b"null"))
            except ValueError as exc:  # json.JSONDecodeError is one too
                return 400, {"error": str(exc)}
            return 200, await route.apply(spec)
        if method == "DELETE":
            ids = query.get("id")
            cleared = route.clear(ids[0] if ids else None)
            return 200, {"cleared": cleared, "state": route.state()}
        if method == "GET":
            return 200, route.state()
        return 405, {"error": f"{method} {path}: use GET, PUT or DELETE"}
