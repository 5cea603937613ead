"""The refusal watch against a real loopback listener: it reports the first refused connection
after the port closes, within its stated precision, and is void for a port that never accepted."""

from __future__ import annotations

import socket
import threading
import time

from drills.faults.refusal_watch import RefusalWatch


def _listener() -> socket.socket:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.close()

    threading.Thread(target=accept, daemon=True).start()
    return server


def test_first_refusal_is_seen_within_its_precision_after_the_port_closes():
    server = _listener()
    port = server.getsockname()[1]
    with RefusalWatch("127.0.0.1", port, interval_s=0.02) as watch:
        time.sleep(0.3)  # accepting for a while: no refusal yet
        assert watch.first_refused_at is None
        closed_at = time.time()
        server.close()
        refused = watch.wait(2.0)
    assert watch.accepted_first and watch.attempts > 3
    assert refused is not None
    assert closed_at <= refused <= closed_at + watch.precision_s
    assert "first refused connection to 127.0.0.1" in watch.describe()


def test_a_port_that_never_accepted_gives_no_time():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there
    with RefusalWatch("127.0.0.1", port) as watch:
        refused = watch.wait(0.2)
    assert refused is None and not watch.accepted_first


def test_the_watch_stops_when_told_even_if_the_port_stays_open():
    server = _listener()
    started = time.monotonic()
    with RefusalWatch("127.0.0.1", server.getsockname()[1]) as watch:
        pass
    assert watch.first_refused_at is None
    assert time.monotonic() - started < 2.0
    assert not watch._thread.is_alive()
    server.close()
