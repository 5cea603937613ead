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


@dataclass(frozen=True)
class SandboxSecrets:
    """Every credential of one sandbox."""

    postgres_superuser: Secret
    postgres_app: Secret
    rabbitmq: Secret
    supervisord: Secret
    notify_token: Secret
    admin_token: Secret

    @classmethod
    def generate(cls) -> SandboxSecrets:
        # Hex only: safe unquoted in supervisord, rabbitmq.conf, URLs and conninfo strings.
        return cls(**{f.name: Secret(secrets.token_hex(16)) for f in fields(cls)})

    @classmethod
    def load_or_create(cls, path: Path) -> SandboxSecrets:
        if path.exists():
            try:
                raw = json.loads(path.read_text())
                return cls(**{f.name: Secret(str(raw[f.name])) for f in fields(cls)})
            except (ValueError, KeyError, TypeError) as exc:
                raise InvalidInput(
                    f"{path}: unreadable sandbox secrets ({type(exc).__name__}: {exc}); "
                    "remove the state directory with `genesis-drill platform down --purge`"
                ) from exc
        created = cls.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({f.name: getattr(created, f.name).reveal() for f in fields(cls)}, handle)
        return created
