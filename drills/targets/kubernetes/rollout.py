"""`Deployer` on Kubernetes: a Deployment's revisions, and `rollout undo` done client-side.

A revision is what the Deployment controller makes of a pod-template change: a ReplicaSet
carrying `deployment.kubernetes.io/revision`. A deploy changes the template's container env
with a JSON patch and follows the rollout until the controller has observed the new generation
(the new ReplicaSet exists; its pods may never become ready — that is the bad build). There is no
"undo" endpoint: `kubectl rollout undo --to-revision=N` reads the ReplicaSet of revision N and
copies its template (without the controller's `pod-template-hash` label) back into the
Deployment with a JSON patch, and the controller then gives that ReplicaSet a new revision
number. This does exactly that, through the `kubernetes` client, in the target's namespace only
(the API is bound to it; the target refuses a namespace that is not allow-listed). Undoing to
the template that is already live sends nothing.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from typing import Any

from drills.errors import PermanentError, TargetError
from drills.targets import k8s_objects as objs
from drills.targets.deployer import Revision
from drills.targets.kubernetes.api import REQUEST_TIMEOUT, KubeApi

REVISION = "deployment.kubernetes.io/revision"
HISTORY = "deployment.kubernetes.io/revision-history"
HASH = "pod-template-hash"
ENV_PREFIX = "AUDITFLOW_"
OBSERVE_TIMEOUT_S = 60.0
POLL_S = 0.2


def bare(template: Mapping[str, Any]) -> dict[str, Any]:
    """A pod template without the controller's hash label (how revisions are compared)."""
    plain = copy.deepcopy(dict(template))
    labels = (plain.get("metadata") or {}).get("labels") or {}
    labels.pop(HASH, None)
    return plain


def revisions_of(rs: Mapping[str, Any]) -> set[int]:
    """A ReplicaSet's revision and the older numbers it had (reused by an undo)."""
    annotations = (rs.get("metadata") or {}).get("annotations") or {}
    numbers = [annotations.get(REVISION, ""), *annotations.get(HISTORY, "").split(",")]
    return {int(n) for n in numbers if n.strip().isdigit()}


def literal_env(template: Mapping[str, Any]) -> dict[str, str]:
    """The AUDITFLOW_* settings the template's first container sets by value."""
    containers = (template.get("spec") or {}).get("containers") or [{}]
    return {
        str(e["name"]): str(e["value"])
        for e in containers[0].get("env") or []
        if str(e.get("name", "")).startswith(ENV_PREFIX) and "value" in e
    }


def with_env(env: list[dict[str, Any]], settings: Mapping[str, str]) -> list[dict[str, Any]]:
    """The container's env list with `settings` set by value (replacing same-named entries)."""
    kept = [dict(e) for e in env if e.get("name") not in settings]
    return kept + [{"name": name, "value": value} for name, value in settings.items()]


class KubernetesDeployer:
    """Revisions of the components' Deployments in one namespace."""

    def __init__(self, api: KubeApi) -> None:
        self.api = api
        self.namespace = api.namespace

    def _deployment(self, component: str) -> dict[str, Any]:
        if objs.WORKLOADS.get(component) != "Deployment":
            raise PermanentError(f"{component} is not a Deployment: it has no revisions to deploy")
        return self.api.plain(
            self.api.call(
                f"reading the Deployment {component}",
                lambda: self.api.apps.read_namespaced_deployment(
                    component, self.namespace, _request_timeout=REQUEST_TIMEOUT
                ),
            )
        )

    def _replicasets(self, deployment: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The ReplicaSets the Deployment owns (by uid, not only by label)."""
        uid = deployment["metadata"]["uid"]
        labels = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        answer = self.api.plain(
            self.api.call(
                f"listing the ReplicaSets of {deployment['metadata']['name']}",
                lambda: self.api.apps.list_namespaced_replica_set(
                    self.namespace, label_selector=selector, _request_timeout=REQUEST_TIMEOUT
                ),
            )
        )
        return [
            rs
            for rs in answer.get("items") or []
            if any(r.get("uid") == uid for r in rs["metadata"].get("ownerReferences") or [])
        ]

    def _of_revision(self, deployment: Mapping[str, Any], revision: int) -> dict[str, Any]:
        for rs in self._replicasets(deployment):
            if revision in revisions_of(rs):
                return rs
        name = deployment["metadata"]["name"]
        raise PermanentError(
            f"no ReplicaSet of revision {revision} of {name} in {self.namespace!r} (deleted, or "
            "beyond the Deployment's revisionHistoryLimit): roll back by hand"
        )

    @staticmethod
    def _revision(deployment: Mapping[str, Any]) -> int:
        raw = ((deployment.get("metadata") or {}).get("annotations") or {}).get(REVISION, "")
        if not str(raw).isdigit():
            name = deployment["metadata"]["name"]
            raise TargetError(f"the Deployment {name} has no {REVISION} annotation yet")
        return int(raw)

    def _patch(self, component: str, operations: list[dict[str, Any]], what: str) -> None:
        self.api.call(
            what,
            lambda: self.api.apps.patch_namespaced_deployment(
                component, self.namespace, operations, _request_timeout=REQUEST_TIMEOUT
            ),
        )

    def _observed(self, component: str) -> dict[str, Any]:
        """Wait until the controller has observed the Deployment's latest generation."""
        deadline = time.monotonic() + OBSERVE_TIMEOUT_S
        while True:
            deployment = self._deployment(component)
            generation = int(deployment["metadata"].get("generation") or 0)
            observed = int((deployment.get("status") or {}).get("observedGeneration") or 0)
            if observed >= generation:
                return deployment
            if time.monotonic() > deadline:
                raise TargetError(
                    f"the Deployment controller did not observe {component}'s generation "
                    f"{generation} within {OBSERVE_TIMEOUT_S:.0f} s"
                )
            time.sleep(POLL_S)

    def live(self, component: str) -> Revision:
        deployment = self._deployment(component)
        return Revision(self._revision(deployment), literal_env(deployment["spec"]["template"]))

    def deploy(self, component: str, env: Mapping[str, str], cause: str) -> Revision:
        deployment = self._deployment(component)
        containers = deployment["spec"]["template"]["spec"]["containers"]
        new_env = with_env(list(containers[0].get("env") or []), env)
        operations: list[dict[str, Any]] = [
            # test first: a concurrent change of the template fails the patch instead of mixing
            {"op": "test", "path": "/metadata/resourceVersion", "value": _rv(deployment)},
            {"op": "add", "path": "/spec/template/spec/containers/0/env", "value": new_env},
        ]
        self._patch(component, operations, f"deploying {component} ({cause})")
        after = self._observed(component)
        return Revision(self._revision(after), literal_env(after["spec"]["template"]))

    def undo(self, component: str, to: int) -> Revision:
        deployment = self._deployment(component)
        good = self._of_revision(deployment, to)
        template = bare(good["spec"]["template"])
        if bare(deployment["spec"]["template"]) != template:
            operations = [{"op": "replace", "path": "/spec/template", "value": template}]
            self._patch(component, operations, f"rolling {component} back to revision {to}")
            deployment = self._observed(component)
        return Revision(self._revision(deployment), literal_env(deployment["spec"]["template"]))

    def is_live(self, component: str, revision: int) -> bool:
        deployment = self._deployment(component)
        good = self._of_revision(deployment, revision)
        return bare(deployment["spec"]["template"]) == bare(good["spec"]["template"])


def _rv(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion", ""))
