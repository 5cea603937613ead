"""Ledger arithmetic over the canary range of a generator run: the old counts and Jepsen's
categories (ok / fail / info; lost, recovered, unexpected, duplicated)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drills import intervals as iv
from drills.errors import OutcomesUnavailable
from drills.ledger import GeneratorMark, Outside, compute
from drills.outcomes import PublishOutcomes
from drills.reconcile import reconcile


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


# --- Jepsen categories (issue 13) ---------------------------------------------------------------

SETS = st.lists(st.integers(0, 60), max_size=40).map(set)


def _as_intervals(members: set[int]) -> iv.Intervals:
    return iv.normalise([n, n] for n in members)


@given(SETS, SETS)
def test_interval_algebra_matches_python_sets(a: set[int], b: set[int]) -> None:
    ia, ib = _as_intervals(a), _as_intervals(b)

    def members(x: iv.Intervals) -> set[int]:
        return {n for lo, hi in x for n in range(lo, hi + 1)}

    assert members(iv.intersect(ia, ib)) == a & b
    assert members(iv.subtract(ia, ib)) == a - b
    assert members(iv.union(ia, ib)) == a | b
    assert iv.size(ia) == len(a)
    assert iv.sample(ia, 5) == tuple(sorted(a)[:5])


def _outcomes(first, last, info=(), fail=(), unpublished=(), had_info=None, had_fail=0):
    info, fail, unpublished = (iv.normalise(x) for x in (info, fail, unpublished))
    ok = (last - first + 1) - iv.size(info) - iv.size(fail) - iv.size(unpublished)
    had = iv.size(info) if had_info is None else had_info
    return PublishOutcomes("run", first, last, 1, ok, had, had_fail, info, fail, unpublished)


def test_every_jepsen_category_of_the_canary_range():
    """Range 1-20: 5-6 unconfirmed at a connection loss (info), 9 nacked (fail), 15-16 never
    published; stored: everything but 3 and 6 and 9 and 15, seq 4 twice. So 3 is lost (ok,
    absent), 5 recovered (info, present), 6 stays info (absent, not lost), 16 and two rows
    outside anything published are unexpected, and 4 is duplicated."""
    outcomes = _outcomes(1, 20, info=[[5, 6]], fail=[[9, 9]], unpublished=[[15, 16]])
    stored = iv.normalise([[1, 2], [4, 5], [7, 8], [10, 14], [16, 20]])
    distinct = iv.size(stored)
    ledger = compute(
        "run",
        1,
        20,
        rows=distinct + 1,
        distinct=distinct,
        dead_lettered=0,
        stored=stored,
        outcomes=outcomes,
        outside=Outside(2, (0, 25)),
    )
    assert (ledger.published, ledger.confirmed, ledger.failed, ledger.info) == (18, 15, 1, 2)
    assert ledger.unpublished == 2
    assert ledger.confirmed + ledger.failed + ledger.info + ledger.unpublished == 20
    assert (ledger.lost, ledger.missing_sample) == (1, (3,))
    assert ledger.recovered == 1
    assert (ledger.unexpected, ledger.unexpected_sample) == (3, (16, 0, 25))
    assert ledger.duplicated == 1
    assert ledger.stored == 16
    assert (ledger.info_sample, ledger.fail_sample) == ((5, 6), (9,))
    assert ledger.outcomes_source.startswith("generator")


def test_a_confirm_lost_with_the_connection_is_info_never_lost():
    """Seqs 7-9 were in flight when the connection dropped and never re-confirmed, and are
    absent: info 3, lost 0. The same rows judged without outcomes (every event assumed
    confirmed) call them lost — the distinction this ledger exists to make."""
    outcomes = _outcomes(1, 10, info=[[7, 9]])
    stored = iv.normalise([[1, 6], [10, 10]])
    jepsen = compute("run", 1, 10, 7, 7, 0, stored=stored, outcomes=outcomes)
    assert (jepsen.confirmed, jepsen.info, jepsen.lost, jepsen.recovered) == (7, 3, 0, 0)
    assumed = compute("run", 1, 10, 7, 7, 0, stored=stored)
    assert (assumed.confirmed, assumed.lost, assumed.missing_sample) == (10, 3, (7, 8, 9))
    assert assumed.outcomes_source.startswith("assumed")


def test_a_confirmed_event_re_published_after_a_loss_is_ok_and_counted_as_had_info():
    """Confirmed at the second attempt: ok (not info), but `had_info` says it was re-published."""
    outcomes = _outcomes(1, 10, had_info=4)
    ledger = compute("run", 1, 10, 10, 10, 0, stored=iv.span(1, 10), outcomes=outcomes)
    assert (ledger.confirmed, ledger.info, ledger.had_info, ledger.lost) == (10, 0, 4, 0)


def test_duplicates_are_counted_on_seq_not_on_event_id():
    """Two rows for seq 4 under two event ids (a second writer as the generator): the store's
    primary key lets both in; the ledger counts 1 duplicated from rows vs distinct seqs."""
    ledger = compute(
        "run",
        1,
        5,
        rows=6,
        distinct=5,
        dead_lettered=0,
        stored=iv.span(1, 5),
        outcomes=_outcomes(1, 5),
    )
    assert (ledger.duplicated, ledger.lost, ledger.unexpected) == (1, 0, 0)


def _answer(**changes):
    raw = {
        "run_id": "run",
        "first": 1,
        "last": 10,
        "last_seq": 12,
        "known_from": 1,
        "generated": 10,
        "ok": 7,
        "info": 2,
        "fail": 1,
        "unpublished": 0,
        "had_info": 2,
        "had_fail": 1,
        "info_seqs": [[3, 4]],
        "fail_seqs": [[8, 8]],
        "unpublished_seqs": [],
        "truncated": False,
    }
    return {**raw, **changes}


def test_outcomes_answer_is_read_strictly():
    outcomes = PublishOutcomes.from_json(_answer(), "run", 1, 10)
    assert outcomes.ok_seqs == ((1, 2), (5, 7), (9, 10))


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"run_id": "other"}, "restarted"),
        ({"truncated": True}, "truncated"),
        ({"known_from": 5}, "only from seq 5"),
        ({"ok": 8}, "ok = 8"),
        ({"info": 3}, "info = 3"),
        ({"info_seqs": [[3, 4]], "fail_seqs": [[4, 4]], "fail": 1, "ok": 8}, "overlap"),
        ({"info_seqs": "3-4"}, "'info_seqs' is not a list"),
        ({"info_seqs": [[3, "4"]]}, "not an interval"),
        ({"generated": 9}, "generated = 9"),
        ({"ok": -1}, "'ok' is not a count"),
        ({"first": 2}, "answered for [2, 10]"),
    ],
)
def test_an_outcomes_answer_that_does_not_add_up_is_refused_with_the_reason(changes, needle):
    with pytest.raises(OutcomesUnavailable, match=re.escape(needle)):
        PublishOutcomes.from_json(_answer(**changes), "run", 1, 10)


@pytest.mark.parametrize(
    ("status", "body", "needle"),
    [
        (404, "404: Not Found", "no /admin/outcomes (an older version)"),
        (401, '{"error": "missing or wrong bearer token"}', "HTTP 401"),
        (200, "not json", "did not answer JSON"),
        (200, '{"run_id": "run"}', "is not a count"),
    ],
)
def test_generator_client_says_why_it_has_no_outcomes(status, body, needle):
    """An older generator, a refused token or a garbled answer: OutcomesUnavailable naming it
    (the ledger records the reason and falls back), never a traceback or a silent zero."""
    import httpx

    from drills.ledger import GeneratorClient

    client = GeneratorClient("http://generator.test", "token")
    client._http = httpx.Client(
        base_url="http://generator.test",
        transport=httpx.MockTransport(lambda request: httpx.Response(status, text=body)),
    )
    with pytest.raises(OutcomesUnavailable, match=re.escape(needle)):
        client.outcomes("run", 1, 10)
