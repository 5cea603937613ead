"""Generator configuration, read once from `AUDITFLOW_*` variables (bad values exit 2)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from auditflow.config import ConfigError, Env, HttpSettings
from auditflow.generator import DEFAULT_PORT

MAX_RATE = 1_000_000.0
# The bounded local buffer (`generator_buffer_capacity`); post-mortems judge backlogs by it.
DEFAULT_BUFFER_MAX = 100_000


@dataclass(frozen=True)
class GeneratorSettings:
    """Everything the generator needs; `admin_token=None` means admin writes are refused."""

    http: HttpSettings
    log_level: str
    amqp_url: str
    rate: float
    buffer_max: int
    admin_token: str | None
    run_id: str

    @classmethod
    def from_env(cls, env: Env) -> GeneratorSettings:
        token = env.environ.get("AUDITFLOW_ADMIN_TOKEN") or None
        return cls(
            http=HttpSettings.from_env(env, DEFAULT_PORT),
            log_level=env.choice(
                "AUDITFLOW_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")
            ),
            amqp_url=env.url("AUDITFLOW_AMQP_URL", None, ("amqp", "amqps")),
            rate=env.number("AUDITFLOW_RATE", 20.0, minimum=0.0, maximum=MAX_RATE),
            buffer_max=env.integer(
                "AUDITFLOW_BUFFER_MAX", DEFAULT_BUFFER_MAX, minimum=1, maximum=10_000_000
            ),
            admin_token=token,
            run_id=_run_id(env),
        )


def _run_id(env: Env) -> str:
    value = env.text("AUDITFLOW_RUN_ID", uuid.uuid4().hex[:12])
    if len(value) > 64 or not value.isprintable():
        raise ConfigError("AUDITFLOW_RUN_ID", value, "must be printable and at most 64 chars")
    return value
