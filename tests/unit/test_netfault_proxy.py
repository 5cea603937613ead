"""The fault proxy's behaviour on real loopback sockets: a real proxy process, a real upstream.

Times are asserted only as lower bounds a fault must add (a delay can only make a round trip
slower) and generous upper bounds, never as tight wall-clock speeds.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from drills.errors import FaultProxyError
from tests.netfault_support import (
    ROUTE,
    ProxyProcess,
    Upstream,
    free_port,
    recv_all,
    recv_exactly,
    wait_for,
)


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    yield server
    server.close()


@pytest.fixture
def proxy(tmp_path: Path, upstream: Upstream) -> Iterator[ProxyProcess]:
    process = ProxyProcess(tmp_path, upstream.port).start()
    yield process
    process.stop()


def _round_trip(sock: socket.socket, payload: bytes) -> float:
    started = time.monotonic()
    sock.sendall(payload)
    assert recv_exactly(sock, len(payload)) == payload
    return time.monotonic() - started


def test_idle_proxy_relays_every_byte_both_ways(proxy, upstream):
    """With no fault, 4 MiB echoed through the proxy come back identical and in order."""
    payload = bytes(range(256)) * (4 * 4096)
    with proxy.connect() as sock:
        sender = threading.Thread(target=sock.sendall, args=(payload,))
        sender.start()  # the echo comes back while we send: read it meanwhile
        assert recv_exactly(sock, len(payload)) == payload
        sender.join()
    state = proxy.state()
    assert state["fault"] is None and state["stats"]["dropped_bytes"] == 0
    assert state["stats"]["forwarded_bytes"] >= 2 * len(payload)


def test_half_open_connection_stays_half_open(proxy, upstream):
    """A client's shutdown(SHUT_WR) reaches the upstream as an EOF, and the upstream's answer
    after that EOF still reaches the client, followed by the upstream's own close."""
    with proxy.connect() as sock:
        sock.sendall(b"hello")
        assert recv_exactly(sock, 5) == b"hello"
        sock.shutdown(socket.SHUT_WR)
        assert recv_all(sock) == b"BYE"  # sent by the upstream after it saw our EOF
    wait_for(lambda: upstream.seen and upstream.seen[0].eof, 5, "the upstream to see the EOF")
    assert bytes(upstream.seen[0].data) == b"hello"


def test_latency_is_added_to_each_direction_and_order_is_kept(proxy, upstream):
    """latency 150 ms ± 50 ms: a loopback round trip takes at least 2 x 100 ms, and 50 chunks
    sent back to back come back in order (jitter never reorders)."""
    with proxy.connect() as sock:
        baseline = _round_trip(sock, b"x")
        proxy.set(mode="latency", latency_ms=150, jitter_ms=50, duration_s=30, id="lat")
        trips = [_round_trip(sock, b"ping") for _ in range(5)]
        assert min(trips) >= 0.2, trips
        assert max(trips) < 5.0, trips
        chunks = [f"{i:04d}".encode() for i in range(50)]
        for chunk in chunks:
            sock.sendall(chunk)
        assert recv_exactly(sock, 200) == b"".join(chunks)
    state = proxy.state()
    assert state["stats"]["delayed_chunks"] >= 10
    print(f"round trip {baseline * 1000:.2f} ms idle, {min(trips) * 1000:.0f} ms with latency")


def test_bandwidth_limit_within_a_generous_bound(proxy, upstream):
    """400 kbit/s (50 kB/s) per direction: 100 kB echoed takes at least ~2 s, at most 30 s."""
    payload = b"b" * 100_000
    with proxy.connect(timeout=40) as sock:
        proxy.set(mode="bandwidth", bandwidth_kbps=400, duration_s=60, id="bw")
        took = _round_trip(sock, payload)
    assert 1.8 <= took <= 30, took


def test_blackhole_drops_bytes_and_keeps_the_connection_open(proxy, upstream):
    """During a blackhole nothing crosses either way and nothing is closed: the client's socket
    stays open (no EOF, no reset) even after the upstream closes its side; a new connection is
    accepted and held; when the blackhole ends, the stream that lost bytes is reset and a new
    connection works again."""
    with proxy.connect() as sock:
        assert _round_trip(sock, b"before") < 5
        proxy.set(mode="blackhole", duration_s=2.5, id="bh")
        sock.sendall(b"lost")
        sock.settimeout(0.8)
        with pytest.raises(TimeoutError):
            sock.recv(10)  # no echo, no EOF, no reset: the connection is open and silent
        upstream.conns[0].close()  # the upstream hangs up: the client must not hear of it
        with proxy.connect() as second:  # accepted and held
            second.sendall(b"hello?")
            second.settimeout(0.5)
            with pytest.raises(TimeoutError):
                second.recv(10)
        with pytest.raises(TimeoutError):
            sock.recv(10)
        assert bytes(upstream.seen[0].data) == b"before"
        assert len(upstream.seen) == 1  # the held connection was never passed on
        state = proxy.state()
        assert state["fault"]["mode"] == "blackhole" and state["stats"]["dropped_bytes"] >= 10
        sock.settimeout(10)
        with pytest.raises(ConnectionResetError):  # at the deadline: a stream with a hole
            while sock.recv(10):
                pass
    with proxy.connect() as sock:
        assert _round_trip(sock, b"after") < 5
    history = proxy.state()["history"]
    assert history[-1]["id"] == "bh" and history[-1]["ended"] == "expired"


def test_reset_resets_open_connections_and_new_ones_during_its_window(proxy, upstream):
    """reset: the open connection gets an RST; for duration_s new ones are reset on accept."""
    with proxy.connect() as sock:
        assert _round_trip(sock, b"hi") < 5
        proxy.set(mode="reset", duration_s=1.5, id="rst")
        with pytest.raises(ConnectionResetError):
            sock.recv(10)
    # at once (connect) or on first use
    with pytest.raises((ConnectionResetError, BrokenPipeError)), proxy.connect() as sock:
        sock.sendall(b"x")
        sock.recv(10)
    wait_for(lambda: proxy.state()["fault"] is None, 10, "the reset window to end")
    with proxy.connect() as sock:
        assert _round_trip(sock, b"again") < 5


def test_partition_refuses_connections_until_it_heals(proxy, upstream):
    """partition: open connections are reset and new ones refused, until the deadline."""
    with proxy.connect() as sock:
        proxy.set(mode="partition", duration_s=2, id="part")
        with pytest.raises(ConnectionResetError):
            sock.recv(10)
    with pytest.raises(ConnectionRefusedError):
        proxy.connect()
    wait_for(lambda: proxy.state()["listening"], 10, "the partition to heal")
    with proxy.connect() as sock:
        assert _round_trip(sock, b"healed") < 5
    assert proxy.state()["history"][-1]["ended"] == "expired"


def test_a_fault_ends_at_its_deadline_with_nobody_clearing_it(proxy, upstream):
    """The harness may die: a 1 s blackhole ends by itself and traffic flows again."""
    proxy.set(mode="blackhole", duration_s=1, id="orphan")
    assert proxy.state()["remaining_s"] > 0
    wait_for(lambda: proxy.state()["fault"] is None, 10, "the deadline")
    with proxy.connect() as sock:
        assert _round_trip(sock, b"free") < 5
    assert proxy.state()["history"][-1] == {
        **proxy.state()["history"][-1],
        "id": "orphan",
        "ended": "expired",
    }


def test_clear_names_the_fault_it_clears(proxy, upstream):
    """A rollback clears only its own fault: a wrong id leaves the fault in place."""
    proxy.set(mode="latency", latency_ms=50, duration_s=60, id="mine")
    assert proxy.client.clear_fault(ROUTE, "someone-else") is False
    assert proxy.state()["fault"]["id"] == "mine"
    assert proxy.client.clear_fault(ROUTE, "mine") is True
    assert proxy.state()["fault"] is None
    assert proxy.client.clear_fault(ROUTE, "mine") is False  # idempotent


def test_restarted_proxy_starts_clean_and_relays_again(proxy, upstream):
    """A proxy killed with a fault in effect comes back without it (faults live in memory and
    a fault must never outlive its proxy), on the same port, relaying again."""
    proxy.set(mode="blackhole", duration_s=600, id="before-crash")
    sock = proxy.connect()
    proxy.kill()
    sock.settimeout(5)
    with contextlib.suppress(ConnectionResetError):  # the kernel closed it: a FIN or an RST
        assert sock.recv(10) == b""
    sock.close()
    with pytest.raises(ConnectionRefusedError):
        proxy.connect()
    proxy.start()
    assert proxy.state()["fault"] is None
    with proxy.connect() as again:
        assert _round_trip(again, b"back") < 5


def test_upstream_down_is_a_reset_for_the_client(tmp_path):
    """No server behind the route: the client's connection is reset, the proxy keeps going."""
    process = ProxyProcess(tmp_path, free_port()).start()
    try:
        # at once (connect) or on first use
        with pytest.raises((ConnectionResetError, BrokenPipeError)), process.connect() as sock:
            sock.sendall(b"x")
            sock.recv(10)
        wait_for(lambda: process.state()["stats"]["upstream_failures"] == 1, 5, "the failure")
    finally:
        process.stop()


def test_control_refuses_strangers_and_bad_faults(proxy):
    """Without the token nothing is changed; a bad fault is refused naming its field."""
    stranger = type(proxy.client)(proxy.control_port, "wrong-token")
    with pytest.raises(FaultProxyError, match="bearer token"):
        stranger.set_fault(ROUTE, {"mode": "blackhole", "duration_s": 5})
    with pytest.raises(FaultProxyError, match="duration_s: required"):
        proxy.set(mode="blackhole")
    with pytest.raises(FaultProxyError, match="latency_ms: not a parameter of mode blackhole"):
        proxy.set(mode="blackhole", duration_s=5, latency_ms=10)
    with pytest.raises(FaultProxyError, match="duration_s: must be within"):
        proxy.set(mode="partition", duration_s=7200)
    with pytest.raises(FaultProxyError, match="no route"):
        proxy.client.set_fault("nope", {"mode": "blackhole", "duration_s": 5})
    assert proxy.state()["fault"] is None
