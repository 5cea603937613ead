"""prometheus-blind: the second monitoring-blind drill — Prometheus itself killed.

Nothing inside Prometheus can say that Prometheus is gone; the dead man's switch must. Checked
against the OS (Prometheus's port refusing and accepting again, tests.ground_truth.PortWatch),
the notification service's own record read directly, and Prometheus's raw samples after it is
back (its history before the outage kept, nothing scraped during it) — none of it through the
harness's check.
"""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest

from tests.ground_truth import PortWatch
from tests.integration.test_drills import assert_drill_passed
from tests.integration.test_drills_more import blind_episodes, run_drill

pytestmark = pytest.mark.integration


def _up_samples(live, start: float, end: float) -> list[float]:
    """Times of Prometheus's raw `up{job="prometheus"}` samples in [start, end]."""
    window = max(1, int(end - start) + 2)
    response = httpx.get(
        f"{live.url('prometheus')}/api/v1/query",
        params={"query": f'up{{job="prometheus"}}[{window}s]', "time": end},
        timeout=10,
    )
    response.raise_for_status()
    return sorted(
        float(t)
        for series in response.json()["data"]["result"]
        for t, _v in series["values"]
        if start <= float(t) <= end
    )


def test_prometheus_blind_is_told_by_the_dead_mans_switch(live, tmp_path):
    with PortWatch({"prometheus": live.port("prometheus")}) as ports:
        spec, result = run_drill(live, tmp_path, "prometheus-blind")
    assert_drill_passed(live, spec, result)
    assert result.fault is not None and result.injected_at is not None
    refused = ports.first_refused("prometheus")
    assert refused is not None, "the OS never saw Prometheus refuse"
    back = ports.first_accepted("prometheus", after=refused)
    assert back is not None, "Prometheus never accepted again"
    hold = float(spec.fault.params["duration_s"])
    assert back - refused >= hold - 1, (refused, back)

    told_after = result.fault.figures["blind_until_told_s"]
    assert isinstance(told_after, float) and told_after <= spec.fault.params["told_within_s"]
    episodes = blind_episodes(live, since=refused - 1)
    assert len(episodes) == 1, episodes
    told_at = datetime.fromisoformat(episodes[0]["first_received_at"]).timestamp()
    print(
        f"  OS: Prometheus refused at +{refused - result.injected_at.timestamp():.3f} s, "
        f"back after {back - refused:.3f} s; told {told_at - refused:.3f} s after the port "
        f"refused; harness {told_after}"
    )
    assert abs((told_at - refused) - told_after) <= 1.0
    # Told while Prometheus was still down (Alertmanager resolved the last Watchdog at its end
    # time), and not before that end time could pass (4 times the 5 s resend delay after the last
    # evaluation, minus a flush).
    assert 10.0 <= told_at - refused < back - refused, (told_at - refused, back - refused)
    assert episodes[0]["status"] == "resolved" and episodes[0]["resolved_at"]
    resolved_at = datetime.fromisoformat(episodes[0]["resolved_at"]).timestamp()
    assert resolved_at > back, "resolved before Prometheus was back"

    # Prometheus's own TSDB: the baseline before the outage is still there, the outage is a gap.
    samples = _up_samples(live, result.injected_at.timestamp() - 5, back + 20)
    before = [t for t in samples if t < refused]
    during = [t for t in samples if refused + 1 < t < back - 1]
    after = [t for t in samples if t > back]
    assert len(before) >= 3 and not during and after, (len(before), during, len(after))
