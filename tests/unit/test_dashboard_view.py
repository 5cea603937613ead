"""event-audit-dashboard: page rendering (escaping, degraded banner) and the SLI panel rows."""

from __future__ import annotations

from dataclasses import replace

from auditflow.dashboard.queries import Counters, Event, Sli
from auditflow.dashboard.view import PageModel, render_index, sli_rows

XSS = "<script>alert(1)</script>"


def event(**over: str) -> Event:
    fields = {
        "event_id": "9b2f7c1e-0000-4000-8000-000000000001",
        "stored_at": "2024-05-01T10:00:00.000+00:00",
        "actor": "alice",
        "action": "login",
        "resource": "/admin",
        "outcome": "success",
        "source_ip": "10.0.0.1",
        "correlation_id": "cid-1",
    }
    fields.update(over)
    return Event(**fields)


def healthy() -> PageModel:
    """A page with every dependency answering; a test changes fields with dataclasses.replace."""
    return PageModel(
        events=[event()],
        counters=Counters({"login": 3}, {"success": 3}, 3),
        slis=[Sli("sli:dashboard_http_success:ratio_rate5m", {}, 1.0)],
        degraded={},
        generated_at="now",
    )


def test_actor_script_is_escaped() -> None:
    """An actor of <script>alert(1)</script> is rendered as text, never as a script element."""
    html = render_index(replace(healthy(), events=[event(actor=XSS)]))
    assert XSS not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_attribute_breakout_is_escaped() -> None:
    """Quotes in an event field cannot break out of an HTML attribute (outcome is in a class)."""
    html = render_index(
        replace(healthy(), events=[event(outcome='x" onmouseover="alert(2)', resource='">')])
    )
    assert 'onmouseover="alert(2)"' not in html
    assert "&#34;" in html


def test_rows_and_ids_present() -> None:
    """Each event becomes a tr.event-row inside table#recent-events; counters and SLIs render."""
    html = render_index(replace(healthy(), events=[event(), event(event_id="e2")]))
    assert '<table id="recent-events">' in html
    assert html.count('class="event-row"') == 2
    assert 'id="counters-total" data-total="3"' in html
    assert 'id="sli-panel"' in html
    assert 'class="sli-row sli-ok"' in html
    assert 'id="degraded-banner"' not in html


def test_degraded_banner_names_dependency() -> None:
    """With PostgreSQL down the banner names it and the events table is replaced by a notice."""
    html = render_index(
        replace(healthy(), events=None, degraded={"postgresql": "no answer within 1 s"})
    )
    assert 'id="degraded-banner"' in html
    assert 'data-dependencies="postgresql"' in html
    assert "PostgreSQL unreachable (no answer within 1 s)" in html
    assert 'id="recent-events-unavailable"' in html
    assert 'id="recent-events"' not in html


def test_degraded_detail_is_escaped() -> None:
    """An error detail (which may echo server text) is escaped in the banner too."""
    html = render_index(replace(healthy(), slis=None, degraded={"prometheus": XSS}))
    assert XSS not in html
    assert 'id="sli-unavailable"' in html


def test_sli_rows_judge_against_objectives() -> None:
    """SLI rows compare with their objective in the right direction and show NaN as no data."""
    rows = sli_rows(
        [
            Sli("sli:dashboard_http_success:ratio_rate1h", {}, 0.95),
            Sli("sli:event_processing_errors:ratio_rate5m", {}, 0.0001),
            Sli("sli:event_latency_under_500ms:ratio_rate5m", {}, None),
            Sli("sli:rabbitmq_delivery_failures:ratio_rate5m", {}, 0.5),
            Sli("sli:notification_availability:ratio_avg5m", {}, 1.0),
        ]
    )
    by_key = {row.key: row for row in rows}
    assert by_key["dashboard_http_success"].status == "breach"
    assert by_key["dashboard_http_success"].window == "1h"
    assert by_key["event_processing_errors"].status == "ok"
    assert by_key["event_latency_under_500ms"].status == "nodata"
    assert by_key["rabbitmq_delivery_failures"].objective == "tracked"
    assert by_key["notification_availability"].window == "5m"
    assert by_key["notification_availability"].value == "100.000 %"
