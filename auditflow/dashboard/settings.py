"""event-audit-dashboard configuration (see docs/auditflow-contract.md)."""

from __future__ import annotations

from dataclasses import dataclass

from auditflow.config import Env, HttpSettings, redact_url
from auditflow.dashboard import DEFAULT_PORT

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

# How long the page waits for any one dependency. Not configurable on purpose: the page must
# answer quickly while a dependency is down, and that is what the drills check.
DEPENDENCY_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class DashboardSettings:
    """Everything the dashboard reads from the environment."""

    http: HttpSettings
    pg_dsn: str
    redis_url: str
    prometheus_url: str
    log_level: str
    timeout: float = DEPENDENCY_TIMEOUT_S

    @classmethod
    def from_env(cls, env: Env) -> DashboardSettings:
        return cls(
            http=HttpSettings.from_env(env, DEFAULT_PORT),
            pg_dsn=env.text("AUDITFLOW_PG_DSN"),
            redis_url=env.url("AUDITFLOW_REDIS_URL", None, ("redis", "rediss")),
            prometheus_url=env.url("AUDITFLOW_PROMETHEUS_URL", None, ("http", "https")),
            log_level=env.choice("AUDITFLOW_LOG_LEVEL", "INFO", LOG_LEVELS),
        )

    def __repr__(self) -> str:  # the DSN and URLs may carry passwords
        return (
            f"DashboardSettings(http={self.http!r}, pg_dsn='***', "
            f"redis_url={redact_url(self.redis_url)!r}, "
            f"prometheus_url={redact_url(self.prometheus_url)!r}, log_level={self.log_level!r})"
        )
