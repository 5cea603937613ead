"""Where the Kubernetes target's credentials come from: the pod's service account or a kubeconfig.

Why its own module: a kubeconfig is user input, and every way it can be unusable — missing, not a
regular file, not YAML, YAML that is not a kubeconfig, no current context, an unknown context —
must end as one `InvalidInput` naming the file (exit 2), never a traceback: the client's loader
raises anything from ConfigException to TypeError on garbage. Parse errors are reported by line,
never quoted: a kubeconfig holds tokens.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from drills.errors import InvalidInput, TargetError
from drills.targets.k8s_settings import KubeSettings

NO_CONTEXT = (
    "no current context; choose one with `kubectl config use-context` or GENESIS_K8S_CONTEXT"
)


def load_client(settings: KubeSettings) -> tuple[Any, str]:
    """An ApiClient and the name of its context: in-cluster service account, else kubeconfig."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    if settings.in_cluster:
        try:
            configuration = client.Configuration()
            config.load_incluster_config(client_configuration=configuration)
        except ConfigException as exc:
            raise TargetError(f"no usable in-cluster Kubernetes credentials: {exc}") from exc
        return client.ApiClient(configuration), "in-cluster service account"
    files = kubeconfig_files(settings)
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
    return api_client, str(chosen)


def kubeconfig_files(settings: KubeSettings) -> list[Path]:
    """The files the client reads: GENESIS_K8S_KUBECONFIG, else KUBECONFIG (a list), else ~/.kube"""
    if settings.kubeconfig is not None:
        return [settings.kubeconfig]
    raw = os.environ.get("KUBECONFIG") or "~/.kube/config"
    return [Path(part).expanduser() for part in raw.split(os.pathsep) if part]
