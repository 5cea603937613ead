"""The sandbox's credentials: generated once per state directory, stored mode 0600, never printed.

Each value is a `drills.secret.Secret` (re-exported here, where it used to live), so `repr()`,
`str()`, f-strings and log lines show `***`; code that really needs the value (a config file
written 0600, a connection string handed to a client) calls `reveal()`.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, fields
from pathlib import Path

from drills.errors import InvalidInput
from drills.secret import Secret

__all__ = ["SandboxSecrets", "Secret"]


# Fields added after the first release: generated when an existing secrets.json lacks them.
NEWER_FIELDS = frozenset({"redis", "alertmanager", "netfault"})
ALERTMANAGER_USER = "genesis"


@dataclass(frozen=True)
class SandboxSecrets:
    """Every credential of one sandbox."""

    postgres_superuser: Secret
    postgres_app: Secret
    rabbitmq: Secret
    supervisord: Secret
    notify_token: Secret
    admin_token: Secret
    # Redis's requirepass (added later: an older secrets.json gets one generated and saved).
    redis: Secret
    # Alertmanager's basic-auth password (user ALERTMANAGER_USER), likewise added later.
    alertmanager: Secret
    # The fault proxy's control token (drills.netfault), likewise added later.
    netfault: Secret

    @classmethod
    def generate(cls) -> SandboxSecrets:
        # Hex only: safe unquoted in supervisord, rabbitmq.conf, URLs and conninfo strings.
        return cls(**{f.name: Secret(secrets.token_hex(16)) for f in fields(cls)})

    @classmethod
    def load_or_create(cls, path: Path) -> SandboxSecrets:
        existing = cls.load(path)
        if existing is not None and existing._stored(path):
            return existing
        created = existing or cls.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if existing else os.O_EXCL)
        fd = os.open(path, flags, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({f.name: getattr(created, f.name).reveal() for f in fields(cls)}, handle)
        return created

    def _stored(self, path: Path) -> bool:
        """True when the file holds every field (an older one lacks those added since)."""
        raw = json.loads(path.read_text())
        return all(f.name in raw for f in fields(self))

    @classmethod
    def load(cls, path: Path) -> SandboxSecrets | None:
        """The stored secrets, or None when there are none yet (read-only: creates nothing)."""
        if path.exists():
            try:
                raw = json.loads(path.read_text())
                return cls(
                    **{
                        f.name: Secret(str(raw[f.name]))
                        if f.name in raw or f.name not in NEWER_FIELDS
                        else Secret(secrets.token_hex(16))
                        for f in fields(cls)
                    }
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise InvalidInput(
                    f"{path}: unreadable sandbox secrets ({type(exc).__name__}: {exc}); "
                    "remove the state directory with `genesis-drill platform down --purge`"
                ) from exc
        return None
