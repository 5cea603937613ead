"""Helpers for tests that run against the real sandbox: a handle with clients, and `wait_for`.

The session fixture that starts the sandbox lives in tests/conftest.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx
import psycopg
import pytest

from drills.sandbox.connections import amqp_url, pg_dsn
from drills.sandbox.lifecycle import Sandbox
from drills.sandbox.smoke import GeneratorAdmin
from drills.settings import Settings

T = TypeVar("T")


@dataclass
class LiveSandbox:
    """A running sandbox plus the clients tests need to talk to it."""

    sandbox: Sandbox
    up_seconds: float

    @property
    def settings(self) -> Settings:
        return self.sandbox.settings

    def port(self, component: str) -> int:
        return self.settings.ports.of(component)

    def url(self, component: str) -> str:
        return f"http://127.0.0.1:{self.port(component)}"

    @property
    def amqp_url(self) -> str:
        return amqp_url(self.port("rabbitmq"), self.sandbox.secrets).reveal()

    @property
    def pg_dsn(self) -> str:
        return pg_dsn(self.port("postgres"), self.sandbox.secrets).reveal()

    def pg(self) -> psycopg.Connection:
        return psycopg.connect(self.pg_dsn, autocommit=True)

    def generator(self) -> GeneratorAdmin:
        return GeneratorAdmin(
            self.url("audit-event-generator"), self.sandbox.secrets.admin_token.reveal()
        )

    def notify_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.sandbox.secrets.notify_token.reveal()}"}

    def healthy(self, component: str) -> bool:
        try:
            return httpx.get(f"{self.url(component)}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False


def wait_for(condition: Callable[[], T | None], timeout: float, what: str, every: float = 0.2) -> T:
    """Poll until `condition()` is truthy and return what it gave; fail naming `what` when it
    never is."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")
