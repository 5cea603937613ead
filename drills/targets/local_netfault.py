"""`NetFaults` on the local sandbox: the fault proxy's control channel (drills.netfault).

The proxy is a supervised program; its faults live in its memory only. So when its control port
does not answer at all, no fault can be in effect there (a restarted proxy starts clean), and
`clear` says so instead of failing a rollback — but only after retrying for a few seconds, while
supervisord brings a crashed proxy back.
"""

from __future__ import annotations

import time
from typing import Any

from drills.errors import FaultProxyError
from drills.netfault.client import ControlClient
from drills.targets.netfault import RouteState

UNREACHABLE_GRACE_S = 5.0


class LocalNetFaults:
    def __init__(self, port: int, token: str) -> None:
        self.client = ControlClient(port, token)

    def refuses(self, name: str, mode: str) -> str | None:
        return None  # the proxy does every mode (drills.netfault.faults)

    def route(self, name: str) -> RouteState:
        return RouteState.from_json(self.client.route(name))

    def set(self, name: str, fault: dict[str, Any]) -> RouteState:
        return RouteState.from_json(self.client.set_fault(name, fault))

    def clear(self, name: str, fault_id: str) -> bool:
        deadline = time.monotonic() + UNREACHABLE_GRACE_S
        while True:
            try:
                return self.client.clear_fault(name, fault_id)
            except FaultProxyError as exc:
                if not exc.unreachable:
                    raise
                if time.monotonic() > deadline:
                    return False  # no proxy running: it holds no fault
                time.sleep(0.25)
