"""How the harness reaches AuditFlow on Kubernetes: URLs from the settings, passwords from a Secret.

Why its own module: the passwords live in the platform's Secret (`auditflow-secrets`, read through
the API, base64-decoded) unless `GENESIS_K8S_SECRET_*` overrides provide all of them; the URLs are
in-cluster DNS names or port-forwards (`KubeSettings`), or whole `GENESIS_K8S_*_URL` overrides.
Every value that carries a password is a `Secret` from the moment it is read.
"""

from __future__ import annotations

import base64

from drills.connstr import amqp_url, pg_dsn
from drills.errors import TargetError
from drills.secret import Secret
from drills.targets.base import Endpoints
from drills.targets.k8s_settings import KubeSettings
from drills.targets.kubernetes.api import REQUEST_TIMEOUT, KubeApi

WANTED = ("admin-token", "rabbitmq-password", "postgres-password", "postgres-app-password")


def read_secret(api: KubeApi, settings: KubeSettings) -> dict[str, str]:
    """The platform's credentials: the overrides, else the Secret with the overrides on top."""
    overrides = {key: value.reveal() for key, value in settings.secrets.items()}
    if all(key in overrides for key in WANTED):
        return overrides
    name = settings.secret_name
    secret = api.plain(
        api.call(
            f"reading Secret {name}",
            lambda: api.core.read_namespaced_secret(
                name, api.namespace, _request_timeout=REQUEST_TIMEOUT
            ),
        )
    )
    data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
    data.update(overrides)
    missing = [key for key in WANTED if key not in data]
    if missing:
        raise TargetError(f"Secret {name} lacks the keys {', '.join(missing)}")
    return data


def endpoints_of(settings: KubeSettings, secret: dict[str, str]) -> Endpoints:
    """URLs from env or defaults (in-cluster DNS or port-forwards), passwords from `secret`."""
    s = settings
    amqp_host, amqp_port = s.host_port("rabbitmq")
    pg_host, pg_port = s.host_port("postgres")
    return Endpoints(
        prometheus_url=s.base_url("prometheus"),
        alertmanager_url=s.base_url("alertmanager"),
        generator_url=s.base_url("audit-event-generator"),
        generator_token=Secret(secret["admin-token"]),
        notification_url=s.base_url("notification-service"),
        amqp_url=s.secret_urls.get("rabbitmq")
        or amqp_url(amqp_host, amqp_port, "auditflow", Secret(secret["rabbitmq-password"])),
        pg_dsn=s.secret_urls.get("postgres")
        or pg_dsn(
            pg_host, pg_port, "auditflow", "auditflow", Secret(secret["postgres-app-password"])
        ),
        pg_admin_dsn=s.secret_urls.get("postgres-admin")
        or pg_dsn(pg_host, pg_port, "postgres", "postgres", Secret(secret["postgres-password"])),
        dashboard_url=s.base_url("event-audit-dashboard"),
    )
