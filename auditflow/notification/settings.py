"""notification-service configuration (see docs/auditflow-contract.md)."""

from __future__ import annotations

from dataclasses import dataclass

from auditflow.config import Env, HttpSettings
from auditflow.notification import DEFAULT_PORT
from auditflow.notification.catchup import CatchUpSettings
from auditflow.notification.watchdog import WatchdogSettings

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@dataclass(frozen=True)
class NotificationSettings:
    """Everything the notification service reads from the environment."""

    http: HttpSettings
    db_path: str
    token: str
    log_level: str
    catchup: CatchUpSettings
    watchdog: WatchdogSettings

    @classmethod
    def from_env(cls, env: Env) -> NotificationSettings:
        return cls(
            http=HttpSettings.from_env(env, DEFAULT_PORT),
            db_path=env.text("AUDITFLOW_NOTIFY_DB"),
            token=env.text("AUDITFLOW_NOTIFY_TOKEN"),
            log_level=env.choice("AUDITFLOW_LOG_LEVEL", "INFO", LOG_LEVELS),
            catchup=CatchUpSettings.from_env(env),
            watchdog=WatchdogSettings.from_env(env),
        )

    def __repr__(self) -> str:  # never print the token
        return (
            f"NotificationSettings(http={self.http!r}, db_path={self.db_path!r}, "
            f"token='***', log_level={self.log_level!r}, catchup={self.catchup!r}, "
            f"watchdog={self.watchdog!r})"
        )
