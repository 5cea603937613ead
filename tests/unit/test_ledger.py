"""Ledger arithmetic over the canary range of a generator run."""

from __future__ import annotations

from drills.ledger import GeneratorMark, compute, reconcile


def test_all_events_stored_once_means_nothing_lost_or_duplicated():
    """Confirmed = size of the canary range; lost and duplicated are 0 when rows match."""
    ledger = compute("run", 101, 600, rows=500, distinct=500, dead_lettered=0)
    assert (ledger.confirmed, ledger.stored, ledger.lost, ledger.duplicated) == (500, 500, 0, 0)


def test_missing_rows_are_lost_and_extra_rows_are_duplicates():
    """Distinct sequence numbers short of the range are lost; rows beyond distinct are twins."""
    ledger = compute("run", 1, 1000, rows=1003, distinct=990, dead_lettered=4)
    assert ledger.lost == 10
    assert ledger.duplicated == 13
    assert ledger.dead_lettered == 4


def test_empty_range_is_all_zero():
    """A drill during which the generator produced nothing accounts for nothing."""
    ledger = compute("run", 51, 50, rows=0, distinct=0, dead_lettered=0)
    assert (ledger.confirmed, ledger.lost, ledger.duplicated) == (0, 0, 0)


def test_generator_restart_makes_the_range_unknowable():
    """A changed run id means the canary range is broken: say so instead of inventing figures."""
    before = GeneratorMark("run-a", 10, 10, 0, 300.0)
    after = GeneratorMark("run-b", 5, 5, 0, 300.0)
    ledger = reconcile("host=127.0.0.1 port=9", before, after, dead_lettered=0)
    assert "restarted" in ledger.note
    assert ledger.confirmed == 0


def test_generator_client_verifies_tls_for_https_only():
    """http needs no CA bundle (start-up cost); an https admin URL keeps certificate checks."""
    import ssl

    import httpx

    from drills.ledger import GeneratorClient

    def verify_mode(url: str) -> ssl.VerifyMode:
        client = GeneratorClient(url, "token")
        try:
            transport = client._http._transport
            assert isinstance(transport, httpx.HTTPTransport)
            context = transport._pool._ssl_context
            assert context is not None
            return context.verify_mode
        finally:
            client.close()

    assert verify_mode("https://generator.example:8443") == ssl.CERT_REQUIRED
    assert verify_mode("HTTPS://generator.example:8443") == ssl.CERT_REQUIRED
    assert verify_mode("http://127.0.0.1:28130") == ssl.CERT_NONE
