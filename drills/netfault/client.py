"""A synchronous client of the proxy's control channel (the harness's side, and the tests').

Errors are `drills.errors.FaultProxyError` (a TargetError); its `unreachable` tells "nobody
listens on the control port" (the proxy is not running: a restarted proxy starts without faults)
from a refusal by a running one.
"""

from __future__ import annotations

from typing import Any

import httpx

from drills.errors import FaultProxyError

TIMEOUT_S = 5.0


class ControlClient:
    def __init__(self, port: int, token: str, host: str = "127.0.0.1") -> None:
        self.base = f"http://{host}:{port}"
        self._token = token

    def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        try:
            response = httpx.request(
                method,
                self.base + path,
                json=body,
                params=params,
                headers={"Authorization": f"Bearer {self._token}"},
                timeout=TIMEOUT_S,
            )
        except httpx.ConnectError as exc:
            raise FaultProxyError(
                f"fault proxy control {self.base} unreachable: {exc}", unreachable=True
            ) from exc
        except httpx.HTTPError as exc:
            raise FaultProxyError(f"fault proxy control {self.base}: {type(exc).__name__}") from exc
        try:
            payload = response.json()
        except ValueError as exc:
            raise FaultProxyError(f"fault proxy answered {response.status_code}, not JSON") from exc
        if response.status_code != 200:
            error = payload.get("error") if isinstance(payload, dict) else payload
            raise FaultProxyError(f"fault proxy refused {method} {path}: {error}")
        return payload

    def routes(self) -> dict[str, dict[str, Any]]:
        payload = self._call("GET", "/routes")
        routes: dict[str, dict[str, Any]] = payload["routes"]
        return routes

    def route(self, name: str) -> dict[str, Any]:
        state: dict[str, Any] = self._call("GET", f"/routes/{name}/fault")
        return state

    def set_fault(self, name: str, fault: dict[str, Any]) -> dict[str, Any]:
        state: dict[str, Any] = self._call("PUT", f"/routes/{name}/fault", fault)
        return state

    def clear_fault(self, name: str, fault_id: str | None = None) -> bool:
        params = {"id": fault_id} if fault_id else None
        payload = self._call("DELETE", f"/routes/{name}/fault", params=params)
        return bool(payload["cleared"])

    def healthy(self) -> bool:
        try:
            return httpx.get(self.base + "/healthz", timeout=TIMEOUT_S).status_code == 200
        except httpx.HTTPError:
            return False
