"""What the Kubernetes target does to a component: its Deployment or StatefulSet and their pods.

What a fault's verbs mean here:

* kill — delete the component's pod (grace period 0 for KILL, the pod's own for TERM). The
  replacement is paired by its controller's uid (ReplicaSet, StatefulSet), not "the first new pod",
  and its start and readiness times are the server's (`startedAt`, the Ready condition's
  `lastTransitionTime`), not when the harness happened to notice.
* stop / start — scale the workload to 0 and back (a hard stop also deletes the pods with grace
  period 0); the replica count before the stop is kept in an annotation on the workload, so a
  harness that died can still restore it.
* wait_ready — list, then watch (resourceVersion-based) until the paired pod is Ready.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from drills.errors import TargetError
from drills.targets import k8s_objects as objs
from drills.targets.base import ComponentState
from drills.targets.kubernetes.api import REQUEST_TIMEOUT, KubeApi

STATE_TIMEOUT_S = 120.0
WATCH_SLICE_S = 10  # a watch is re-opened at least this often (server-side timeout)


class Workloads:
    """The components' workloads and pods in the target's namespace."""

    def __init__(self, api: KubeApi) -> None:
        self.api = api
        self.namespace = api.namespace
        # The last kill of each component: its replacement is paired with it (`objs.pick`).
        self.kills: dict[str, objs.Kill] = {}

    def kind(self, component: str) -> str:
        kind = objs.WORKLOADS.get(component)
        if kind is None:
            raise TargetError(f"no component {component!r} on Kubernetes")
        return kind

    def pods(self, component: str) -> tuple[list[dict[str, Any]], str | None]:
        """The component's pods and the list's resourceVersion (where a watch starts)."""
        self.kind(component)
        answer = self.api.call(
            f"listing pods of {component}",
            lambda: self.api.core.list_namespaced_pod(
                self.namespace,
                label_selector=f"{objs.LABEL_NAME}={component}",
                _request_timeout=REQUEST_TIMEOUT,
            ),
        )
        plain = self.api.plain(answer)
        return list(plain.get("items") or []), (plain.get("metadata") or {}).get("resourceVersion")

    def workload(self, component: str) -> dict[str, Any]:
        """The component's Deployment or StatefulSet, as JSON."""
        if self.kind(component) == "StatefulSet":
            read = self.api.apps.read_namespaced_stateful_set
        else:
            read = self.api.apps.read_namespaced_deployment
        return self.api.plain(
            self.api.call(
                f"reading the {self.kind(component)} {component}",
                lambda: read(component, self.namespace, _request_timeout=REQUEST_TIMEOUT),
            )
        )

    def state(self, component: str) -> ComponentState:
        pods, _ = self.pods(component)
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

    def kill(self, component: str, signal_name: str) -> None:
        """Delete the component's pod: grace period 0 for KILL, the pod's own for TERM."""
        grace = {"KILL": 0, "TERM": None}
        if signal_name not in grace:
            raise TargetError(
                f"SIG{signal_name} cannot be sent to a pod: on Kubernetes a kill deletes the pod "
                "(KILL = grace period 0, TERM = graceful)"
            )
        pods, _ = self.pods(component)
        pod = objs.pick(pods, None)
        if pod is None:
            raise TargetError(f"{component} has no live pod in {self.namespace}; nothing to kill")
        m = objs.meta(pod)
        owner = objs.controller_uid(pod)
        if owner is None:
            raise TargetError(f"pod {m.get('name')} has no controller: nothing would replace it")
        name = str(m["name"])
        self.delete_pod(name, grace[signal_name])
        self.kills[component] = objs.Kill(str(m["uid"]), owner, name)

    def delete_pod(self, name: str, grace: int | None) -> None:
        self.api.call(
            f"deleting pod {name}",
            lambda: self.api.core.delete_namespaced_pod(
                name,
                self.namespace,
                grace_period_seconds=grace,
                _request_timeout=REQUEST_TIMEOUT,
            ),
        )

    def _scale(self, component: str, replicas: int) -> None:
        body = {"spec": {"replicas": replicas}}
        if self.kind(component) == "StatefulSet":
            patch = self.api.apps.patch_namespaced_stateful_set_scale
        else:
            patch = self.api.apps.patch_namespaced_deployment_scale
        self.api.call(
            f"scaling {component} to {replicas}",
            lambda: patch(component, self.namespace, body, _request_timeout=REQUEST_TIMEOUT),
        )

    def _annotate(self, component: str, value: str | None) -> None:
        body = {"metadata": {"annotations": {objs.ANNOTATION_REPLICAS: value}}}
        if self.kind(component) == "StatefulSet":
            patch = self.api.apps.patch_namespaced_stateful_set
        else:
            patch = self.api.apps.patch_namespaced_deployment
        self.api.call(
            f"annotating {component}",
            lambda: patch(component, self.namespace, body, _request_timeout=REQUEST_TIMEOUT),
        )

    def stop(self, component: str, abrupt: bool) -> None:
        """Scale to 0 (remembering the replica count on the workload) and wait for no pods.

        An abrupt stop scales to 0 first, so the controller does not replace what dies, then
        deletes the pods with grace period 0.
        """
        workload = self.workload(component)
        replicas = int((workload.get("spec") or {}).get("replicas") or 0)
        if replicas > 0:
            self._annotate(component, str(replicas))
            self._scale(component, 0)
        deadline = time.monotonic() + STATE_TIMEOUT_S
        forced: set[str] = set()
        while True:
            pods, version = self.pods(component)
            if not pods:
                return
            for pod in pods if abrupt else []:  # no checkpoint, sessions cut: a crash
                uid = str(objs.meta(pod).get("uid"))
                if uid not in forced:  # terminating ones too: grace 0 cuts their grace period
                    forced.add(uid)
                    with contextlib.suppress(TargetError):  # already gone: fine
                        self.delete_pod(str(objs.meta(pod)["name"]), grace=0)
            if time.monotonic() > deadline:
                raise TargetError(f"{component} still has pods {STATE_TIMEOUT_S:.0f} s after 0")
            self._watch_for_change(component, version, deadline)

    def start(self, component: str) -> None:
        """Scale back to the remembered replica count (1 if unknown); a running one is left be."""
        workload = self.workload(component)
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
            pods, version = self.pods(component)
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
                self.api.core.list_namespaced_pod,
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

        self.api.call(f"watching pods of {component}", first_event)
