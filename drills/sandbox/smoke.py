"""Push a burst of events through the running sandbox and prove every one arrived exactly once.

This is the main job's end-to-end check before drills exist: pause the generator's steady load,
ask it for a burst of N events, wait until the broker has confirmed all of them, then wait until
PostgreSQL holds exactly one row per confirmed sequence number of the generator's run. Figures
(throughput, lost, duplicated) come from the generator's confirmed count and the database.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg

from drills.errors import ComponentFailed, TargetError
from drills.sandbox.connections import pg_dsn
from drills.sandbox.lifecycle import Sandbox


@dataclass(frozen=True)
class SmokeResult:
    run_id: str
    requested: int
    confirmed: int
    stored: int
    lost: int
    duplicated: int
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.stored / self.seconds if self.seconds > 0 else 0.0

    @property
    def passed(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and self.stored == self.confirmed


class GeneratorAdmin:
    """The generator's admin API (rate, burst, stats)."""

    def __init__(self, base_url: str, token: str) -> None:
        self._client = httpx.Client(
            base_url=base_url,
            timeout=5.0,
            headers={"Authorization": f"Bearer {token}"},
            verify=base_url.lower().startswith("https://"),  # no CA bundle for plain http
        )

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self._request("GET", "/admin/stats")
        return stats

    def set_rate(self, rate: float) -> None:
        self._request("POST", "/admin/rate", {"rate": rate})

    def burst(self, count: int) -> None:
        self._request("POST", "/admin/burst", {"count": count})

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            response = self._client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise TargetError(f"generator admin API {path}: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 400:
            raise TargetError(
                f"generator admin API {path} answered {response.status_code}: {response.text[:200]}"
            )
        return response.json()

    def close(self) -> None:
        self._client.close()


def run_smoke(
    sandbox: Sandbox,
    count: int,
    timeout: float = 120.0,
    progress: Callable[[str], None] = lambda _m: None,
) -> SmokeResult:
    ports = sandbox.settings.ports
    admin = GeneratorAdmin(
        f"http://127.0.0.1:{ports.of('audit-event-generator')}",
        sandbox.secrets.admin_token.reveal(),
    )
    try:
        before = admin.stats()
        old_rate = float(before["rate"])
        admin.set_rate(0)
        try:
            started = time.monotonic()
            admin.burst(count)
            progress(f"burst of {count} events requested")
            stats = _wait_confirmed(admin, int(before["generated"]) + count, started + timeout)
            progress(f"{stats['confirmed']} events confirmed by the broker")
            run_id, last_seq = str(stats["run_id"]), int(stats["last_seq"])
            # Only this burst counts; a generator restarted meanwhile starts a new run at seq 1.
            first_seq = int(before["last_seq"]) + 1 if before["run_id"] == run_id else 1
            stored, distinct = _wait_stored(sandbox, run_id, first_seq, last_seq, started + timeout)
            seconds = time.monotonic() - started
        finally:
            admin.set_rate(old_rate)
    finally:
        admin.close()
    confirmed = last_seq - first_seq + 1  # the buffer is empty: every generated event confirmed
    return SmokeResult(
        run_id=run_id,
        requested=count,
        confirmed=confirmed,
        stored=distinct,
        lost=max(0, confirmed - distinct),
        duplicated=stored - distinct,
        seconds=seconds,
    )


def _wait_confirmed(admin: GeneratorAdmin, generated: int, deadline: float) -> dict[str, Any]:
    while True:
        stats = admin.stats()
        if int(stats["generated"]) >= generated and int(stats["buffered"]) == 0:
            return stats
        if time.monotonic() > deadline:
            raise ComponentFailed(
                f"generator did not get its events confirmed in time: {stats} "
                "(is RabbitMQ up? `genesis-drill platform status`)"
            )
        time.sleep(0.05)


def _wait_stored(
    sandbox: Sandbox, run_id: str, first_seq: int, last_seq: int, deadline: float
) -> tuple[int, int]:
    dsn = pg_dsn(sandbox.settings.ports.of("postgres"), sandbox.secrets).reveal()
    query = (
        "SELECT count(*), count(DISTINCT seq) FROM audit_events "
        "WHERE run_id = %s AND seq BETWEEN %s AND %s"
    )
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            while True:
                row = conn.execute(query, (run_id, first_seq, last_seq)).fetchone()
                stored, distinct = (int(row[0]), int(row[1])) if row else (0, 0)
                if distinct >= last_seq - first_seq + 1 or time.monotonic() > deadline:
                    return stored, distinct
                time.sleep(0.05)
    except psycopg.Error as exc:
        raise TargetError(f"cannot read audit_events from PostgreSQL: {exc}") from exc
