"""A real fault proxy process and a real upstream for the proxy's tests (no mocks: sockets).

`ProxyProcess` runs `python -m drills.netfault` with one route to an `Upstream`, a threaded TCP
server that echoes what it receives, answers an EOF with `BYE` before closing (so a half-close
is visible), and records what each of its connections saw.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drills.netfault.client import ControlClient

TOKEN = "netfault-test-token-5e1d"
ROUTE = "test-route"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Seen:
    """What one upstream connection received, and how it ended."""

    data: bytearray = field(default_factory=bytearray)
    eof: bool = False
    reset: bool = False


class Upstream:
    """Echo server on 127.0.0.1: echoes, says BYE on EOF, records every connection."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port: int = self.sock.getsockname()[1]
        self.seen: list[Seen] = []
        self.conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            seen = Seen()
            self.seen.append(seen)
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn, seen), daemon=True).start()

    def _serve(self, conn: socket.socket, seen: Seen) -> None:
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    seen.eof = True
                    conn.sendall(b"BYE")
                    conn.close()
                    return
                seen.data += data
                conn.sendall(data)
        except ConnectionResetError:
            seen.reset = True
        except OSError:
            pass

    def close(self) -> None:
        # shutdown() wakes the accept() blocked in the thread; close() alone would not, and the
        # socket would keep listening until it returned.
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.close()


class ProxyProcess:
    """The proxy program with route `test-route` → `upstream_port`."""

    def __init__(self, tmp: Path, upstream_port: int, route: str = ROUTE) -> None:
        self.route = route
        self.token_file = tmp / "token"
        self.token_file.write_text(TOKEN)
        self.control_port = free_port()
        self.listen_port = free_port()
        self.upstream_port = upstream_port
        self.log = tmp / "proxy.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.client = ControlClient(self.control_port, TOKEN)

    def start(self) -> ProxyProcess:
        argv = [
            sys.executable,
            "-m",
            "drills.netfault",
            "--control",
            str(self.control_port),
            "--token-file",
            str(self.token_file),
            "--route",
            f"{self.route}={self.listen_port}:{self.upstream_port}",
        ]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=log, env=dict(os.environ))
        deadline = time.monotonic() + 20
        while not self.client.healthy():
            assert self.process.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, "proxy not healthy within 20 s"
            time.sleep(0.05)
        return self

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def connect(self, timeout: float = 5.0) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.listen_port), timeout=timeout)

    def state(self) -> dict[str, Any]:
        return self.client.route(self.route)

    def set(self, **fault: Any) -> dict[str, Any]:
        return self.client.set_fault(self.route, fault)


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    out = bytearray()
    while len(out) < size:
        chunk = sock.recv(size - len(out))
        if not chunk:
            break
        out += chunk
    return bytes(out)


def recv_all(sock: socket.socket) -> bytes:
    out = bytearray()
    while chunk := sock.recv(65536):
        out += chunk
    return bytes(out)


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
