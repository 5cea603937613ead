"""`NetFaults` on Kubernetes: Chaos Mesh's NetworkChaos objects in the target's namespace.

Why Chaos Mesh: a Kubernetes target has no fault proxy in its components' path, and the API alone
cannot disturb packets between two pods. Chaos Mesh can: its controller turns a `NetworkChaos`
object into tc/iptables rules inside the selected pods' network namespaces (through its
chaos-daemon). So a network fault here is one such object, created through the `kubernetes`
client's CustomObjectsApi in the allow-listed namespace — never a cluster-scoped object — and
followed through the status the Chaos Mesh controller writes on it.

The object for a fault on a route (drills.netfault.routes; no second table here) selects, with
mode `all`, the pods of the route's client component (`app.kubernetes.io/name`, as the manifests
label them), and with `direction: to` and `target` the pods of its server component, so only the
client's packets to the server are disturbed. The modes map to actions:

* latency → `delay` (latency and jitter in ms);
* bandwidth → `bandwidth` (the rate in bytes per second: tc's `bps` is bytes, our `kbps` bits);
* blackhole → `loss` 100 %: every packet dropped, connections stay open (nothing closes or
  refuses them) — packet loss, the same observable as the proxy's blackhole (silence until a
  heartbeat or timeout gives up);
* partition → `partition`;
* reset → not expressible: a NetworkChaos drops or delays packets, it cannot send RSTs to both
  ends. `refuses` says so, in preflight and the dry run, and `set` refuses it too.

Safety: `duration` is the fault's `duration_s`, so Chaos Mesh recovers the pods by itself at that
deadline even if the harness dies — the proxy's deadline, in the controller. Rollback and
`genesis-drill recover` delete the object by the name derived from the journaled fault id (a 404
means nothing of it is left: idempotent). Every object carries
`app.kubernetes.io/managed-by: genesis-drill`, the fault id and the route as labels.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Mapping
from typing import Any

from drills.errors import PermanentError, TargetError
from drills.netfault.faults import FaultSpec
from drills.netfault.routes import ROUTES, Route
from drills.targets import k8s_objects as objs
from drills.targets.kubernetes.api import REQUEST_TIMEOUT, KubeApi
from drills.targets.netfault import RouteState

GROUP = "chaos-mesh.org"
VERSION = "v1alpha1"
PLURAL = "networkchaos"
KIND = "NetworkChaos"
MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_FAULT = "genesis-drill/fault-id"
LABEL_ROUTE = "genesis-drill/route"
ANNOTATION_FAULT = "genesis-drill/fault"  # the fault's JSON as the drill asked for it
ABSENT = f"Chaos Mesh is not installed ({GROUP}/{VERSION} {KIND} absent)"
INJECT_TIMEOUT_S = 30.0
POLL_S = 0.2
# tbf's queue and bucket for the bandwidth action (bytes): deep enough not to drop at the limit,
# a bucket of one MTU-ish burst so the rate is the rate.
BANDWIDTH_LIMIT = 20_971_520
BANDWIDTH_BUFFER = 10_000


def chaos_name(fault_id: str) -> str:
    """A DNS-1123 name (also a valid label value) for `fault_id`, unique by a hash of it."""
    digest = hashlib.sha256(fault_id.encode()).hexdigest()[:8]
    stem = re.sub(r"[^a-z0-9-]+", "-", fault_id.lower()).strip("-")[:40].strip("-")
    return f"genesis-{stem}-{digest}" if stem else f"genesis-{digest}"


def refusal(mode: str) -> str | None:
    """Why a NetworkChaos cannot do `mode`, or None."""
    if mode == "reset":
        return (
            "mode reset (RST to both ends of every open connection) cannot be expressed as a "
            f"Chaos Mesh {KIND}, which drops, delays or shapes packets; use partition or "
            "blackhole on Kubernetes"
        )
    return None


def _pods(namespace: str, component: str) -> dict[str, Any]:
    return {"namespaces": [namespace], "labelSelectors": {objs.LABEL_NAME: component}}


def _action(fault: FaultSpec) -> tuple[str, dict[str, Any]]:
    if fault.mode == "latency":
        delay = {
            "latency": f"{fault.latency_ms:g}ms",
            "jitter": f"{fault.jitter_ms:g}ms",
            "correlation": "0",
        }
        return "delay", {"delay": delay}
    if fault.mode == "bandwidth":
        rate = f"{max(1, round(fault.bytes_per_s))}bps"  # tc's bps: bytes per second
        return "bandwidth", {
            "bandwidth": {"rate": rate, "limit": BANDWIDTH_LIMIT, "buffer": BANDWIDTH_BUFFER}
        }
    if fault.mode == "blackhole":
        return "loss", {"loss": {"loss": "100", "correlation": "0"}}
    if fault.mode == "partition":
        return "partition", {}
    raise PermanentError(refusal(fault.mode) or f"mode {fault.mode}: unknown")


def network_chaos(route: Route, fault: FaultSpec, namespace: str) -> dict[str, Any]:
    """The NetworkChaos object for `fault` on `route` in `namespace` (pure)."""
    action, parameters = _action(fault)
    name = chaos_name(fault.id)
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {MANAGED_BY: "genesis-drill", LABEL_FAULT: name, LABEL_ROUTE: route.name},
            "annotations": {ANNOTATION_FAULT: json.dumps(fault.to_json(), sort_keys=True)},
        },
        "spec": {
            "action": action,
            "mode": "all",
            "selector": _pods(namespace, route.client),
            "direction": "to",
            "target": {"mode": "all", "selector": _pods(namespace, route.server)},
            "duration": f"{fault.duration_s:g}s",
            **parameters,
        },
    }


def _condition(obj: Mapping[str, Any], kind: str) -> bool:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return str(condition.get("status")) == "True"
    return False


def _asked(obj: Mapping[str, Any]) -> dict[str, Any]:
    raw = (objs.meta(obj).get("annotations") or {}).get(ANNOTATION_FAULT, "{}")
    try:
        value = json.loads(raw)
    except ValueError:
        value = {}
    return value if isinstance(value, dict) else {}


def phase(obj: Mapping[str, Any]) -> str:
    """`injected`, `pending` (the controller has not injected every pod yet) or `ended`."""
    experiment = (obj.get("status") or {}).get("experiment") or {}
    if experiment.get("desiredPhase") == "Stop" or _condition(obj, "AllRecovered"):
        return "ended"
    return "injected" if _condition(obj, "AllInjected") else "pending"


def ended_at(obj: Mapping[str, Any]) -> float | None:
    """When an ended object's fault ended: its AllRecovered transition, else its deadline."""
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "AllRecovered" and str(condition.get("status")) == "True":
            return objs.parse_time(condition.get("lastTransitionTime"))
    created = objs.parse_time(objs.meta(obj).get("creationTimestamp"))
    duration = _asked(obj).get("duration_s")
    if created is None or not isinstance(duration, int | float):
        return None
    return created + float(duration)


def route_state(
    route: str, objects: list[dict[str, Any]], now: float, cleared: tuple[dict[str, Any], ...]
) -> RouteState:
    """The route as its NetworkChaos objects show it (pure): the newest one in effect is the
    fault; ended ones (and those this harness deleted, `cleared`) are its history."""
    ordered = sorted(objects, key=objs.creation_order)
    history = list(cleared)
    fault: dict[str, Any] | None = None
    remaining: float | None = None
    injected = recovered = 0
    for obj in ordered:
        asked = _asked(obj)
        records = ((obj.get("status") or {}).get("experiment") or {}).get("containerRecords")
        if phase(obj) == "ended":
            history.append({"id": asked.get("id"), "ended": "expired", "ended_at": ended_at(obj)})
            continue
        fault = {**asked, "phase": phase(obj), "object": objs.meta(obj).get("name")}
        created = objs.parse_time(objs.meta(obj).get("creationTimestamp"))
        duration = asked.get("duration_s")
        remaining = None
        if created is not None and isinstance(duration, int | float):
            remaining = round(max(0.0, created + float(duration) - now), 1)
        records = [r for r in records or [] if isinstance(r, dict)]
        injected = sum(1 for r in records if r.get("phase") == "Injected")
        recovered = sum(1 for r in records if r.get("phase") == "NotInjected")
    return RouteState(
        route=route,
        listening=True,  # nothing listens in between on Kubernetes: the pods talk directly
        fault=fault,
        remaining_s=remaining,
        connections=0,
        stats={"injected_records": float(injected), "recovered_records": float(recovered)},
        history=tuple(history),
        proxied=False,
    )


class ChaosMeshNetFaults:
    """NetworkChaos objects in the target's namespace, one per fault."""

    def __init__(self, api: KubeApi) -> None:
        from kubernetes import client

        self.api = api
        self.namespace = api.namespace
        self.custom = client.CustomObjectsApi(api.api_client)
        self.cleared: list[dict[str, Any]] = []  # what this harness deleted: the route's history

    def installed(self) -> bool:
        """Whether the API server serves chaos-mesh.org/v1alpha1 networkchaos (discovery)."""
        answer = self.api.call_or_none(
            f"discovering {GROUP}/{VERSION}",
            lambda: self.custom.get_api_resources(GROUP, VERSION, _request_timeout=REQUEST_TIMEOUT),
        )
        if answer is None:
            return False
        resources = self.api.plain(answer).get("resources") or []
        return any(r.get("name") == PLURAL and r.get("namespaced") for r in resources)

    def refuses(self, name: str, mode: str) -> str | None:
        if name not in ROUTES:
            return f"route {name!r} is not a known route"
        why = refusal(mode)
        if why is not None:
            return why
        if not self.installed():
            return (
                f"{ABSENT}: network faults on Kubernetes are Chaos Mesh NetworkChaos objects; "
                "install Chaos Mesh (see the README's Kubernetes section)"
            )
        return None

    def _list(self, route: str) -> list[dict[str, Any]]:
        selector = f"{MANAGED_BY}=genesis-drill,{LABEL_ROUTE}={route}"
        answer = self.api.call(
            f"listing the {KIND} objects of route {route}",
            lambda: self.custom.list_namespaced_custom_object(
                GROUP,
                VERSION,
                self.namespace,
                PLURAL,
                label_selector=selector,
                _request_timeout=REQUEST_TIMEOUT,
            ),
        )
        items = dict(answer or {}).get("items") or []
        return [dict(item) for item in items if isinstance(item, Mapping)]

    def route(self, name: str) -> RouteState:
        if not self.installed():
            raise PermanentError(ABSENT)
        cleared = tuple(c for c in self.cleared if c.get("route") == name)
        return route_state(name, self._list(name), time.time(), cleared)

    def _get(self, chaos: str) -> dict[str, Any] | None:
        answer = self.api.call_or_none(
            f"reading the {KIND} {chaos}",
            lambda: self.custom.get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, chaos, _request_timeout=REQUEST_TIMEOUT
            ),
        )
        return dict(answer) if isinstance(answer, Mapping) else None

    def set(self, name: str, fault: dict[str, Any]) -> RouteState:
        """Create the fault's NetworkChaos and wait until Chaos Mesh reports it AllInjected;
        one that is not injected in time is deleted again (a TargetError says why)."""
        try:
            spec = FaultSpec.from_json(fault)
        except ValueError as exc:
            raise PermanentError(f"network fault on route {name}: {exc}") from exc
        why = self.refuses(name, spec.mode)
        if why is not None:
            raise PermanentError(why)
        body = network_chaos(ROUTES[name], spec, self.namespace)
        chaos = body["metadata"]["name"]
        self.api.call(
            f"creating the {KIND} {chaos}",
            lambda: self.custom.create_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, body, _request_timeout=REQUEST_TIMEOUT
            ),
        )
        deadline = time.monotonic() + INJECT_TIMEOUT_S
        while True:
            current = self._get(chaos)
            if current is not None and phase(current) == "injected":
                return self.route(name)
            if current is None or phase(current) == "ended" or time.monotonic() > deadline:
                self.clear(name, spec.id)
                raise TargetError(
                    f"Chaos Mesh did not inject the {KIND} {chaos} into every selected pod "
                    f"within {INJECT_TIMEOUT_S:.0f} s (deleted it again); see `kubectl describe "
                    f"networkchaos {chaos} -n {self.namespace}` and the chaos-daemon's logs"
                )
            time.sleep(POLL_S)

    def clear(self, name: str, fault_id: str) -> bool:
        chaos = chaos_name(fault_id)
        current = self._get(chaos)
        if current is None:
            return False
        in_effect = phase(current) != "ended"
        deleted = self.api.call_or_none(
            f"deleting the {KIND} {chaos}",
            lambda: self.custom.delete_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, chaos, _request_timeout=REQUEST_TIMEOUT
            ),
        )
        if deleted is None:
            return False  # deleted meanwhile (by someone else): nothing of it left
        ended = "cleared" if in_effect else "expired"
        at = time.time() if in_effect else ended_at(current)
        self.cleared.append({"route": name, "id": fault_id, "ended": ended, "ended_at": at})
        return in_effect
