"""The dashboard page, rendered by headless Chromium (Debian's), shows recent events — escaped."""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid

import pika
import pytest

from auditflow import topology
from tests.integration.test_malformed import valid_event
from tests.support import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling Google on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_dashboard_renders_recent_events_in_chromium(live):
    """An event whose actor holds HTML shows up in the recent-events table as literal text."""
    from playwright.sync_api import sync_playwright

    nonce = uuid.uuid4().hex[:12]
    actor = f"<i>browser-{nonce}</i>"
    event = valid_event(f"browser-{nonce}", 1, actor=actor)
    admin = live.generator()
    old_rate = admin.stats()["rate"]
    admin.set_rate(0)  # keep the test's event among the most recent rows
    try:
        # Events already generated are still being stored (a busy machine lags behind): wait until
        # the stored count stops moving, or they would push the test's event off the table.
        counts: list[int] = []

        def settled() -> bool:
            row = live.pg().execute("SELECT count(*) FROM audit_events").fetchone()
            counts.append(int(row[0]) if row else 0)
            return len(counts) >= 3 and counts[-1] == counts[-2] == counts[-3]

        wait_for(settled, 60, "the sandbox's earlier events to be stored", every=0.5)
        connection = pika.BlockingConnection(pika.URLParameters(live.amqp_url))
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            channel.basic_publish(
                topology.EXCHANGE,
                topology.routing_key("read"),
                json.dumps(event).encode(),
                pika.BasicProperties(content_type="application/json", delivery_mode=2),
            )
        finally:
            connection.close()
        wait_for(
            lambda: (
                live.pg()
                .execute("SELECT 1 FROM audit_events WHERE event_id = %s", (event["event_id"],))
                .fetchone()
            ),
            15,
            "the browser test's event to be stored",
        )
        with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
            browser = playwright.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            try:
                page = browser.new_page()
                response = page.goto(live.url("event-audit-dashboard") + "/", timeout=15_000)
                assert response is not None and response.status == 200
                rows = page.locator("tr.event-row")
                rows.first.wait_for(timeout=10_000)
                assert rows.count() >= 1
                mine = page.locator("tr.event-row", has_text=actor)
                assert mine.count() == 1, "the test's event is not among the recent events"
                assert mine.locator("i").count() == 0, "event text was rendered as HTML"
                assert (
                    page.locator("#degraded-banner").count() == 0
                    or not page.locator("#degraded-banner").is_visible()
                )
            finally:
                browser.close()
    finally:
        admin.set_rate(old_rate)
