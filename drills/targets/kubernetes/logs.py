"""The components' pod logs, for the post-mortem's log evidence (`HasLogs` on Kubernetes).

What `kubectl logs --since=… --timestamps --limit-bytes=…` does, through the official client's
`read_namespaced_pod_log`, for every container of every live pod of every component. The
server's timestamp prefix gives a time to lines that carry none (`drills.log_lines`). The body is
read as bytes (`_preload_content=False`): the client would otherwise decode it as UTF-8 and fail
on a line that is not. Pods deleted during the drill — a pod-kill's victim — are gone from the
API with their logs, and the note says so: a cluster's log collector keeps those.
"""

from __future__ import annotations

import math
import time
from typing import Any

from drills.errors import TargetError
from drills.log_evidence import Source
from drills.secret import Secret
from drills.targets import k8s_objects as objs
from drills.targets.kubernetes.api import REQUEST_TIMEOUT, KubeApi
from drills.targets.kubernetes.workloads import Workloads
from drills.targets.logs import LogRead

DELETED_PODS = (
    "pods deleted during the run (a pod kill's victim) took their logs with them; "
    "a cluster log collector keeps those"
)


def read_pod_logs(
    api: KubeApi, workloads: Workloads, since: float, max_bytes: int, secrets: list[Secret]
) -> LogRead:
    """Every live pod's containers' lines since `since`; a component whose pods cannot be
    listed or read is named in the note, the others are still read."""
    since_seconds = max(1, math.ceil(time.time() - since) + 1)
    sources: list[Source] = []
    problems: list[str] = []
    for component in objs.WORKLOADS:
        try:
            pods, _ = workloads.pods(component)
        except TargetError as exc:
            problems.append(f"{component} ({exc})")
            continue
        for pod in pods:
            name = str(objs.meta(pod).get("name"))
            containers: list[str | None] = [
                str(c.get("name"))
                for c in ((pod.get("spec") or {}).get("containers") or [])
                if isinstance(c, dict) and c.get("name")
            ] or [None]
            for container in containers:
                label = component if len(containers) == 1 else f"{component}/{container}"
                try:
                    data = _read(api, name, container, since_seconds, max_bytes)
                except TargetError as exc:
                    problems.append(f"{label} ({exc})")
                    continue
                cut = len(data) >= max_bytes
                note = f"read stopped at {max_bytes // (1024 * 1024)} MB" if cut else ""
                sources.append(Source(label, data.splitlines(), cut, note))
    note = "; ".join(
        filter(None, [f"not read: {', '.join(problems)}" if problems else "", DELETED_PODS])
    )
    return LogRead(sources, secrets, note)


def _read(
    api: KubeApi, pod: str, container: str | None, since_seconds: int, max_bytes: int
) -> bytes:
    def call() -> bytes:
        kwargs: dict[str, Any] = {"container": container} if container else {}
        response = api.core.read_namespaced_pod_log(
            pod,
            api.namespace,
            since_seconds=since_seconds,
            timestamps=True,
            limit_bytes=max_bytes,
            _preload_content=False,
            _request_timeout=REQUEST_TIMEOUT,
            **kwargs,
        )
        try:
            data = response.data
        finally:
            response.release_conn()
        return data if isinstance(data, bytes) else str(data).encode()

    return api.call(f"reading the log of pod {pod}", call)
