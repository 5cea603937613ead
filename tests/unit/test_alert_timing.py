"""Alert timing from the rule evaluations' raw samples, and TTN never before TTD (issue 13).

The Prometheus answers are played back below the real client (a requests transport adapter on
`drills.observe.Observer`'s session), so the query the harness sends and the parsing of the
answer are the real ones. The recorded run: t_inject 1764752398.691, the rule group evaluating
every second at phase .783. On the `query_range` grid TTD came out 3.309 s — late by the phase —
while the notification arrived at 3.141 s: notified "before" detected.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from requests.adapters import BaseAdapter

from drills import measure, time_to_notify
from drills.observe import Observer

DATA = Path(__file__).parent / "data" / "prometheus_alerts_pod_kill.json"
T_INJECT = 1764752398.691
START, END = T_INJECT - 30, 1764752420.5
RAW_FIRING = 1764752401.783  # AuditAnalysisRestarted's first firing evaluation
RECEIVED = 1764752401.832  # the notification service's first_received_at for it
URL = "http://127.0.0.1:9"


class RecordedPrometheus(BaseAdapter):
    """Answers each /api/v1 path with its recorded body; remembers the queries it was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.answers = json.loads(DATA.read_text())
        self.sent: list[tuple[str, dict[str, list[str]]]] = []

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        parts = urlsplit(str(request.url))
        self.sent.append((parts.path, parse_qs(parts.query)))
        response = requests.Response()
        response.status_code = 200
        response._content = json.dumps(self.answers[parts.path]).encode()
        response.headers["Content-Type"] = "application/json"
        response.url = str(request.url)
        response.request = request
        return response

    def close(self) -> None:
        return None


@pytest.fixture
def prometheus() -> tuple[Observer, RecordedPrometheus]:
    observer = Observer(URL)
    recorded = RecordedPrometheus()
    observer._client._session.mount(URL, recorded)
    return observer, recorded


def test_ttd_and_pending_are_the_rule_evaluations_own_times(prometheus):
    """TTD is the first raw firing sample minus t_inject: 3.092 s, not the 3.309 s of the next
    whole-second grid point; the first pending is 1764752399.783, not 1764752400."""
    observer, recorded = prometheus
    series = observer.alert_series(START, END, 1.0)
    restarted = measure.alert_times(
        "AuditAnalysisRestarted",
        series.get(("AuditAnalysisRestarted", "pending"), []),
        series.get(("AuditAnalysisRestarted", "firing"), []),
        T_INJECT,
    )
    down = measure.alert_times(
        "AuditAnalysisDown",
        series[("AuditAnalysisDown", "pending")],
        series[("AuditAnalysisDown", "firing")],
        T_INJECT,
    )
    assert restarted.first_firing_at == RAW_FIRING
    assert measure.time_to_detect([restarted, down], T_INJECT).seconds == 3.092
    assert down.first_pending_at == 1764752399.783
    assert down.first_firing_at == 1764752404.783
    # One instant query of a range selector, evaluated at the window's end ...
    [(path, params)] = recorded.sent
    assert path == "/api/v1/query"
    assert params["query"] == ["ALERTS[52s]"] and params["time"] == ["1764752420.500"]
    # ... whose rounded-up window brought an earlier run's sample: dropped, not "firing before".
    assert all(START <= t <= END for samples in series.values() for t, _ in samples)
    assert not series.get(("RabbitMQDown", "firing"))


def test_an_alert_that_resolved_before_the_injection_and_fires_again_is_detected():
    """Firing until 0.4 s before the fault, resolved, firing anew 5.6 s after it (a `for:`
    later): the raw samples have a gap, so this is a detection, not "already firing". Firing on
    consecutive evaluations across the fault is still "already firing"."""
    evaluations = [T_INJECT - 10.409 + k for k in range(40)]
    firing = [(t, 1.0) for t in evaluations if t < T_INJECT - 0.4 or t > T_INJECT + 5]
    times = measure.alert_times("RabbitMQDown", [], firing, T_INJECT)
    assert not times.firing_before_inject
    assert measure.time_to_detect([times], T_INJECT).seconds == 5.591
    continuous = measure.alert_times("RabbitMQDown", [], [(t, 1.0) for t in evaluations], T_INJECT)
    assert continuous.firing_before_inject and continuous.first_firing_at is None


def test_ttn_of_the_recorded_run_is_after_ttd(prometheus, monkeypatch):
    """The recorded run: notification received at +3.141 s. With the raw firing (+3.092 s) TTN
    is that receipt, and TTN >= TTD."""
    observer, _ = prometheus
    series = observer.alert_series(START, END, 1.0)
    times = measure.alert_times(
        "AuditAnalysisRestarted", [], series[("AuditAnalysisRestarted", "firing")], T_INJECT
    )
    ttd = measure.time_to_detect([times], T_INJECT)
    _notification_service(monkeypatch, RECEIVED)
    ttn, _, reason = time_to_notify.time_to_notify(
        "http://127.0.0.1:8", ("AuditAnalysisRestarted",), T_INJECT,
        {"AuditAnalysisRestarted": times.first_firing_at},
    )  # fmt: skip
    assert (ttd.seconds, ttn, reason) == (3.092, 3.141, "")


def test_a_receipt_stamped_before_the_firing_is_clamped_to_it_and_says_why(monkeypatch):
    """Two processes' clocks: the receipt reads 3.141 s, Prometheus's firing sample 3.309 s.
    TTN cannot be before TTD: it is the firing time, and the reason states the disagreement."""
    _notification_service(monkeypatch, RECEIVED)
    firing = T_INJECT + 3.309
    ttn, _, reason = time_to_notify.time_to_notify(
        "http://127.0.0.1:8", ("AuditAnalysisRestarted",), T_INJECT,
        {"AuditAnalysisRestarted": firing},
    )  # fmt: skip
    assert ttn == 3.309
    assert "0.168 s before Prometheus's first firing sample" in reason
    assert "clocks" in reason


def test_a_notification_without_a_firing_since_the_injection_does_not_count():
    """Prometheus never saw the alert fire after the fault (say it was already firing): a
    notification received meanwhile is not this fault's, and TTN is missing with the reason."""
    ttn, reason = time_to_notify.notify_time(
        {"AuditAnalysisRestarted": [RECEIVED]}, {"AuditAnalysisRestarted": None}, T_INJECT
    )
    assert ttn is None
    assert "no firing sample" in reason and "AuditAnalysisRestarted" in reason


def _notification_service(monkeypatch: pytest.MonkeyPatch, received: float) -> None:
    """The notification service's GET /api/v1/alerts, answering one Alertmanager alert received
    at `received` (its first_received_at, microseconds as the service stores it)."""
    stamp = datetime.fromtimestamp(received, UTC).isoformat(timespec="microseconds")
    body = {
        "alerts": [
            {
                "name": "AuditAnalysisRestarted",
                "source": "alertmanager",
                "status": "firing",
                "count": 1,
                "first_received_at": stamp,
                "last_received_at": stamp,
            }
        ]
    }

    class Answer:
        def raise_for_status(self) -> None:
            return None

        def json(self) -> dict[str, Any]:
            return body

    monkeypatch.setattr("drills.time_to_notify.httpx.get", lambda *a, **k: Answer())


def test_a_new_firing_is_told_from_an_old_one_by_the_evaluation_interval():
    """Only two firing samples in the window — the last of an earlier episode 0.4 s before the
    fault and the first of this one 5.6 s after: their spacing says nothing about the evaluation
    interval (1 s, from Prometheus's config), which tells the 6 s gap is a new firing."""
    firing = [(T_INJECT - 0.409, 1.0), (T_INJECT + 5.591, 1.0)]
    times = measure.alert_times("RabbitMQDown", [], firing, T_INJECT, interval=1.0)
    assert not times.firing_before_inject
    assert measure.time_to_detect([times], T_INJECT).seconds == 5.591
