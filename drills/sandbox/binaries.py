"""Where the sandbox's programs live on this machine, each named with its Debian package.

Why a module of its own: finding the binaries is the sandbox's preflight (`platform up` refuses
at once, naming every missing package) and is also what the volume and restore tooling need
(pg_dump, pg_restore, initdb) without building the program table of drills.sandbox.programs.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from drills.errors import MissingDependency

RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
PG_BIN = Path("/usr/lib/postgresql/15/bin")


@dataclass(frozen=True)
class Binaries:
    """Absolute paths of the programs the sandbox runs, each with its Debian package."""

    paths: dict[str, Path]

    REQUIRED = {
        "epmd": ("erlang-base", "epmd"),
        "rabbitmq-server": ("rabbitmq-server", RABBITMQ_SERVER),
        "postgres": ("postgresql-15", str(PG_BIN / "postgres")),
        "initdb": ("postgresql-15", str(PG_BIN / "initdb")),
        "pg_dump": ("postgresql-client-15", str(PG_BIN / "pg_dump")),
        "pg_restore": ("postgresql-client-15", str(PG_BIN / "pg_restore")),
        "redis-server": ("redis-server", "redis-server"),
        "prometheus": ("prometheus", "prometheus"),
        "promtool": ("prometheus", "promtool"),
        "alertmanager": ("prometheus-alertmanager", "prometheus-alertmanager"),
        "node-exporter": ("prometheus-node-exporter", "prometheus-node-exporter"),
        "postgres-exporter": ("prometheus-postgres-exporter", "prometheus-postgres-exporter"),
        "redis-exporter": ("prometheus-redis-exporter", "prometheus-redis-exporter"),
    }

    @classmethod
    def locate(cls) -> Binaries:
        """Find every program or raise naming all missing Debian packages at once."""
        found: dict[str, Path] = {}
        missing: list[str] = []
        for name, (package, where) in cls.REQUIRED.items():
            path = where if where.startswith("/") else shutil.which(where)
            if path and Path(path).exists():
                found[name] = Path(path)
            else:
                missing.append(f"{package} (for {name})")
        if missing:
            packages = sorted({m.split(" ")[0] for m in missing})
            raise MissingDependency(
                "missing Debian packages: "
                + ", ".join(missing)
                + ". Install them with `make setup` or "
                + f"`sudo apt-get install {' '.join(packages)}`."
            )
        return cls(found)

    def __getitem__(self, name: str) -> str:
        return str(self.paths[name])
