"""Work the Kubernetes target runs inside the cluster as a Job: the malformed-events publisher.

Why: with GENESIS_K8S_MALFORMED_VIA=job the malformed messages are published from inside the
cluster instead of through a port-forward (`InClusterPublisher` in drills.faults.malformed_events);
a Job of the harness image draws the same messages from the same seed
(`k8s_objects.malformed_job` builds it), and the target waits for its outcome.
"""

from __future__ import annotations

import time

from drills.errors import TargetError
from drills.targets import k8s_objects as objs
from drills.targets.k8s_settings import KubeSettings
from drills.targets.kubernetes.api import REQUEST_TIMEOUT, KubeApi

POLL_S = 0.2


def publish_malformed(
    api: KubeApi,
    settings: KubeSettings,
    nonce: str,
    count: int,
    seed: int,
    interval_s: float,
    timeout: float,
) -> None:
    """Create the publisher Job and wait until it succeeded (TargetError when it failed)."""
    body = objs.malformed_job(
        namespace=api.namespace,
        image=settings.harness_image,
        secret_name=settings.secret_name,
        nonce=nonce,
        count=count,
        seed=seed,
        interval_s=interval_s,
    )
    name = str(body["metadata"]["name"])
    api.call(
        f"creating Job {name}",
        lambda: api.batch.create_namespaced_job(
            api.namespace, body, _request_timeout=REQUEST_TIMEOUT
        ),
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = api.plain(
            api.call(
                f"reading Job {name}",
                lambda: api.batch.read_namespaced_job(
                    name, api.namespace, _request_timeout=REQUEST_TIMEOUT
                ),
            )
        )
        outcome = objs.job_outcome(job)
        if outcome == "succeeded":
            return
        if outcome == "failed":
            raise TargetError(f"Job {name} failed: `kubectl -n {api.namespace} logs job/{name}`")
        time.sleep(POLL_S)
    raise TargetError(f"Job {name} did not finish within {timeout:.0f} s")
