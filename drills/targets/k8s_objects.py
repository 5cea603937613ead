"""Pure helpers over Kubernetes objects as plain dicts: reading pods, building Jobs and PVCs.

Why plain dicts: the Kubernetes target converts every API answer to its JSON form once, at the
boundary, so the logic that decides "which pod replaced the one we killed" or "what does the
recreated PVC look like" is pure, typed and unit-testable without the `kubernetes` client (which
only `drills.targets.kubernetes` imports).

Times are the API server's (RFC 3339), never the harness's clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

Obj = Mapping[str, Any]

LABEL_NAME = "app.kubernetes.io/name"
ANNOTATION_REPLICAS = "genesis-drill.io/replicas-before"
LABEL_RUN = "genesis-drill.io/run"

# AuditFlow component → the workload kind that runs it (names match the manifests).
WORKLOADS: dict[str, str] = {
    "audit-event-generator": "Deployment",
    "audit-log-analysis": "Deployment",
    "event-audit-dashboard": "Deployment",
    "notification-service": "Deployment",
    "rabbitmq": "StatefulSet",
    "postgres": "StatefulSet",
    "redis": "StatefulSet",
    "alertmanager": "Deployment",  # monitoring-blind (the dead man's switch)
    "prometheus": "Deployment",  # prometheus-blind (its TSDB is a PVC: the history survives)
}


def parse_time(stamp: str | None) -> float | None:
    """RFC 3339 (`2026-01-02T03:04:05Z`, optionally with fractions) → unix seconds."""
    if not stamp:
        return None
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def meta(obj: Obj) -> Obj:
    value = obj.get("metadata") or {}
    return value if isinstance(value, Mapping) else {}


def controller_uid(pod: Obj) -> str | None:
    """The uid of the controller (ReplicaSet, StatefulSet) that owns the pod, if any."""
    for ref in meta(pod).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref["uid"])
    return None


def terminating(obj: Obj) -> bool:
    return meta(obj).get("deletionTimestamp") is not None


def ready_since(pod: Obj) -> float | None:
    """When the pod's Ready condition last turned True (server side), or None if not ready."""
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            if condition.get("status") == "True":
                return parse_time(condition.get("lastTransitionTime"))
            return None
    return None


def started_at(pod: Obj) -> float | None:
    """Latest container start (server side), else the pod's startTime."""
    status = pod.get("status") or {}
    starts = [
        parse_time(((c.get("state") or {}).get("running") or {}).get("startedAt"))
        for c in status.get("containerStatuses") or []
    ]
    known = [s for s in starts if s is not None]
    return max(known) if known else parse_time(status.get("startTime"))


def running(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and not terminating(pod)


def creation_order(pod: Obj) -> tuple[float, str]:
    m = meta(pod)
    return (parse_time(m.get("creationTimestamp")) or 0.0, str(m.get("name")))


@dataclass(frozen=True)
class Kill:
    """A pod the harness deleted: its replacement is the controller's next pod, not any new pod."""

    victim_uid: str
    owner_uid: str
    victim_name: str


def pick(pods: Iterable[Obj], kill: Kill | None) -> Obj | None:
    """The pod that stands for the component.

    After a kill: the oldest live pod with the victim's controller and a different uid (a
    StatefulSet's replacement keeps the name, so the uid is what tells them apart). Otherwise
    the oldest live pod, so that `state` and `kill` agree on which pod is the victim.
    """
    live = sorted((p for p in pods if not terminating(p)), key=creation_order)
    if kill is not None:
        live = [
            p
            for p in live
            if controller_uid(p) == kill.owner_uid and str(meta(p).get("uid")) != kill.victim_uid
        ]
    return live[0] if live else None


def pvc_from_template(statefulset: Obj, ordinal: int = 0) -> dict[str, Any]:
    """The PVC a StatefulSet's first volumeClaimTemplate gives pod `ordinal` (to recreate it)."""
    sts_meta, spec = meta(statefulset), statefulset.get("spec") or {}
    templates = spec.get("volumeClaimTemplates") or []
    if not templates:
        raise ValueError(f"StatefulSet {sts_meta.get('name')} has no volumeClaimTemplates")
    template = templates[0]
    labels = {
        **((spec.get("selector") or {}).get("matchLabels") or {}),
        **(meta(template).get("labels") or {}),
    }
    tspec = template.get("spec") or {}
    body_spec: dict[str, Any] = {
        "accessModes": list(tspec.get("accessModes") or ["ReadWriteOnce"]),
        "resources": {"requests": dict((tspec.get("resources") or {}).get("requests") or {})},
    }
    for key in ("storageClassName", "volumeMode"):
        if tspec.get(key):
            body_spec[key] = tspec[key]
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": f"{meta(template)['name']}-{sts_meta['name']}-{ordinal}",
            "namespace": sts_meta.get("namespace"),
            "labels": labels,
            "annotations": {"genesis-drill.io/recreated": "pvc-wipe-restore"},
        },
        "spec": body_spec,
    }


def malformed_job(
    *,
    namespace: str,
    image: str,
    secret_name: str,
    nonce: str,
    count: int,
    seed: int,
    interval_s: float,
) -> dict[str, Any]:
    """A Job that publishes the drill's malformed messages from inside the cluster.

    It runs the harness image's `python -m drills.faults.malformed_events`, which draws the same
    messages from the same Hypothesis seed and tags them with the run's nonce, so the harness can
    verify the dead-letter queue exactly as if it had published them itself. The broker password
    comes from the platform's Secret; the AMQP URL is composed by Kubernetes' `$(VAR)` expansion.
    """
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": f"genesis-malformed-{nonce[:12]}",
            "namespace": namespace,
            "labels": {LABEL_NAME: "genesis-drill", LABEL_RUN: nonce[:63]},
        },
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": 600,
            "ttlSecondsAfterFinished": 3600,
            "template": {
                "metadata": {"labels": {LABEL_NAME: "genesis-drill", LABEL_RUN: nonce[:63]}},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 10001},
                    "containers": [
                        {
                            "name": "publish-malformed",
                            "image": image,
                            "command": [
                                "python",
                                "-m",
                                "drills.faults.malformed_events",
                                "--nonce",
                                nonce,
                                "--count",
                                str(count),
                                "--seed",
                                str(seed),
                                "--interval",
                                f"{interval_s:g}",
                            ],
                            "env": [
                                {
                                    "name": "RABBITMQ_PASSWORD",
                                    "valueFrom": {
                                        "secretKeyRef": {
                                            "name": secret_name,
                                            "key": "rabbitmq-password",
                                        }
                                    },
                                },
                                {
                                    "name": "AUDITFLOW_AMQP_URL",
                                    "value": "amqp://auditflow:$(RABBITMQ_PASSWORD)@rabbitmq:5672/%2F",
                                },
                            ],
                            "resources": {
                                "requests": {"cpu": "50m", "memory": "96Mi"},
                                "limits": {"cpu": "500m", "memory": "256Mi"},
                            },
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 - the pod's own emptyDir
                        }
                    ],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
                },
            },
        },
    }


def job_outcome(job: Obj) -> str | None:
    """ "succeeded", "failed" or None while the Job still runs (from its status)."""
    status = job.get("status") or {}
    for condition in status.get("conditions") or []:
        if condition.get("status") == "True" and condition.get("type") in ("Complete", "Failed"):
            return "succeeded" if condition["type"] == "Complete" else "failed"
    if status.get("succeeded"):
        return "succeeded"
    if status.get("failed"):
        return "failed"
    return None
