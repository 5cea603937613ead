"""A SIMULATED Kubernetes API server, for testing the Kubernetes target offline.

This is not Kubernetes. It is a small HTTP server on 127.0.0.1 that implements just the API
semantics `drills.targets.kubernetes` relies on, so the real `kubernetes` Python client can be
pointed at it:

* pods: list (with `labelSelector`), get, delete (grace period 0 removes at once, otherwise the
  pod is marked terminating first); a pod owned by a ReplicaSet or StatefulSet comes back after a
  delay with a new uid (a new name for a ReplicaSet), Running but not Ready, and turns Ready a
  little later — the Ready condition's `lastTransitionTime` is set by this server's clock (which
  can be skewed, to prove the harness uses server time); a StatefulSet pod whose PVC is missing
  stays Pending;
* StatefulSets and Deployments: get, merge-patch (annotations), the `scale` subresource (get,
  patch), which creates or removes pods; a Deployment also takes a JSON patch, and a change of its
  pod template makes a new revision, one ReplicaSet each (`simulated_rollout`); ReplicaSets: list;
  a pod whose template sets an env pair in `never_ready_env` never turns Ready (a crash loop);
* PersistentVolumeClaims: get, delete, create; Secrets: get; Jobs: create, get (they complete
  after a delay);
* pod logs: `pods/<name>/log` answers the lines a test put in `pod_logs[name]` as text, with
  `sinceSeconds` (by this server's clock), `timestamps` (the RFC 3339 prefix) and `limitBytes`;
* watch streams: `?watch=true` answers chunked JSON lines (ADDED/MODIFIED/DELETED), replaying
  events after `resourceVersion` or synthetic ADDED events without one, until `timeoutSeconds`;
* Chaos Mesh (`simulated_chaos`): discovery of chaos-mesh.org/v1alpha1 and namespaced
  networkchaos create/get/list/delete while `chaos_mesh` is True (404 otherwise), and a
  controller writing the injected and, after the object's duration, the recovered status;
* 403 Forbidden for namespaces outside `permitted`, 404 NotFound for missing objects, and any
  status a test sets in `failing` (resource → code, e.g. {"persistentvolumeclaims": 503}) for
  every request on that resource.

Every mutating request is recorded in `mutations`, so tests can prove what was (not) touched.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.k8s import simulated_chaos as chaos
from tests.k8s import simulated_rollout as rollout

Obj = dict[str, Any]

ROUTES = [
    (
        re.compile(
            r"^/api/v1/namespaces/(?P<ns>[^/]+)/(?P<res>pods|persistentvolumeclaims|secrets)"
            r"(?:/(?P<name>[^/]+))?$"
        ),
        "v1",
    ),
    (
        re.compile(
            r"^/apis/apps/v1/namespaces/(?P<ns>[^/]+)/(?P<res>statefulsets|deployments|replicasets)"
            r"(?:/(?P<name>[^/]+)(?P<sub>/scale)?)?$"
        ),
        "apps/v1",
    ),
    (
        re.compile(r"^/apis/batch/v1/namespaces/(?P<ns>[^/]+)/(?P<res>jobs)(?:/(?P<name>[^/]+))?$"),
        "batch/v1",
    ),
    chaos.ROUTE,
]
KINDS = {
    **chaos.KINDS,
    "pods": "Pod",
    "persistentvolumeclaims": "PersistentVolumeClaim",
    "secrets": "Secret",
    "statefulsets": "StatefulSet",
    "deployments": "Deployment",
    "replicasets": "ReplicaSet",
    "jobs": "Job",
}
LABEL = "app.kubernetes.io/name"
POD_LOG = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/pods/(?P<name>[^/]+)/log$")


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (null deletes a key)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


@dataclass
class Mutation:
    method: str
    path: str
    body: Any
    query: Mapping[str, str] = field(default_factory=dict)


@dataclass
class SimulatedCluster:
    """The state behind the simulated API server (one namespace is enough for the target)."""

    permitted: frozenset[str] = frozenset({"auditflow-platform"})
    create_delay_s: float = 0.15
    ready_delay_s: float = 0.2
    clock_skew_s: float = 0.0
    job_delay_s: float = 0.2
    job_fails: bool = False
    failing: dict[str, int] = field(default_factory=dict)  # resource → status answered
    # (name, value) of a container env entry that keeps a pod from ever turning Ready
    never_ready_env: tuple[str, str] | None = None
    # pod name → (unix seconds, raw line) served by `pods/<name>/log`
    pod_logs: dict[str, list[tuple[float, bytes]]] = field(default_factory=dict)
    chaos_mesh: bool = True  # the Chaos Mesh CRDs are installed
    chaos_inject_delay_s: float | None = 0.1  # None: the test writes the controller's status
    objects: dict[tuple[str, str, str], Obj] = field(default_factory=dict)
    mutations: list[Mutation] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)  # all of them
    _rv: Iterator[int] = field(default_factory=lambda: itertools.count(100))
    _events: list[tuple[int, str, str, str, Obj]] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _timers: list[threading.Timer] = field(default_factory=list)
    _closed: bool = False

    # --- clock and bookkeeping ------------------------------------------------------------------

    def now(self) -> str:
        """The server's clock (RFC 3339, whole seconds like a real API server), with skew."""
        moment = datetime.fromtimestamp(time.time() + self.clock_skew_s, UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    def _store(self, kind: str, ns: str, obj: Obj, event: str) -> Obj:
        """Save under the lock; bumps resourceVersion and wakes watchers."""
        rv = next(self._rv)
        obj["metadata"]["resourceVersion"] = str(rv)
        name = obj["metadata"]["name"]
        if event == "DELETED":
            self.objects.pop((kind, ns, name), None)
        else:
            self.objects[(kind, ns, name)] = obj
        self._events.append((rv, kind, ns, event, copy.deepcopy(obj)))
        self._cond.notify_all()
        return obj

    def _later(self, delay: float, action: Any) -> None:
        def run() -> None:
            with self._cond:
                if not self._closed:
                    action()

        timer = threading.Timer(delay, run)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for timer in self._timers:
            timer.cancel()

    def get(self, kind: str, ns: str, name: str) -> Obj | None:
        with self._cond:
            found = self.objects.get((kind, ns, name))
            return copy.deepcopy(found) if found else None

    def live_pods(self, component: str, ns: str = "auditflow-platform") -> list[Obj]:
        with self._cond:
            return [
                copy.deepcopy(o)
                for (k, n, _), o in self.objects.items()
                if k == "Pod" and n == ns and o["metadata"]["labels"].get(LABEL) == component
            ]

    def set_chaos_status(self, name: str, status: Obj, ns: str = "auditflow-platform") -> None:
        """Write a NetworkChaos's status as the Chaos Mesh controller would."""
        with self._cond:
            obj = copy.deepcopy(self.objects[("NetworkChaos", ns, name)])
            obj["status"] = copy.deepcopy(status)
            self._store("NetworkChaos", ns, obj, "MODIFIED")

    def chaos_pods(self, obj: Obj) -> list[str]:
        """`ns/name` of the pods a NetworkChaos selects (source and target), lock held."""
        spec = obj["spec"]
        selectors = [spec["selector"], (spec.get("target") or {}).get("selector") or {}]
        found = []
        for selector in selectors:
            labels = selector.get("labelSelectors") or {}
            for (k, n, name), pod in sorted(self.objects.items()):
                pod_labels = pod["metadata"].get("labels") or {}
                if (
                    k == "Pod"
                    and n in (selector.get("namespaces") or [])
                    and labels
                    and all(pod_labels.get(key) == value for key, value in labels.items())
                ):
                    found.append(f"{n}/{name}")
        return found

    def _run_chaos(self, ns: str, name: str) -> None:
        """The simulated Chaos Mesh controller: injected soon, recovered after `duration`."""
        uid = self.objects[("NetworkChaos", ns, name)]["metadata"]["uid"]

        def write(make: Any) -> None:
            current = self.objects.get(("NetworkChaos", ns, name))
            if current is None or current["metadata"]["uid"] != uid:
                return  # deleted (or replaced) meanwhile
            current = copy.deepcopy(current)
            current["status"] = make(self.chaos_pods(current))
            self._store("NetworkChaos", ns, current, "MODIFIED")

        if self.chaos_inject_delay_s is None:
            return
        self._later(self.chaos_inject_delay_s, lambda: write(chaos.injected_status))
        duration = chaos.duration_s(self.objects[("NetworkChaos", ns, name)]["spec"])
        if duration is not None:
            self._later(duration, lambda: write(chaos.recovered_status))

    # --- seeding --------------------------------------------------------------------------------

    def _meta(self, name: str, ns: str, labels: Mapping[str, str] | None = None) -> Obj:
        return {
            "name": name,
            "namespace": ns,
            "uid": str(uuid.uuid4()),
            "creationTimestamp": self.now(),
            "labels": dict(labels or {}),
        }

    def _template(self, name: str) -> Obj:
        return {
            "metadata": {"labels": {LABEL: name}},
            "spec": {"containers": [{"name": name, "image": f"example/{name}:1"}]},
        }

    def add_deployment(self, name: str, replicas: int = 1, ns: str = "auditflow-platform") -> None:
        with self._cond:
            deployment: Obj = {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": self._meta(name, ns, {LABEL: name}),
                "spec": {
                    "replicas": replicas,
                    "selector": {"matchLabels": {LABEL: name}},
                    "template": self._template(name),
                },
            }
            deployment["metadata"]["generation"] = 1
            deployment["metadata"]["annotations"] = {rollout.REVISION: "1"}
            deployment["status"] = {"observedGeneration": 1}
            self._store("Deployment", ns, deployment, "ADDED")
            self._new_replicaset(ns, deployment, f"{name}-5d8f7c", 1)
            for _ in range(replicas):
                self._create_pod("Deployment", ns, name, ready_now=True)

    def _new_replicaset(self, ns: str, deployment: Obj, rs_name: str, revision: int) -> Obj:
        name = deployment["metadata"]["name"]
        template = copy.deepcopy(deployment["spec"]["template"])
        digest = rollout.template_hash(template)
        template["metadata"].setdefault("labels", {})[rollout.HASH] = digest
        rs_meta = self._meta(rs_name, ns, {LABEL: name})
        rs_meta["ownerReferences"] = [self._owner(deployment)]
        rs_meta["annotations"] = {rollout.REVISION: str(revision)}
        body = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": rs_meta}
        body["spec"] = {
            "replicas": deployment["spec"]["replicas"],
            "selector": {"matchLabels": {LABEL: name, rollout.HASH: digest}},
            "template": template,
        }
        return self._store("ReplicaSet", ns, body, "ADDED")

    def _replicasets_of(self, ns: str, name: str) -> list[Obj]:
        return [
            o
            for (k, n, _), o in self.objects.items()
            if k == "ReplicaSet" and n == ns and o["metadata"]["labels"].get(LABEL) == name
        ]

    def _roll(self, ns: str, before: Obj, after: Obj) -> Obj:
        """The Deployment controller: a changed pod template is a new (or reused) revision."""
        if rollout.bare(before["spec"]["template"]) == rollout.bare(after["spec"]["template"]):
            return after
        name = after["metadata"]["name"]
        reuse, revision = rollout.choose_replicaset(
            self._replicasets_of(ns, name), after["spec"]["template"]
        )
        if reuse is None:
            chosen = self._new_replicaset(ns, after, f"{name}-{uuid.uuid4().hex[:6]}", revision)
        else:
            stamped = rollout.stamp_revision(reuse, revision)
            chosen = self._store("ReplicaSet", ns, stamped, "MODIFIED")
        after = copy.deepcopy(after)
        after["metadata"]["generation"] = int(after["metadata"].get("generation", 1)) + 1
        after["metadata"].setdefault("annotations", {})[rollout.REVISION] = str(revision)
        after.setdefault("status", {})["observedGeneration"] = after["metadata"]["generation"]
        current = chosen["metadata"]["uid"]
        for rs in self._replicasets_of(ns, name):
            if rs["metadata"]["uid"] != current:
                for pod in self._pods_of(ns, rs["metadata"]["uid"]):
                    if not pod["metadata"].get("deletionTimestamp"):
                        self._delete_pod(ns, pod["metadata"]["name"], grace=1)
        for _ in range(after["spec"]["replicas"]):
            self._later(self.create_delay_s, lambda: self._create_pod("Deployment", ns, name))
        return after

    def add_statefulset(
        self,
        name: str,
        replicas: int = 1,
        ns: str = "auditflow-platform",
        claim: str | None = None,
    ) -> None:
        with self._cond:
            spec: Obj = {
                "replicas": replicas,
                "serviceName": name,
                "selector": {"matchLabels": {LABEL: name}},
                "template": self._template(name),
            }
            if claim:
                spec["volumeClaimTemplates"] = [
                    {
                        "metadata": {"name": claim, "labels": {LABEL: name}},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "storageClassName": "local-path",
                            "resources": {"requests": {"storage": "2Gi"}},
                        },
                    }
                ]
            sts = {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "metadata": self._meta(name, ns, {LABEL: name}),
                "spec": spec,
            }
            self._store("StatefulSet", ns, sts, "ADDED")
            if claim:
                for ordinal in range(replicas):
                    self._store(
                        "PersistentVolumeClaim",
                        ns,
                        self._pvc_body(f"{claim}-{name}-{ordinal}", ns, name),
                        "ADDED",
                    )
            for _ in range(replicas):
                self._create_pod("StatefulSet", ns, name, ready_now=True)

    def _pvc_body(self, pvc: str, ns: str, app: str) -> Obj:
        return {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": self._meta(pvc, ns, {LABEL: app}),
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "local-path",
                "resources": {"requests": {"storage": "2Gi"}},
            },
            "status": {"phase": "Bound"},
        }

    def add_secret(
        self, name: str, data: Mapping[str, str], ns: str = "auditflow-platform"
    ) -> None:
        import base64

        with self._cond:
            self._store(
                "Secret",
                ns,
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": self._meta(name, ns),
                    "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
                },
                "ADDED",
            )

    # --- controllers (called with the lock held) ------------------------------------------------

    @staticmethod
    def _owner(obj: Obj) -> Obj:
        return {
            "apiVersion": obj.get("apiVersion", "apps/v1"),
            "kind": obj["kind"],
            "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"],
            "controller": True,
        }

    def _controller_of(self, kind: str, ns: str, name: str) -> Obj:
        if kind == "Deployment":  # the ReplicaSet of the Deployment's revision
            revision = rollout.revision_of(self.objects[("Deployment", ns, name)])
            sets = self._replicasets_of(ns, name)
            return next((o for o in sets if rollout.revision_of(o) == revision), sets[0])
        return self.objects[("StatefulSet", ns, name)]

    def _pods_of(self, ns: str, owner_uid: str) -> list[Obj]:
        return [
            o
            for (k, n, _), o in self.objects.items()
            if k == "Pod"
            and n == ns
            and any(r["uid"] == owner_uid for r in o["metadata"].get("ownerReferences", []))
        ]

    def _create_pod(self, kind: str, ns: str, name: str, ready_now: bool = False) -> None:
        owner = self._controller_of(kind, ns, name)
        workload = self.objects[(kind, ns, name)]
        siblings = self._pods_of(ns, owner["metadata"]["uid"])
        live = [p for p in siblings if not p["metadata"].get("deletionTimestamp")]
        if len(live) >= workload["spec"]["replicas"]:
            return  # another reconcile got there first
        existing = {p["metadata"]["name"] for p in siblings}
        if kind == "StatefulSet":
            ordinal = next(i for i in itertools.count() if f"{name}-{i}" not in existing)
            if ordinal >= workload["spec"]["replicas"]:
                return
            pod_name = f"{name}-{ordinal}"
        else:
            pod_name = f"{owner['metadata']['name']}-{uuid.uuid4().hex[:5]}"
        meta = self._meta(pod_name, ns, {LABEL: name})
        meta["ownerReferences"] = [self._owner({**owner, "apiVersion": "apps/v1"})]
        pod: Obj = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": meta,
            "spec": copy.deepcopy(
                (owner.get("spec") or {}).get("template", {}).get("spec")
                or {"containers": [{"name": name, "image": f"example/{name}:1"}]}
            ),
            "status": {"phase": "Pending", "conditions": []},
        }
        claims = workload["spec"].get("volumeClaimTemplates") or []
        if claims:
            claim = f"{claims[0]['metadata']['name']}-{pod_name}"
            pod["spec"]["volumes"] = [
                {"name": "data", "persistentVolumeClaim": {"claimName": claim}}
            ]
        self._store("Pod", ns, pod, "ADDED")
        self._start_pod(ns, pod_name, ready_now)

    def _start_pod(self, ns: str, pod_name: str, ready_now: bool) -> None:
        pod = self.objects.get(("Pod", ns, pod_name))
        if pod is None or pod["metadata"].get("deletionTimestamp"):
            return
        for volume in pod["spec"].get("volumes", []):
            claim = volume["persistentVolumeClaim"]["claimName"]
            if ("PersistentVolumeClaim", ns, claim) not in self.objects:
                return  # stays Pending until its claim exists (see create_pvc)
        now = self.now()
        pod = copy.deepcopy(pod)
        pod["status"] = {
            "phase": "Running",
            "startTime": now,
            "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": now}],
            "containerStatuses": [
                {
                    "name": pod["spec"]["containers"][0]["name"],
                    "image": pod["spec"]["containers"][0]["image"],
                    "imageID": "sha256:simulated",
                    "ready": False,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": now}},
                }
            ],
        }
        self._store("Pod", ns, pod, "MODIFIED")
        if ready_now:
            self._make_ready(ns, pod_name)
        else:
            self._later(self.ready_delay_s, lambda: self._make_ready(ns, pod_name))

    def _make_ready(self, ns: str, pod_name: str) -> None:
        pod = self.objects.get(("Pod", ns, pod_name))
        if pod is None or pod["metadata"].get("deletionTimestamp"):
            return
        env = pod["spec"]["containers"][0].get("env") or []
        if self.never_ready_env in {(e.get("name"), e.get("value")) for e in env}:
            return  # the container exits at start: never Ready
        pod = copy.deepcopy(pod)
        pod["status"]["conditions"] = [
            {"type": "Ready", "status": "True", "lastTransitionTime": self.now()}
        ]
        pod["status"]["containerStatuses"][0]["ready"] = True
        self._store("Pod", ns, pod, "MODIFIED")

    def _reconcile(self, kind: str, ns: str, name: str) -> None:
        """Bring the number of live pods to the workload's replicas (after a delay)."""
        workload = self.objects.get((kind, ns, name))
        if workload is None:
            return
        owner = self._controller_of(kind, ns, name)
        pods = self._pods_of(ns, owner["metadata"]["uid"])
        live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        want = workload["spec"]["replicas"]
        for pod in sorted(live, key=lambda p: p["metadata"]["name"], reverse=True)[
            : max(0, len(live) - want)
        ]:
            self._delete_pod(ns, pod["metadata"]["name"], grace=1)
        if len(pods) < want:  # a StatefulSet waits for the old pod to be gone: count all
            for _ in range(want - len(pods)):
                self._later(self.create_delay_s, lambda: self._create_pod(kind, ns, name))

    def _workload_of(self, pod: Obj) -> tuple[str, str] | None:
        for ref in pod["metadata"].get("ownerReferences", []):
            if ref["kind"] == "StatefulSet":
                return "StatefulSet", ref["name"]
            if ref["kind"] == "ReplicaSet":
                return "Deployment", pod["metadata"]["labels"][LABEL]
        return None

    def _delete_pod(self, ns: str, name: str, grace: int | None) -> Obj:
        pod = self.objects.get(("Pod", ns, name))
        if pod is None:
            raise ApiError(404, "NotFound", f'pods "{name}" not found')
        pod = copy.deepcopy(pod)
        workload = self._workload_of(pod)

        def remove() -> None:
            current = self.objects.get(("Pod", ns, name))
            if current is None or current["metadata"]["uid"] != pod["metadata"]["uid"]:
                return
            self._store("Pod", ns, copy.deepcopy(current), "DELETED")
            if workload:
                self._reconcile(workload[0], ns, workload[1])

        if grace == 0:
            remove()
        else:
            pod["metadata"]["deletionTimestamp"] = self.now()
            pod["metadata"]["deletionGracePeriodSeconds"] = grace if grace is not None else 30
            self._store("Pod", ns, pod, "MODIFIED")
            self._later(self.create_delay_s, remove)
        return pod

    # --- the API --------------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: Mapping[str, str], body: Any) -> Obj:
        """One non-watch request → the JSON answer (raises ApiError for 403/404/...)."""
        if path.rstrip("/") == chaos.DISCOVERY and method == "GET":
            if not self.chaos_mesh:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return chaos.discovery()
        route, ns, res, name, sub = self._route(path)
        if res in self.failing:
            code = self.failing[res]
            raise ApiError(code, "Simulated", f"simulated {code} on {res}")
        kind = KINDS[res]
        with self._cond:
            if method != "GET":
                self.mutations.append(Mutation(method, path, copy.deepcopy(body), dict(query)))
            if name is None:
                if method == "GET":
                    return self._list(route, kind, ns, query)
                if method == "POST":
                    return self._create(kind, ns, body)
                raise ApiError(405, "MethodNotAllowed", method)
            if sub == "/scale":
                return self._scale(kind, ns, name, method, body)
            current = self.objects.get((kind, ns, name))
            if current is None:
                raise ApiError(404, "NotFound", f'{res} "{name}" not found')
            if method == "GET":
                return copy.deepcopy(current)
            if method == "DELETE":
                if kind == "Pod":
                    grace = (body or {}).get("gracePeriodSeconds")
                    if "gracePeriodSeconds" in query:
                        grace = int(query["gracePeriodSeconds"])
                    return self._delete_pod(ns, name, grace)
                self._store(kind, ns, copy.deepcopy(current), "DELETED")
                return current
            if method == "PATCH":
                if kind == "Deployment" and isinstance(body, list):
                    try:
                        patched = rollout.json_patch(current, body)
                    except (rollout.PatchError, LookupError, ValueError, TypeError) as exc:
                        raise ApiError(422, "Invalid", f"json patch: {exc}") from exc
                elif not isinstance(body, dict):
                    raise ApiError(415, "UnsupportedMediaType", "only merge patches")
                else:
                    patched = merge_patch(current, body)
                if kind == "Deployment":
                    patched = self._roll(ns, current, patched)
                return copy.deepcopy(self._store(kind, ns, patched, "MODIFIED"))
            raise ApiError(405, "MethodNotAllowed", method)

    def pod_log(self, path: str, query: Mapping[str, str]) -> bytes | None:
        """The body of a `pods/<name>/log` request; None when `path` is not one."""
        match = POD_LOG.match(path)
        if match is None:
            return None
        if match["ns"] not in self.permitted:
            raise ApiError(403, "Forbidden", f'pods "{match["name"]}" is forbidden')
        if "pods/log" in self.failing:
            code = self.failing["pods/log"]
            raise ApiError(code, "Simulated", f"simulated {code} on pods/log")
        with self._cond:
            if ("Pod", match["ns"], match["name"]) not in self.objects:
                raise ApiError(404, "NotFound", f'pods "{match["name"]}" not found')
            lines = list(self.pod_logs.get(match["name"], []))
        since = time.time() + self.clock_skew_s - float(query.get("sinceSeconds", "1e12"))
        out = b""
        for at, line in lines:
            if at < since:
                continue
            prefix = b""
            if query.get("timestamps") in ("true", "True", "1"):
                stamp = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
                prefix = f"{stamp}000Z ".encode()
            out += prefix + line + b"\n"
        limit = query.get("limitBytes")
        return out[: int(limit)] if limit else out

    def _route(self, path: str) -> tuple[str, str, str, str | None, str | None]:
        for pattern, group in ROUTES:
            match = pattern.match(path)
            if match:
                if group == chaos.GROUP_VERSION and not self.chaos_mesh:
                    raise ApiError(404, "NotFound", f"the server could not find {path}")
                ns = match["ns"]
                if ns not in self.permitted:
                    raise ApiError(
                        403,
                        "Forbidden",
                        f'{match["res"]} is forbidden: User "simulated" cannot access '
                        f'resource "{match["res"]}" in the namespace "{ns}"',
                    )
                sub = match.groupdict().get("sub")
                return group, ns, match["res"], match["name"], sub
        raise ApiError(404, "NotFound", f"the server could not find the requested resource {path}")

    def _matches(self, obj: Obj, selector: str | None) -> bool:
        labels = obj["metadata"].get("labels") or {}
        for term in (selector or "").split(","):
            if term:
                key, _, value = term.partition("=")
                if labels.get(key) != value:
                    return False
        return True

    def _list(self, group: str, kind: str, ns: str, query: Mapping[str, str]) -> Obj:
        items = [
            copy.deepcopy(o)
            for (k, n, _), o in sorted(self.objects.items())
            if k == kind and n == ns and self._matches(o, query.get("labelSelector"))
        ]
        rv = self._events[-1][0] if self._events else 0
        return {
            "apiVersion": group,
            "kind": f"{kind}List",
            "metadata": {"resourceVersion": str(rv)},
            "items": items,
        }

    def _create(self, kind: str, ns: str, body: Obj) -> Obj:
        name = body["metadata"]["name"]
        if (kind, ns, name) in self.objects:
            raise ApiError(409, "AlreadyExists", f'"{name}" already exists')
        obj = copy.deepcopy(body)
        obj["metadata"].update(
            {k: v for k, v in self._meta(name, ns).items() if k not in ("labels",)}
        )
        obj["metadata"].setdefault("labels", {})
        if kind == "PersistentVolumeClaim":
            obj["status"] = {"phase": "Bound"}
            stored = self._store(kind, ns, obj, "ADDED")
            for (k, n, pod_name), pod in list(self.objects.items()):
                if k == "Pod" and n == ns and pod["status"]["phase"] == "Pending":
                    self._start_pod(ns, pod_name, ready_now=False)  # it waited for this claim
            return copy.deepcopy(stored)
        if kind == "Job":
            obj["status"] = {"active": 1, "startTime": self.now()}
            self._later(self.job_delay_s, lambda: self._finish_job(ns, name))
        stored = copy.deepcopy(self._store(kind, ns, obj, "ADDED"))
        if kind == "NetworkChaos":
            self._run_chaos(ns, name)
        return stored

    def _finish_job(self, ns: str, name: str) -> None:
        job = copy.deepcopy(self.objects[("Job", ns, name)])
        outcome = "Failed" if self.job_fails else "Complete"
        job["status"] = {
            "startTime": job["status"]["startTime"],
            "completionTime": self.now(),
            "succeeded" if outcome == "Complete" else "failed": 1,
            "conditions": [{"type": outcome, "status": "True", "lastTransitionTime": self.now()}],
        }
        self._store("Job", ns, job, "MODIFIED")

    def _scale(self, kind: str, ns: str, name: str, method: str, body: Any) -> Obj:
        workload = self.objects.get((kind, ns, name))
        if workload is None:
            raise ApiError(404, "NotFound", f'{kind.lower()}s.apps "{name}" not found')
        if method == "PATCH":
            replicas = int(body["spec"]["replicas"])
            workload = copy.deepcopy(workload)
            workload["spec"]["replicas"] = replicas
            self._store(kind, ns, workload, "MODIFIED")
            self._reconcile(kind, ns, name)
        elif method != "GET":
            raise ApiError(405, "MethodNotAllowed", method)
        return {
            "apiVersion": "autoscaling/v1",
            "kind": "Scale",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": workload["spec"]["replicas"]},
            "status": {"replicas": workload["spec"]["replicas"], "selector": f"{LABEL}={name}"},
        }

    def watch(self, path: str, query: Mapping[str, str]) -> Iterator[Obj]:
        """Events for a watch request: replay after resourceVersion, then live, until timeout.

        The route (403/404) is checked now, before the caller sends the stream's headers.
        """
        _group, ns, res, _name, _sub = self._route(path)
        return self._events_for(KINDS[res], ns, query)

    def _events_for(self, kind: str, ns: str, query: Mapping[str, str]) -> Iterator[Obj]:
        selector = query.get("labelSelector")
        deadline = time.monotonic() + float(query.get("timeoutSeconds", "30"))
        with self._cond:
            if query.get("resourceVersion"):
                since = int(query["resourceVersion"])
                pending = [
                    (rv, ev, obj)
                    for rv, k, n, ev, obj in self._events
                    if rv > since and k == kind and n == ns
                ]
            else:
                since = self._events[-1][0] if self._events else 0
                pending = [
                    (since, "ADDED", copy.deepcopy(o))
                    for (k, n, _), o in sorted(self.objects.items())
                    if k == kind and n == ns
                ]
        while True:
            for rv, event, obj in pending:
                since = max(since, rv)
                if self._matches(obj, selector):
                    yield {"type": event, "object": obj}
            with self._cond:
                while not self._closed:
                    fresh = [
                        (rv, ev, obj)
                        for rv, k, n, ev, obj in self._events
                        if rv > since and k == kind and n == ns
                    ]
                    if fresh:
                        break
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return
                    self._cond.wait(left)
                else:
                    return
            pending = fresh


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    @property
    def cluster(self) -> SimulatedCluster:
        """The cluster of the server this request came to (see _ClusterServer)."""
        assert isinstance(self.server, _ClusterServer)
        return self.server.cluster

    def log_message(self, format: str, *args: Any) -> None:
        return None  # quiet: the tests assert on state, not on logs

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw) if raw else None

    def _send(self, code: int, payload: Obj) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        self.cluster.requests.append((method, url.path, query))
        try:
            body = self._body()
            if method == "GET" and query.get("watch") in ("true", "1", "True"):
                self._stream(url.path, query)
                return
            text = self.cluster.pod_log(url.path, query) if method == "GET" else None
            if text is not None:
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)
                return
            self._send(200, self.cluster.handle(method, url.path, query, body))
        except ApiError as err:
            self._send(
                err.code,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Failure",
                    "message": err.message,
                    "reason": err.reason,
                    "code": err.code,
                },
            )

    def _stream(self, path: str, query: Mapping[str, str]) -> None:
        events = self.cluster.watch(path, query)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for event in events:
                line = json.dumps(event).encode() + b"\n"
                self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped watching
        self.close_connection = True

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")


class _ClusterServer(ThreadingHTTPServer):
    """The HTTP server, holding the cluster its request handlers answer from."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, cluster: SimulatedCluster) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.cluster = cluster


class SimulatedApiServer:
    """The simulated API server on 127.0.0.1:<free port>, serving `cluster` from a thread."""

    def __init__(self, cluster: SimulatedCluster) -> None:
        self.cluster = cluster
        self.httpd = _ClusterServer(cluster)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> SimulatedApiServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cluster.close()
        self.httpd.shutdown()
        self.httpd.server_close()
