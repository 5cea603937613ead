"""`PgVolume` on Kubernetes: the PostgreSQL StatefulSet and the PVC of its pod 0.

halt = scale to 0 and delete the pod with grace period 0 (a crash: no checkpoint); wipe = delete
the PVC; reprovision = create it again from the StatefulSet's volumeClaimTemplate (the image runs
initdb on the empty volume when it starts); start = scale back. The dump and the restore run from
the harness over the admin DSN (in the cluster: the game-day Job; outside: the port-forward), with
the same `pg_dump`/`pg_restore` checks as on the local sandbox.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from drills.errors import TargetError
from drills.targets import k8s_objects as objs
from drills.targets.base import Endpoints
from drills.targets.kubernetes.api import REQUEST_TIMEOUT, KubeApi
from drills.targets.kubernetes.workloads import STATE_TIMEOUT_S, Workloads

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_COMPONENT = "postgres"
POLL_S = 0.2


class KubernetesVolume:
    """`PgVolume` over the target's API, workloads and endpoints (no private of the target)."""

    def __init__(
        self,
        api: KubeApi,
        workloads: Workloads,
        endpoints: Callable[[], Endpoints],
        where: str,
    ) -> None:
        self.api = api
        self.workloads = workloads
        self.endpoints = endpoints
        self.where = where  # the target's describe()
        self.pg_dump = _pg_binary("pg_dump")
        self.pg_restore = _pg_binary("pg_restore")

    @property
    def pvc_name(self) -> str:
        template = objs.pvc_from_template(self.workloads.workload(PG_COMPONENT))
        return str(template["metadata"]["name"])

    def describe(self) -> str:
        return f"PVC {self.pvc_name} of StatefulSet {PG_COMPONENT} on {self.where}"

    def contains(self, path: Path) -> bool:
        return False  # the run directory is on the harness's filesystem, never on the PVC

    def temp_files(self) -> list[Path]:
        return []  # the image runs initdb inside the pod: nothing is written on the harness

    def _read_pvc(self) -> dict[str, Any] | None:
        """The PVC, or None when it does not exist (every other failure is translated)."""
        name, api = self.pvc_name, self.api
        answer = api.call_or_none(
            f"reading PVC {name}",
            lambda: api.core.read_namespaced_persistent_volume_claim(
                name, api.namespace, _request_timeout=REQUEST_TIMEOUT
            ),
        )
        return None if answer is None else api.plain(answer)

    def initialised(self) -> bool:
        pvc = self._read_pvc()
        return pvc is not None and not objs.terminating(pvc)

    def running(self) -> bool:
        return self.workloads.state(PG_COMPONENT).running

    def halt(self) -> None:
        self.workloads.stop(PG_COMPONENT, abrupt=True)

    def wipe(self) -> int:
        if self.running():
            raise TargetError("refusing to delete the PVC of a running postgres")
        name, api = self.pvc_name, self.api
        if self._read_pvc() is None:
            return 0
        api.call(
            f"deleting PVC {name}",
            lambda: api.core.delete_namespaced_persistent_volume_claim(
                name, api.namespace, _request_timeout=REQUEST_TIMEOUT
            ),
        )
        deadline = time.monotonic() + STATE_TIMEOUT_S
        while self._read_pvc() is not None:
            if time.monotonic() > deadline:
                raise TargetError(f"PVC {name} still exists {STATE_TIMEOUT_S:.0f} s after delete")
            time.sleep(POLL_S)
        return 1

    def reprovision(self) -> bool:
        if self._read_pvc() is not None:
            return False
        api = self.api
        body = objs.pvc_from_template(self.workloads.workload(PG_COMPONENT))
        body["metadata"]["namespace"] = api.namespace
        api.call(
            f"creating PVC {body['metadata']['name']}",
            lambda: api.core.create_namespaced_persistent_volume_claim(
                api.namespace, body, _request_timeout=REQUEST_TIMEOUT
            ),
        )
        return True

    def start(self) -> None:
        self.workloads.start(PG_COMPONENT)

    def wait_accepting(self, timeout: float) -> float:
        # The pod's readiness probe is pg_isready: Ready means accepting connections.
        return self.workloads.wait_ready(PG_COMPONENT, timeout)

    def bootstrap(self) -> None:
        """Set the application role's password and create its database (idempotent), over SQL."""
        endpoints = self.endpoints()
        password = str(conninfo_to_dict(endpoints.pg_dsn.reveal()).get("password") or "")
        try:
            with psycopg.connect(endpoints.pg_admin_dsn.reveal(), autocommit=True) as conn:
                role = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'auditflow'")
                statement = "ALTER ROLE auditflow PASSWORD {}"
                if role.fetchone() is None:
                    statement = "CREATE ROLE auditflow LOGIN PASSWORD {}"
                conn.execute(sql.SQL(statement).format(sql.Literal(password)))
                db = conn.execute("SELECT 1 FROM pg_database WHERE datname = 'auditflow'")
                if db.fetchone() is None:
                    conn.execute("CREATE DATABASE auditflow OWNER auditflow")
        except psycopg.Error as exc:
            raise TargetError(f"postgres: bootstrap of role/database failed: {exc}") from exc


def _pg_binary(name: str) -> str:
    found = shutil.which(name)
    return found if found else str(PG_BIN / name)
