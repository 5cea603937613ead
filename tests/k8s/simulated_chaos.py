"""The SIMULATED Chaos Mesh, for `simulated_api` (not Chaos Mesh, and no packet is touched).

What `drills.targets.kubernetes.chaos_mesh` relies on, and no more:

* discovery: `GET /apis/chaos-mesh.org/v1alpha1` answers the APIResourceList with the namespaced
  `networkchaos` resource while the CRDs are installed (`SimulatedCluster.chaos_mesh`), 404
  otherwise — and then every networkchaos path is a 404 too, as on a cluster without the CRD;
* namespaced networkchaos create, get, list (label selector), delete — the generic object paths
  of `simulated_api`;
* the controller: `inject_delay_s` after a create it writes the status Chaos Mesh writes once
  every selected pod is injected (conditions Selected and AllInjected True, `desiredPhase: Run`,
  one container record per selected pod), and when the object's `duration` has passed, the
  recovered status (`desiredPhase: Stop`, AllRecovered True). `inject_delay_s = None` leaves the
  status to the test (`SimulatedCluster.set_chaos_status`, with `injected_status` /
  `recovered_status`).

A real NetworkChaos carries a finalizer (deletion waits for the recovery); here a delete removes
the object at once.
"""

from __future__ import annotations

import re
from typing import Any

Obj = dict[str, Any]
GROUP_VERSION = "chaos-mesh.org/v1alpha1"
DISCOVERY = "/apis/chaos-mesh.org/v1alpha1"
ROUTE = (
    re.compile(
        r"^/apis/chaos-mesh\.org/v1alpha1/namespaces/(?P<ns>[^/]+)/(?P<res>networkchaos)"
        r"(?:/(?P<name>[^/]+))?$"
    ),
    GROUP_VERSION,
)
KINDS = {"networkchaos": "NetworkChaos"}
DURATION = re.compile(r"^(?P<n>[0-9.]+)(?P<unit>ms|s|m|h)$")


def discovery() -> Obj:
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": GROUP_VERSION,
        "resources": [
            {
                "name": plural,
                "singularName": plural,
                "namespaced": True,
                "kind": kind,
                "verbs": ["delete", "deletecollection", "get", "list", "patch", "create"],
            }
            for plural, kind in (
                ("networkchaos", "NetworkChaos"),
                ("podchaos", "PodChaos"),
                ("iochaos", "IOChaos"),
            )
        ],
    }


def duration_s(spec: Obj) -> float | None:
    match = DURATION.match(str(spec.get("duration", "")))
    if match is None:
        return None
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[match["unit"]]
    return float(match["n"]) * scale


def _condition(kind: str, true: bool) -> Obj:
    return {"type": kind, "status": "True" if true else "False"}


def injected_status(pods: list[str]) -> Obj:
    """What the controller writes once every selected pod (`ns/name`) is injected."""
    return {
        "conditions": [
            _condition("Selected", True),
            _condition("AllInjected", True),
            _condition("AllRecovered", False),
            _condition("Paused", False),
        ],
        "experiment": {
            "desiredPhase": "Run",
            "containerRecords": [
                {
                    "id": pod,
                    "phase": "Injected",
                    "selectorKey": ".",
                    "injectedCount": 1,
                    "recoveredCount": 0,
                }
                for pod in pods
            ],
        },
    }


def recovered_status(pods: list[str]) -> Obj:
    """What the controller writes when the duration has passed and every pod is recovered."""
    return {
        "conditions": [
            _condition("Selected", True),
            _condition("AllInjected", False),
            _condition("AllRecovered", True),
            _condition("Paused", False),
        ],
        "experiment": {
            "desiredPhase": "Stop",
            "containerRecords": [
                {
                    "id": pod,
                    "phase": "NotInjected",
                    "selectorKey": ".",
                    "injectedCount": 1,
                    "recoveredCount": 1,
                }
                for pod in pods
            ],
        },
    }
