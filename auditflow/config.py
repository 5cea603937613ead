"""Configuration from the environment, with defaults and errors that name the variable.

Every AuditFlow service is configured only through `AUDITFLOW_*` environment variables (the same
way on a laptop, under supervisord and in a Kubernetes pod). A bad value stops the service at start
with a one-line message naming the variable and the value, and exit code 2 — never a traceback
half-way through a batch.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

EXIT_CONFIG_ERROR = 2


class ConfigError(ValueError):
    """A configuration variable is missing or holds a value the service cannot use."""

    def __init__(self, name: str, value: str | None, why: str) -> None:
        self.name = name
        self.value = value
        self.why = why
        shown = "<unset>" if value is None else repr(value)
        super().__init__(f"{name}={shown}: {why}")


@dataclass(frozen=True)
class Env:
    """A typed view over an environment mapping; each getter names the variable on error."""

    environ: Mapping[str, str]

    @classmethod
    def current(cls) -> Env:
        return cls(dict(os.environ))

    def text(self, name: str, default: str | None = None) -> str:
        value = self.environ.get(name)
        if value is None or value == "":
            if default is None:
                raise ConfigError(name, value, "is required")
            return default
        return value

    def integer(
        self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        raw = self.environ.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(name, raw, "must be an integer") from None
        _check_range(name, raw, value, minimum, maximum)
        return value

    def number(
        self,
        name: str,
        default: float,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> float:
        raw = self.environ.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(name, raw, "must be a number") from None
        if math.isnan(value):
            raise ConfigError(name, raw, "must be a number")
        _check_range(name, raw, value, minimum, maximum)
        return value

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.text(name, default)
        if value not in choices:
            raise ConfigError(name, value, f"must be one of {', '.join(choices)}")
        return value

    def url(self, name: str, default: str | None, schemes: tuple[str, ...]) -> str:
        value = self.text(name, default)
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.hostname:
            # Never echo a URL that may carry a password: show it redacted.
            raise ConfigError(
                name, redact_url(value), f"must be a {'/'.join(schemes)} URL with a host"
            )
        return value


def _check_range(
    name: str, raw: str, value: float, minimum: float | None, maximum: float | None
) -> None:
    if minimum is not None and value < minimum:
        raise ConfigError(name, raw, f"must be >= {minimum}")
    if maximum is not None and value > maximum:
        raise ConfigError(name, raw, f"must be <= {maximum}")


def redact_url(url: str) -> str:
    """Return `url` with any password replaced, so it can be logged."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.hostname or ""
    if parts.username:
        netloc = f"{parts.username}:***@{netloc}"
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def fail(error: ConfigError, service: str) -> None:
    """Print a configuration error the way every service does, and exit with code 2."""
    print(f"{service}: configuration error: {error}", file=sys.stderr)
    raise SystemExit(EXIT_CONFIG_ERROR)


@dataclass(frozen=True)
class HttpSettings:
    """Where a service's HTTP server (API, /metrics, /healthz) listens."""

    host: str
    port: int

    @classmethod
    def from_env(cls, env: Env, default_port: int) -> HttpSettings:
        return cls(
            host=env.text("AUDITFLOW_HTTP_HOST", "127.0.0.1"),
            port=env.integer("AUDITFLOW_HTTP_PORT", default_port, minimum=1, maximum=65535),
        )
