"""Analysis configuration, read once from `AUDITFLOW_*` variables (bad values exit 2)."""

from __future__ import annotations

from dataclasses import dataclass

from auditflow.analysis import DEFAULT_PORT
from auditflow.config import Env, HttpSettings
from auditflow.events import DEFAULT_MAX_EVENT_BYTES


@dataclass(frozen=True)
class AnalysisSettings:
    """Everything the analysis service needs."""

    http: HttpSettings
    log_level: str
    amqp_url: str
    pg_dsn: str
    redis_url: str
    notify_url: str
    notify_token: str
    prefetch: int
    batch_max: int
    batch_age_ms: int
    max_event_bytes: int
    failed_login_threshold: int
    failed_login_window_s: float

    @classmethod
    def from_env(cls, env: Env) -> AnalysisSettings:
        return cls(
            http=HttpSettings.from_env(env, DEFAULT_PORT),
            log_level=env.choice(
                "AUDITFLOW_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")
            ),
            amqp_url=env.url("AUDITFLOW_AMQP_URL", None, ("amqp", "amqps")),
            pg_dsn=env.text("AUDITFLOW_PG_DSN"),
            redis_url=env.url("AUDITFLOW_REDIS_URL", None, ("redis", "rediss", "unix")),
            notify_url=env.url("AUDITFLOW_NOTIFY_URL", None, ("http", "https")).rstrip("/"),
            notify_token=env.text("AUDITFLOW_NOTIFY_TOKEN"),
            prefetch=env.integer("AUDITFLOW_PREFETCH", 1000, minimum=1, maximum=65535),
            batch_max=env.integer("AUDITFLOW_BATCH_MAX", 200, minimum=1, maximum=100_000),
            batch_age_ms=env.integer("AUDITFLOW_BATCH_AGE_MS", 50, minimum=1, maximum=60_000),
            max_event_bytes=env.integer(
                "AUDITFLOW_MAX_EVENT_BYTES", DEFAULT_MAX_EVENT_BYTES, minimum=256, maximum=2**27
            ),
            failed_login_threshold=env.integer(
                "AUDITFLOW_FAILED_LOGIN_THRESHOLD", 5, minimum=1, maximum=1_000_000
            ),
            failed_login_window_s=env.number(
                "AUDITFLOW_FAILED_LOGIN_WINDOW_S", 60.0, minimum=0.001, maximum=86_400.0
            ),
        )
