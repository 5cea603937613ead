"""Talking to the sandbox's supervisord: start it, ask it about programs, signal them, shut it down.

This is the only module that speaks supervisord's XML-RPC API; its faults and socket errors become
`TargetError`s here. The local target's "pod kill" is `signal(name, "KILL")` on the program's
process group, which supervisord then restarts as a Deployment would.
"""

from __future__ import annotations

import http.client
import subprocess
import sys
import time
import xmlrpc.client
from dataclasses import dataclass
from typing import Any, cast

from drills.errors import TargetError, TemporaryError
from drills.sandbox.layout import Layout, Ports
from drills.sandbox.secrets import SandboxSecrets


@dataclass(frozen=True)
class ProcessInfo:
    """supervisord's view of one program."""

    name: str
    state: str
    pid: int
    start: int
    description: str
    exit_status: int


class _TimeoutTransport(xmlrpc.client.Transport):
    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        connection = super().make_connection(host)
        connection.timeout = self._timeout
        return connection


class Supervisor:
    """A client for one sandbox's supervisord."""

    def __init__(
        self, layout: Layout, ports: Ports, secrets: SandboxSecrets, timeout: float = 10.0
    ) -> None:
        self.layout = layout
        self.ports = ports
        password = secrets.supervisord.reveal()
        self._url = f"http://genesis:{password}@127.0.0.1:{ports.of('supervisord')}/RPC2"
        self._timeout = timeout

    def _proxy(self, timeout: float | None = None) -> Any:
        transport = _TimeoutTransport(timeout or self._timeout)
        return xmlrpc.client.ServerProxy(self._url, transport=transport)

    def _call(self, method: str, *args: Any, timeout: float | None = None) -> Any:
        proxy = self._proxy(timeout)
        target = proxy
        for part in method.split("."):
            target = getattr(target, part)
        try:
            return target(*args)
        except xmlrpc.client.Fault as fault:
            raise TargetError(f"supervisord refused {method}{args}: {fault.faultString}") from fault
        except (OSError, xmlrpc.client.ProtocolError, http.client.HTTPException) as exc:
            raise TemporaryError(
                f"supervisord at 127.0.0.1:{self.ports.of('supervisord')} is not answering "
                f"({type(exc).__name__}); is the sandbox up? (`genesis-drill platform up`)"
            ) from exc

    def running(self) -> bool:
        try:
            state = self._call("supervisor.getState")
        except TargetError:
            return False
        return bool(state.get("statename") == "RUNNING")

    def start_daemon(self) -> None:
        """Start supervisord (it daemonizes) and wait until its API answers."""
        conf = self.layout.supervisord_conf
        result = subprocess.run(
            [sys.executable, "-m", "supervisor.supervisord", "-c", str(conf)],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        if result.returncode != 0:
            raise TargetError(
                f"supervisord failed to start with {conf}: "
                f"{(result.stderr or result.stdout).strip()[-500:]}"
            )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.running():
                return
            time.sleep(0.1)
        raise TargetError(f"supervisord did not answer within 15 s; see {self.layout.logs}")

    def daemon_pid(self) -> int | None:
        try:
            return int(self._call("supervisor.getPID"))
        except TargetError:
            return None

    def processes(self) -> list[ProcessInfo]:
        raw = cast(list[dict[str, Any]], self._call("supervisor.getAllProcessInfo"))
        return [
            ProcessInfo(
                name=item["name"],
                state=item["statename"],
                pid=int(item["pid"]),
                start=int(item["start"]),
                description=item["description"],
                exit_status=int(item["exitstatus"]),
            )
            for item in raw
        ]

    def process(self, name: str) -> ProcessInfo:
        item = self._call("supervisor.getProcessInfo", name)
        return ProcessInfo(
            name=item["name"],
            state=item["statename"],
            pid=int(item["pid"]),
            start=int(item["start"]),
            description=item["description"],
            exit_status=int(item["exitstatus"]),
        )

    def start(self, name: str, wait: bool = True) -> None:
        self._call("supervisor.startProcess", name, wait)

    def stop(self, name: str, wait: bool = True) -> None:
        self._call("supervisor.stopProcess", name, wait)

    def signal(self, name: str, signal_name: str) -> None:
        self._call("supervisor.signalProcess", name, signal_name)

    def reload_config(self) -> None:
        """Apply a rewritten configuration: add new programs, restart changed ones."""
        added, changed, removed = self._call("supervisor.reloadConfig")[0]
        for name in removed:
            self._call("supervisor.stopProcessGroup", name)
            self._call("supervisor.removeProcessGroup", name)
        for name in changed:
            self._call("supervisor.stopProcessGroup", name)
            self._call("supervisor.removeProcessGroup", name)
            self._call("supervisor.addProcessGroup", name)
        for name in added:
            self._call("supervisor.addProcessGroup", name)

    def stop_all(self) -> None:
        # Stops in reverse priority order: services first, then brokers and databases; each may
        # take up to its stopwaitsecs, so the call gets a long timeout.
        self._call("supervisor.stopAllProcesses", True, timeout=300)

    def shutdown(self) -> None:
        self._call("supervisor.shutdown")
