"""The Kubernetes API as the target uses it: one namespace, and every failure translated here.

Why one module: httpx-style, third-party errors are mapped in exactly one place. Every call goes
through `KubeApi.call` (or `call_or_none` where a 404 is an answer, not a failure): an
`ApiException` becomes a `PermanentError` when waiting cannot help (403 forbidden, 404 not found,
401, 422 invalid) and a `TemporaryError` when it may (409 conflict, 429, 5xx) — `drills.retry`
retries only those — and an unreachable server is temporary too; each message says what was being
done and why, raised `from` the original. Answers are turned into their JSON form at once
(`plain`): `k8s_objects` reads dicts, never the client's models.

The `kubernetes` client is imported inside the functions that need it (never at module level), so
that importing the target for an `isinstance` check or `--help` does not load it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from drills.errors import PermanentError, TargetError, TemporaryError

T = TypeVar("T")
REQUEST_TIMEOUT = (5.0, 30.0)  # connect, read (seconds) for every non-watch call
NOT_FOUND = 404


class KubeApi:
    """The client's API groups bound to one namespace, with the error translation."""

    def __init__(self, api_client: Any, namespace: str, context_name: str) -> None:
        from kubernetes import client

        self.api_client = api_client
        self.namespace = namespace
        self.context_name = context_name
        self.core = client.CoreV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.batch = client.BatchV1Api(api_client)

    @property
    def server(self) -> str:
        return str(getattr(self.api_client.configuration, "host", "?"))

    def call(self, what: str, call: Callable[[], T]) -> T:
        """Run one API call; every failure becomes a TargetError naming `what`."""
        import urllib3.exceptions
        from kubernetes.client.exceptions import ApiException

        try:
            return call()
        except ApiException as exc:
            raise self.error(what, exc.status, exc.reason) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise TemporaryError(
                f"{what}: the Kubernetes API server {self.server} is unreachable "
                f"({type(exc).__name__}); check the kube context {self.context_name!r}"
            ) from exc

    def call_or_none(self, what: str, call: Callable[[], T]) -> T | None:
        """Like `call`, but a 404 (the object does not exist) is None instead of an error."""
        from kubernetes.client.exceptions import ApiException

        def absent_is_none() -> T | None:
            try:
                return call()
            except ApiException as exc:
                if exc.status == NOT_FOUND:
                    return None
                raise

        return self.call(what, absent_is_none)

    def error(self, what: str, status: int | None, reason: str | None) -> TargetError:
        """The error for an API answer `status`: temporary when waiting may help, else permanent.

        Waiting cannot grant a permission or create a missing object: those fail at once; a
        conflict, a 429 or a server error may pass.
        """
        code = status or 0
        kind = TemporaryError if code in (409, 429) or code >= 500 else PermanentError
        return kind(self.explain(what, status, reason))

    def explain(self, what: str, status: int | None, reason: str | None) -> str:
        ns = self.namespace
        if status == 403:
            return (
                f"{what}: forbidden (403) in namespace {ns!r} — the identity of context "
                f"{self.context_name!r} lacks the RBAC permission (see the genesis-drill Role "
                "in manifests/)"
            )
        if status == NOT_FOUND:
            return f"{what}: not found (404) in namespace {ns!r} — is AuditFlow deployed there?"
        if status == 401:
            return f"{what}: unauthorized (401) — the credentials of {self.context_name!r} expired?"
        return f"{what}: the Kubernetes API answered {status} {reason or ''}".rstrip()

    def plain(self, model: Any) -> dict[str, Any]:
        """The JSON form of a client model (what the server sent)."""
        value = self.api_client.sanitize_for_serialization(model)
        return value if isinstance(value, dict) else {}
