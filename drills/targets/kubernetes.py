"""The Kubernetes target: AuditFlow deployed from `manifests/`, disturbed through the API server.

This is the only module that imports the `kubernetes` client, and it does so lazily (inside
`connect`/`_api`) so that `genesis-drill --help` and the local target never pay for it. Every
answer is turned into its JSON form at once (`k8s_objects` reads dicts), and every API failure is
translated here — 403 forbidden, 404 not found, 401, unreachable — into a `TargetError` that says
what was being done, raised `from` the original.

What a fault's verbs mean here:

* kill — delete the component's pod (grace period 0 for KILL, the pod's own for TERM). The
  replacement is paired by its controller's uid (ReplicaSet, StatefulSet), not "the first new pod",
  and its start and readiness times are the server's (`startedAt`, the Ready condition's
  `lastTransitionTime`), not when the harness happened to notice.
* stop / start — scale the workload to 0 and back (a hard stop also deletes the pods with grace
  period 0); the replica count before the stop is kept in an annotation on the workload, so a
  harness that died can still restore it.
* wait_ready — list, then watch (resourceVersion-based) until the paired pod is Ready.

Safety: the namespace is checked against the allow-list before a client exists (`KubeSettings`),
and `describe()` — shown before anything happens — names the kube context and API server.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from drills.errors import InvalidInput, PermanentError, TargetError, TemporaryError
from drills.secret import Secret
from drills.targets import k8s_objects as objs
from drills.targets.base import ComponentState, Endpoints, TargetIdentity
from drills.targets.k8s_settings import KubeSettings
from drills.targets.pg_volume import PgVolume

T = TypeVar("T")
STATE_TIMEOUT_S = 120.0
REQUEST_TIMEOUT = (5.0, 30.0)  # connect, read (seconds) for every non-watch call
WATCH_SLICE_S = 10  # a watch is re-opened at least this often (server-side timeout)
POLL_S = 0.2
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_COMPONENT = "postgres"
NO_CONTEXT = (
    "no current context; choose one with `kubectl config use-context` or GENESIS_K8S_CONTEXT"
)


class KubernetesTarget:
    """A `Target` backed by a Kubernetes namespace, through the official client."""

    name = "kubernetes"

    def __init__(self, settings: KubeSettings, api_client: Any, context_name: str) -> None:
        """Use `connect` in real life; tests pass an ApiClient pointed at a simulated server."""
        from kubernetes import client  # the only import of the client outside `connect`

        self.settings = settings
        self.namespace = settings.namespace
        self.context_name = context_name
        self.api_client = api_client
        self.core = client.CoreV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.batch = client.BatchV1Api(api_client)
        self.kills: dict[str, objs.Kill] = {}
        self._endpoints: Endpoints | None = None

    @classmethod
    def connect(cls, settings: KubeSettings) -> KubernetesTarget:
        """Load credentials: in-cluster service account, else kubeconfig (KUBECONFIG, ~/.kube).

        Every way a kubeconfig can be unusable — missing, not a regular file, not YAML, YAML
        that is not a kubeconfig, no current context — is one InvalidInput naming the file: the
        client's loader raises anything from ConfigException to TypeError on garbage. Parse
        errors are reported by line, never quoted: a kubeconfig holds tokens.
        """
        from kubernetes import client, config
        from kubernetes.config.config_exception import ConfigException

        if settings.in_cluster:
            try:
                configuration = client.Configuration()
                config.load_incluster_config(client_configuration=configuration)
            except ConfigException as exc:
                raise TargetError(f"no usable in-cluster Kubernetes credentials: {exc}") from exc
            return cls(settings, client.ApiClient(configuration), "in-cluster service account")
        files = _kubeconfig_files(settings)
        named = ", ".join(str(f) for f in files)
        for file in files:
            if not file.exists():
                raise InvalidInput(f"kubeconfig {file}: no such file")
            if not file.is_file():
                raise InvalidInput(f"kubeconfig {file}: not a regular file")
        # Named explicitly: the client reads KUBECONFIG once, when it is imported.
        kubeconfig = os.pathsep.join(str(f) for f in files)
        try:
            contexts, current = config.list_kube_config_contexts(config_file=kubeconfig)
            chosen = settings.context or (current or {}).get("name")
            if settings.context and settings.context not in {c["name"] for c in contexts}:
                raise InvalidInput(
                    f"kubeconfig {named}: kube context {settings.context!r} not found; known: "
                    + ", ".join(sorted(c["name"] for c in contexts))
                )
            if not chosen:
                raise InvalidInput(f"kubeconfig {named}: {NO_CONTEXT}")
            api_client = config.new_client_from_config(config_file=kubeconfig, context=chosen)
        except InvalidInput:
            raise
        except ConfigException as exc:
            if "current-context" in str(exc):
                raise InvalidInput(f"kubeconfig {named}: {NO_CONTEXT}") from exc
            raise InvalidInput(f"kubeconfig {named}: unusable: {exc}") from exc
        except Exception as exc:  # the loader's errors on garbage have no common type
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise InvalidInput(
                f"kubeconfig {named}: not a valid kubeconfig file{where} ({type(exc).__name__})"
            ) from exc
        return cls(settings, api_client, str(chosen))

    # --- error translation -----------------------------------------------------------------

    def _api(self, what: str, call: Callable[[], T]) -> T:
        """Run one API call; every failure becomes a TargetError naming `what`."""
        import urllib3.exceptions
        from kubernetes.client.exceptions import ApiException

        try:
            return call()
        except ApiException as exc:
            # Waiting cannot grant a permission or create a missing object: those fail at once;
            # a conflict, a 429 or a server error may pass (drills.retry retries only those).
            status = exc.status or 0
            error = TemporaryError if status in (409, 429) or status >= 500 else PermanentError
            raise error(self._explain(what, exc.status, exc.reason)) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise TemporaryError(
                f"{what}: the Kubernetes API server {self.server} is unreachable "
                f"({type(exc).__name__}); check the kube context {self.context_name!r}"
            ) from exc

    def _explain(self, what: str, status: int | None, reason: str | None) -> str:
        ns = self.namespace
        if status == 403:
            return (
                f"{what}: forbidden (403) in namespace {ns!r} — the identity of context "
                f"{self.context_name!r} lacks the RBAC permission (see the genesis-drill Role "
                "in manifests/)"
            )
        if status == 404:
            return f"{what}: not found (404) in namespace {ns!r} — is AuditFlow deployed there?"
        if status == 401:
            return f"{what}: unauthorized (401) — the credentials of {self.context_name!r} expired?"
        return f"{what}: the Kubernetes API answered {status} {reason or ''}".rstrip()

    @property
    def server(self) -> str:
        return str(getattr(self.api_client.configuration, "host", "?"))

    def _plain(self, model: Any) -> dict[str, Any]:
        value = self.api_client.sanitize_for_serialization(model)
        return value if isinstance(value, dict) else {}

    # --- what is there ------------------------------------------------------------------------

    def identity(self) -> TargetIdentity:
        """The cluster is its API server; the platform is one namespace of it."""
        return TargetIdentity("kubernetes", f"{self.server} namespace {self.namespace}")

    def describe(self) -> str:
        return (
            f"Kubernetes namespace {self.namespace} "
            f"(context {self.context_name}, API server {self.server})"
        )

    def _kind(self, component: str) -> str:
        kind = objs.WORKLOADS.get(component)
        if kind is None:
            raise TargetError(f"no component {component!r} on Kubernetes")
        return kind

    def _pods(self, component: str) -> tuple[list[dict[str, Any]], str | None]:
        self._kind(component)
        answer = self._api(
            f"listing pods of {component}",
            lambda: self.core.list_namespaced_pod(
                self.namespace,
                label_selector=f"{objs.LABEL_NAME}={component}",
                _request_timeout=REQUEST_TIMEOUT,
            ),
        )
        plain = self._plain(answer)
        return list(plain.get("items") or []), (plain.get("metadata") or {}).get("resourceVersion")

    def _workload(self, component: str) -> dict[str, Any]:
        if self._kind(component) == "StatefulSet":
            read = self.apps.read_namespaced_stateful_set
        else:
            read = self.apps.read_namespaced_deployment
        return self._plain(
            self._api(
                f"reading the {self._kind(component)} {component}",
                lambda: read(component, self.namespace, _request_timeout=REQUEST_TIMEOUT),
            )
        )

    def inventory(self, component: str) -> list[str]:
        """What a drill on `component` would touch (read-only; for --dry-run)."""
        workload = self._workload(component)
        spec = workload.get("spec") or {}
        lines = [
            f"kube context: {self.context_name} (API server {self.server})",
            f"namespace: {self.namespace} (allowed: "
            f"{', '.join(sorted(self.settings.allowed_namespaces))})",
            f"{self._kind(component)} {component}: replicas {spec.get('replicas')}",
        ]
        pods, _ = self._pods(component)
        for pod in sorted(pods, key=objs.creation_order):
            m = objs.meta(pod)
            lines.append(
                f"  pod {m.get('name')} uid {m.get('uid')} "
                f"{(pod.get('status') or {}).get('phase')}"
                f"{' Ready' if objs.ready_since(pod) else ' not ready'}"
            )
        for template in spec.get("volumeClaimTemplates") or []:
            lines.append(f"  PVC {objs.meta(template).get('name')}-{component}-0")
        forwards = self.settings.port_forward_commands()
        if forwards:
            lines.append("endpoints expect these port-forwards (or GENESIS_K8S_*_URL overrides):")
            lines.extend(f"  {line}" for line in forwards)
        return lines

    def state(self, component: str) -> ComponentState:
        pods, _ = self._pods(component)
        pod = objs.pick(pods, self.kills.get(component))
        if pod is None:
            return ComponentState(component, False, "", None, False)
        return ComponentState(
            name=component,
            running=objs.running(pod),
            pid_or_uid=str(objs.meta(pod).get("uid")),
            started_at=objs.started_at(pod),
            ready=objs.running(pod) and objs.ready_since(pod) is not None,
        )

    # --- disturbing it --------------------------------------------------------------------------

    def kill(self, component: str, signal_name: str) -> None:
        """Delete the component's pod: grace period 0 for KILL, the pod's own for TERM."""
        grace = {"KILL": 0, "TERM": None}
        if signal_name not in grace:
            raise TargetError(
                f"SIG{signal_name} cannot be sent to a pod: on Kubernetes a kill deletes the pod "
                "(KILL = grace period 0, TERM = graceful)"
            )
        pods, _ = self._pods(component)
        pod = objs.pick(pods, None)
        if pod is None:
            raise TargetError(f"{component} has no live pod in {self.namespace}; nothing to kill")
        m = objs.meta(pod)
        owner = objs.controller_uid(pod)
        if owner is None:
            raise TargetError(f"pod {m.get('name')} has no controller: nothing would replace it")
        name = str(m["name"])
        self._delete_pod(name, grace[signal_name])
        self.kills[component] = objs.Kill(str(m["uid"]), owner, name)

    def _delete_pod(self, name: str, grace: int | None) -> None:
        self._api(
            f"deleting pod {name}",
            lambda: self.core.delete_namespaced_pod(
                name,
                self.namespace,
                grace_period_seconds=grace,
                _request_timeout=REQUEST_TIMEOUT,
            ),
        )

    def _scale(self, component: str, replicas: int) -> None:
        body = {"spec": {"replicas": replicas}}
        if self._kind(component) == "StatefulSet":
            patch = self.apps.patch_namespaced_stateful_set_scale
        else:
            patch = self.apps.patch_namespaced_deployment_scale
        self._api(
            f"scaling {component} to {replicas}",
            lambda: patch(component, self.namespace, body, _request_timeout=REQUEST_TIMEOUT),
        )

    def _annotate(self, component: str, value: str | None) -> None:
        body = {"metadata": {"annotations": {objs.ANNOTATION_REPLICAS: value}}}
        if self._kind(component) == "StatefulSet":
            patch = self.apps.patch_namespaced_stateful_set
        else:
            patch = self.apps.patch_namespaced_deployment
        self._api(
            f"annotating {component}",
            lambda: patch(component, self.namespace, body, _request_timeout=REQUEST_TIMEOUT),
        )

    def stop(self, component: str, graceful: bool = True) -> None:
        """Scale to 0 (remembering the replica count on the workload) and wait for no pods.

        A hard stop (`graceful=False`) scales to 0 first, so the controller does not replace what
        dies, then deletes the pods with grace period 0.
        """
        self._stop(component, abrupt=not graceful)

    def _stop(self, component: str, abrupt: bool) -> None:
        workload = self._workload(component)
        replicas = int((workload.get("spec") or {}).get("replicas") or 0)
        if replicas > 0:
            self._annotate(component, str(replicas))
            self._scale(component, 0)
        deadline = time.monotonic() + STATE_TIMEOUT_S
        forced: set[str] = set()
        while True:
            pods, version = self._pods(component)
            if not pods:
                return
            for pod in pods if abrupt else []:  # no checkpoint, sessions cut: a crash
                uid = str(objs.meta(pod).get("uid"))
                if uid not in forced:  # terminating ones too: grace 0 cuts their grace period
                    forced.add(uid)
                    with contextlib.suppress(TargetError):  # already gone: fine
                        self._delete_pod(str(objs.meta(pod)["name"]), grace=0)
            if time.monotonic() > deadline:
                raise TargetError(f"{component} still has pods {STATE_TIMEOUT_S:.0f} s after 0")
            self._watch_for_change(component, version, deadline)

    def start(self, component: str) -> None:
        """Scale back to the remembered replica count (1 if unknown); a running one is left be."""
        workload = self._workload(component)
        if int((workload.get("spec") or {}).get("replicas") or 0) > 0:
            return
        remembered = (objs.meta(workload).get("annotations") or {}).get(objs.ANNOTATION_REPLICAS)
        replicas = int(remembered) if remembered and str(remembered).isdigit() else 1
        self._scale(component, max(1, replicas))
        self._annotate(component, None)

    def wait_ready(self, component: str, timeout: float) -> float:
        """Block until the (paired) pod is Ready; return the Ready condition's server time."""
        deadline = time.monotonic() + timeout
        while True:
            pods, version = self._pods(component)
            pod = objs.pick(pods, self.kills.get(component))
            since = objs.ready_since(pod) if pod is not None and objs.running(pod) else None
            if since is not None:
                return since
            if time.monotonic() >= deadline:
                raise TargetError(f"{component} did not become ready within {timeout:.0f} s")
            self._watch_for_change(component, version, deadline)

    def _watch_for_change(self, component: str, version: str | None, deadline: float) -> None:
        """Return at the next pod event after `version` (or when the watch slice ends)."""
        from kubernetes import watch

        remaining = max(1, min(WATCH_SLICE_S, int(deadline - time.monotonic()) + 1))
        watcher = watch.Watch()

        def first_event() -> None:
            events = watcher.stream(
                self.core.list_namespaced_pod,
                self.namespace,
                label_selector=f"{objs.LABEL_NAME}={component}",
                resource_version=version,
                timeout_seconds=remaining,
                _request_timeout=(REQUEST_TIMEOUT[0], remaining + 5),
            )
            try:
                next(events, None)
            finally:
                watcher.stop()
                events.close()  # closes the streamed response now, not at garbage collection

        self._api(f"watching pods of {component}", first_event)

    # --- what the faults reach ------------------------------------------------------------------

    def _secret(self) -> dict[str, str]:
        wanted = ("admin-token", "rabbitmq-password", "postgres-password", "postgres-app-password")
        overrides = {key: value.reveal() for key, value in self.settings.secrets.items()}
        if all(key in overrides for key in wanted):
            return overrides
        name = self.settings.secret_name
        secret = self._plain(
            self._api(
                f"reading Secret {name}",
                lambda: self.core.read_namespaced_secret(
                    name, self.namespace, _request_timeout=REQUEST_TIMEOUT
                ),
            )
        )
        data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
        data.update(overrides)
        missing = [key for key in wanted if key not in data]
        if missing:
            raise TargetError(f"Secret {name} lacks the keys {', '.join(missing)}")
        return data

    def endpoints(self) -> Endpoints:
        """URLs from env or defaults (in-cluster DNS or port-forwards); secrets from the API."""
        if self._endpoints is not None:
            return self._endpoints
        s = self.settings
        secret = self._secret()
        amqp_host, amqp_port = s.host_port("rabbitmq")
        pg_host, pg_port = s.host_port("postgres")
        pg = f"host={pg_host} port={pg_port} connect_timeout=3"
        self._endpoints = Endpoints(
            prometheus_url=s.base_url("prometheus"),
            alertmanager_url=s.base_url("alertmanager"),
            generator_url=s.base_url("audit-event-generator"),
            generator_token=Secret(secret["admin-token"]),
            notification_url=s.base_url("notification-service"),
            amqp_url=s.secret_urls.get("rabbitmq")
            or Secret(
                f"amqp://auditflow:{secret['rabbitmq-password']}@{amqp_host}:{amqp_port}/%2F"
            ),
            pg_dsn=s.secret_urls.get("postgres")
            or Secret(
                f"{pg} user=auditflow dbname=auditflow password={secret['postgres-app-password']}"
            ),
            pg_admin_dsn=s.secret_urls.get("postgres-admin")
            or Secret(f"{pg} user=postgres dbname=postgres password={secret['postgres-password']}"),
        )
        return self._endpoints

    def publishes_malformed_in_cluster(self) -> bool:
        return self.settings.malformed_via == "job"

    def publish_malformed(
        self, nonce: str, count: int, seed: int, interval_s: float, timeout: float = 600.0
    ) -> None:
        """Create the publisher Job (see `k8s_objects.malformed_job`) and wait for its outcome."""
        body = objs.malformed_job(
            namespace=self.namespace,
            image=self.settings.harness_image,
            secret_name=self.settings.secret_name,
            nonce=nonce,
            count=count,
            seed=seed,
            interval_s=interval_s,
        )
        name = str(body["metadata"]["name"])
        self._api(
            f"creating Job {name}",
            lambda: self.batch.create_namespaced_job(
                self.namespace, body, _request_timeout=REQUEST_TIMEOUT
            ),
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self._plain(
                self._api(
                    f"reading Job {name}",
                    lambda: self.batch.read_namespaced_job(
                        name, self.namespace, _request_timeout=REQUEST_TIMEOUT
                    ),
                )
            )
            outcome = objs.job_outcome(job)
            if outcome == "succeeded":
                return
            if outcome == "failed":
                raise TargetError(
                    f"Job {name} failed: `kubectl -n {self.namespace} logs job/{name}`"
                )
            time.sleep(POLL_S)
        raise TargetError(f"Job {name} did not finish within {timeout:.0f} s")

    def pg_volume(self) -> PgVolume:
        """PostgreSQL's StatefulSet and PVC, for pvc-wipe-restore (`HasPgVolume`)."""
        return KubernetesVolume(self)


class KubernetesVolume:
    """`PgVolume` on Kubernetes: the PostgreSQL StatefulSet and the PVC of its pod 0.

    halt = scale to 0 and delete the pod with grace period 0 (a crash: no checkpoint); wipe =
    delete the PVC; reprovision = create it again from the StatefulSet's volumeClaimTemplate (the
    image runs initdb on the empty volume when it starts); start = scale back. The dump and the
    restore run from the harness over the admin DSN (in the cluster: the game-day Job; outside:
    the port-forward), with the same `pg_dump`/`pg_restore` checks as on the local sandbox.
    """

    def __init__(self, target: KubernetesTarget) -> None:
        self.target = target
        self.pg_dump = _pg_binary("pg_dump")
        self.pg_restore = _pg_binary("pg_restore")

    @property
    def pvc_name(self) -> str:
        return str(objs.pvc_from_template(self.target._workload(PG_COMPONENT))["metadata"]["name"])

    def describe(self) -> str:
        return f"PVC {self.pvc_name} of StatefulSet {PG_COMPONENT} on {self.target.describe()}"

    def contains(self, path: Path) -> bool:
        return False  # the run directory is on the harness's filesystem, never on the PVC

    def temp_files(self) -> list[Path]:
        return []  # the image runs initdb inside the pod: nothing is written on the harness

    def _read_pvc(self) -> dict[str, Any] | None:
        from kubernetes.client.exceptions import ApiException

        name, target = self.pvc_name, self.target
        try:
            answer = target.core.read_namespaced_persistent_volume_claim(
                name, target.namespace, _request_timeout=REQUEST_TIMEOUT
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise TargetError(
                target._explain(f"reading PVC {name}", exc.status, exc.reason)
            ) from exc
        return target._plain(answer)

    def initialised(self) -> bool:
        pvc = self._read_pvc()
        return pvc is not None and not objs.terminating(pvc)

    def running(self) -> bool:
        return self.target.state(PG_COMPONENT).running

    def halt(self) -> None:
        self.target._stop(PG_COMPONENT, abrupt=True)

    def wipe(self) -> int:
        if self.running():
            raise TargetError("refusing to delete the PVC of a running postgres")
        name, target = self.pvc_name, self.target
        if self._read_pvc() is None:
            return 0
        target._api(
            f"deleting PVC {name}",
            lambda: target.core.delete_namespaced_persistent_volume_claim(
                name, target.namespace, _request_timeout=REQUEST_TIMEOUT
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
        target = self.target
        body = objs.pvc_from_template(target._workload(PG_COMPONENT))
        body["metadata"]["namespace"] = target.namespace
        target._api(
            f"creating PVC {body['metadata']['name']}",
            lambda: target.core.create_namespaced_persistent_volume_claim(
                target.namespace, body, _request_timeout=REQUEST_TIMEOUT
            ),
        )
        return True

    def start(self) -> None:
        self.target.start(PG_COMPONENT)

    def wait_accepting(self, timeout: float) -> float:
        # The pod's readiness probe is pg_isready: Ready means accepting connections.
        return self.target.wait_ready(PG_COMPONENT, timeout)

    def bootstrap(self) -> None:
        """Set the application role's password and create its database (idempotent), over SQL."""
        endpoints = self.target.endpoints()
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


def _kubeconfig_files(settings: KubeSettings) -> list[Path]:
    """The files the client reads: GENESIS_K8S_KUBECONFIG, else KUBECONFIG (a list), else ~/.kube"""
    if settings.kubeconfig is not None:
        return [settings.kubeconfig]
    raw = os.environ.get("KUBECONFIG") or "~/.kube/config"
    return [Path(part).expanduser() for part in raw.split(os.pathsep) if part]


def _pg_binary(name: str) -> str:
    found = shutil.which(name)
    return found if found else str(PG_BIN / name)
