"""counter_parity reads only counters that came from Redis: the dashboard's PostgreSQL fallback
(while Redis is down) compared with PostgreSQL would make the redis-outage check pass always."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from drills.faults.counter_parity import Parity, dashboard_total


class Answer:
    status = 200
    body: dict[str, object] = {}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        payload = json.dumps(Answer.body).encode()
        self.send_response(Answer.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def dashboard() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, {"total": 41, "source": "redis"}, 41),
        (200, {"total": 41}, 41),  # a dashboard from before the fallback: Redis's
        (200, {"total": 41, "source": "postgresql", "degraded": "redis unreachable"}, None),
        (503, {"error": "redis unreachable", "dependency": "redis"}, None),
        (200, {"total": "41", "source": "redis"}, None),
    ],
)
def test_only_redis_counters_are_compared(dashboard: str, status, body, expected) -> None:
    Answer.status, Answer.body = status, body
    assert dashboard_total(dashboard) == expected


def test_parity_holds_between_the_two_counts_within_the_allowance() -> None:
    assert Parity(100, 95, 110, 10).holds
    assert not Parity(100, 111, 110, 10).holds  # counted twice
    assert not Parity(100, 80, 110, 10).holds  # lost
    assert Parity(100, 80, 110, 10).gap == 20
