"""Readiness probes for sandbox components: can a client really use it, not just "is a PID alive".

Probes never raise: they return a `Health` with a short reason, so `status` can show every
component's state in one table and `up` can name exactly what did not come up.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

import httpx

from drills.sandbox.connections import pg_dsn
from drills.sandbox.programs import Probe
from drills.sandbox.secrets import ALERTMANAGER_USER, SandboxSecrets

PROBE_TIMEOUT = 2.0


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str


def probe(check: Probe, secrets: SandboxSecrets) -> Health:
    if check.kind == "tcp":
        return _tcp(check.port)
    if check.kind == "http":
        return _http(check.port, check.path)
    if check.kind == "alertmanager":  # HTTP with Alertmanager's basic auth
        return _http(check.port, check.path, (ALERTMANAGER_USER, secrets.alertmanager.reveal()))
    if check.kind == "postgres":
        return _postgres(check.port, secrets)
    return _redis(check.port, secrets)


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _tcp(port: int) -> Health:
    if port_open(port):
        return Health(True, f"accepting on 127.0.0.1:{port}")
    return Health(False, f"nothing accepting on 127.0.0.1:{port}")


def _http(port: int, path: str, auth: tuple[str, str] | None = None) -> Health:
    url = f"http://127.0.0.1:{port}{path}"
    try:
        # Plain http on loopback: no TLS, so no CA bundle to load (~30 ms of CPU per probe,
        # and a drill probes a restarting component every 0.25 s).
        response = httpx.get(url, timeout=PROBE_TIMEOUT, verify=False, auth=auth)  # noqa: S501 - http only
    except httpx.HTTPError as exc:
        return Health(False, f"{url}: {type(exc).__name__}")
    if response.status_code == 200:
        return Health(True, f"{path} 200")
    return Health(False, f"{path} answered {response.status_code}: {response.text[:120]}")


def _postgres(port: int, secrets: SandboxSecrets) -> Health:
    import psycopg

    try:
        dsn = pg_dsn(port, secrets, superuser=True, connect_timeout=2)
        with psycopg.connect(dsn.reveal()) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Health(False, first_line[:160])
    return Health(True, "SELECT 1 ok")


def _redis(port: int, secrets: SandboxSecrets) -> Health:
    import redis

    client = redis.Redis(
        host="127.0.0.1",
        port=port,
        password=secrets.redis.reveal(),
        socket_timeout=PROBE_TIMEOUT,
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        return Health(False, f"PING failed: {type(exc).__name__}")
    finally:
        client.close()
    return Health(True, "PING ok")
