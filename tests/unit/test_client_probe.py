"""The client probe (drills.client_probe) against a real loopback HTTP server: it requests at the
configured rate, records timeouts and refused connections as failures, is bounded in requests,
probes only loopback / in-cluster URLs, and its thread ends in every path of a run."""

from __future__ import annotations

import itertools
import json
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from rich.console import Console

from drills.cli.reporter import print_summary
from drills.client_probe import ClientProber, ProbedApi, apis_of
from drills.errors import SpecError
from drills.postmortem.render import draft, md
from drills.postmortem.review import review_file
from drills.results import DrillResult, utc
from drills.secret import Secret
from drills.spec import load
from drills.spec_options import ClientProbe
from drills.targets.base import Endpoints
from drills.unavailability import (
    TIMEOUT,
    UNREACHABLE,
    Attempt,
    ClientUnavailability,
    FaultWindow,
    summarize,
)
from tests.unit.test_postmortem_render import GOLDEN
from tests.unit.test_runner import SPEC, ScriptedFault, go
from tests.unit.test_spec import VALID


class Server:
    """A loopback HTTP server whose answer the test sets: a status, or a hang."""

    def __init__(self) -> None:
        self.status = 200
        self.hang_s = 0.0
        self.requests = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests += 1
                if owner.hang_s:
                    time.sleep(owner.hang_s)
                self.send_response(owner.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


def probe_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "client-probe" and t.is_alive()]


def run_for(prober: ClientProber, seconds: float) -> None:
    prober.start()
    time.sleep(seconds)
    prober.stop()


def test_requests_at_the_rate_and_stops_its_thread(server):
    prober = ClientProber([ProbedApi("a", server.url + "/"), ProbedApi("b", server.url + "/x")])
    run_for(prober, 1.5)
    assert not probe_threads()
    for name in ("a", "b"):
        recorded = prober.attempts[name]
        assert 6 <= len(recorded) <= 9, recorded  # 5/s for 1.5 s, first at once
        assert all(a.status == 200 and a.ok for a in recorded)
        gaps = [b.sent_at - a.sent_at for a, b in itertools.pairwise(sorted(recorded))]
        assert min(gaps) > 0.1  # a fixed rate, not a burst


def test_a_hanging_server_is_recorded_as_timeouts_and_the_window_closes_on_success(server):
    prober = ClientProber([ProbedApi("api", server.url + "/")], rate_per_s=10, timeout_s=0.3)
    prober.start()
    time.sleep(0.5)
    server.hang_s = 0.6
    time.sleep(1.0)
    server.hang_s = 0.0
    time.sleep(0.8)
    prober.stop()
    statuses = [a.status for a in sorted(prober.attempts["api"])]
    assert TIMEOUT in statuses and statuses[0] == 200 and statuses[-1] == 200, statuses
    timed_out = [a for a in prober.attempts["api"] if a.status == TIMEOUT]
    assert all(0.25 <= a.elapsed_s < 0.5 for a in timed_out)  # cut off at the timeout in total
    summary = prober.summary(FaultWindow(None, None))
    [api] = summary.apis
    assert len(api.windows) == 1 and api.windows[0].end is not None
    assert 0.6 <= api.windows[0].seconds <= 1.6
    assert api.windows[0].outside_fault


def test_stop_does_not_wait_for_requests_still_hanging(server):
    """Ctrl-C while the dashboard hangs: the probe ends at once; what never answered is not
    recorded (its outcome is unknown)."""
    server.hang_s = 3.0
    prober = ClientProber([ProbedApi("api", server.url + "/")])
    prober.start()
    time.sleep(0.5)
    began = time.monotonic()
    prober.stop()
    assert time.monotonic() - began < 1.0
    assert not probe_threads() and prober.attempts["api"] == []


def test_a_refused_connection_is_a_failure():
    prober = ClientProber([ProbedApi("closed", "http://127.0.0.1:9/")])
    run_for(prober, 0.5)
    assert prober.attempts["closed"] and all(
        a.status == UNREACHABLE for a in prober.attempts["closed"]
    )
    [api] = prober.summary(FaultWindow(0.0, None)).apis
    assert api.windows[0].end is None and not api.windows[0].outside_fault


def test_the_request_cap_is_a_hard_bound(server):
    prober = ClientProber([ProbedApi("api", server.url + "/")], rate_per_s=20, max_requests=3)
    run_for(prober, 0.8)
    assert len(prober.attempts["api"]) == 3 and server.requests == 3
    assert "cap of 3 requests" in prober.summary(FaultWindow(None, None)).note


def test_the_duration_cap_ends_the_thread_by_itself(server):
    prober = ClientProber([ProbedApi("api", server.url + "/")], max_duration_s=0.5)
    prober.start()
    time.sleep(1.2)
    assert not probe_threads()  # ended on its own, before anyone called stop
    prober.stop()
    assert "0.5 s cap" in prober.summary(FaultWindow(None, None)).note


def endpoints(dashboard: str, notification: str) -> Endpoints:
    nothing = Secret("")
    return Endpoints(
        "", "", "", nothing, notification, nothing, nothing, nothing, dashboard_url=dashboard
    )


def test_only_loopback_and_in_cluster_urls_are_probed():
    apis = apis_of(endpoints("http://dashboard.example.com:8082", "http://127.0.0.1:8083/"))
    by_name = {api.name: api for api in apis}
    assert "neither a loopback" in by_name["dashboard page"].refused
    assert "neither a loopback" in by_name["dashboard API"].refused
    assert by_name["notification API"].refused == ""
    assert by_name["notification API"].url == "http://127.0.0.1:8083/api/v1/alerts?limit=1"
    cluster = apis_of(endpoints("http://event-audit-dashboard.ns.svc:8082", "http://[::1]:8083"))
    assert all(api.refused == "" for api in cluster)
    assert "no URL" in apis_of(endpoints("", "http://localhost:1"))[0].refused


def test_a_refused_url_is_never_requested_and_says_why():
    prober = ClientProber([ProbedApi("far", "http://203.0.113.9/", "not loopback")])
    run_for(prober, 0.3)
    assert prober.attempts["far"] == [] and not probe_threads()
    [api] = prober.summary(FaultWindow(None, None)).apis
    assert api.note == "not probed: not loopback"


def test_a_run_stops_the_probe_and_records_it_on_success_failure_and_ctrl_c(tmp_path):
    for name, action in (
        ("ok", None),
        ("boom", RuntimeError("boom")),
        ("ctrl-c", KeyboardInterrupt()),
    ):
        result, _, _ = go(tmp_path / name, ScriptedFault(hold_action=action))
        assert not probe_threads(), name
        saved = json.loads((Path(result.run_dir) / "client-probe.json").read_text())
        assert [api["name"] for api in saved["apis"]] == [
            "dashboard page",
            "dashboard API",
            "notification API",
        ]
        probe = result.client_unavailability
        assert probe is not None and probe.started_at is not None, name
        assert probe.fault_from is not None and probe.stopped_at is not None
        assert DrillResult.read(Path(result.run_dir)) == result


def test_a_drill_can_turn_the_probe_off(tmp_path):
    spec = replace(SPEC, client_probe=ClientProbe(enabled=False))
    result, _, _ = go(tmp_path, ScriptedFault(), spec=spec)
    assert result.client_unavailability is None
    assert not (Path(result.run_dir) / "client-probe.json").exists()


def test_a_result_written_before_the_probe_existed_still_reads(tmp_path):
    result, _, _ = go(tmp_path, ScriptedFault())
    raw = result.to_json()
    del raw["client_unavailability"]
    assert DrillResult.from_json(raw).client_unavailability is None


def with_client_probe(run_dir: Path, note: str) -> DrillResult:
    """The recorded run's result with what a client probe might have seen."""
    result = DrillResult.read(run_dir)
    assert result.injected_at is not None
    t = result.injected_at.timestamp()
    fault = FaultWindow(t, t + 20)
    closed = [Attempt(t + 1, 0.01, 503), Attempt(t + 2.5, 0.01, 200)]
    before = [Attempt(t - 5, 2.0, TIMEOUT), Attempt(t - 4.8, 0.01, 200)]
    probe = ClientUnavailability(
        rate_per_s=5.0,
        timeout_s=2.0,
        started_at=result.started_at,
        stopped_at=result.finished_at,
        fault_from=result.injected_at,
        fault_until=utc(t + 20),
        apis=(
            summarize("dashboard page", "http://127.0.0.1:1/", [], fault),
            summarize("dashboard API", "http://127.0.0.1:1/api", closed + before, fault),
            replace(
                summarize("notification API", "http://x/", [], fault), note=f"not probed: {note}"
            ),
        ),
        note=note,
    )
    probed = replace(result, client_unavailability=probe)
    probed.write(run_dir)
    return probed


def test_the_post_mortem_and_the_summary_show_each_api_and_escape_its_text(tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(GOLDEN / "runs" / "20261127T062541Z-pod-kill", run_dir)
    hostile = "| *x* [y](z) <b>"
    result = with_client_probe(run_dir, hostile)
    text = draft(run_dir, link_template=None).read_text()
    assert "| dashboard API | 4 | 2 (1) | 1.7 s | 2 | 1 |" in text
    assert "| dashboard page | 0 | 0 (0) | 0.0 s | 0 | 0 |" in text
    assert "0.2 s, 1 failed, 1 timed out — outside the fault window" in text
    assert "1.5 s, 1 failed, 0 timed out\n" in text
    assert hostile not in text and md(f"not probed: {hostile}") in text
    assert review_file(run_dir / "postmortem.md", allow_draft=True).findings == ()

    console = Console(record=True, width=200)
    print_summary(result, console)
    shown = console.export_text()
    assert "dashboard API" in shown
    assert "2 windows, 1.7 s unavailable (longest 1.5 s; 1 outside the fault window)" in shown
    assert "not probed (no request was sent)" in shown
    assert f"not probed: {hostile}" in shown  # as text, not as rich markup


def test_a_drill_sets_the_probe_rate_and_can_switch_it_off(tmp_path):
    path = tmp_path / "drill.yaml"
    path.write_text(VALID + "client_probe: {rate_per_s: 2.5, enabled: false}\n")
    assert load(path).client_probe == ClientProbe(enabled=False, rate_per_s=2.5)
    path.write_text(VALID)
    assert load(path).client_probe == ClientProbe(enabled=True, rate_per_s=5.0)


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("{rate_per_s: .nan}", "client_probe.rate_per_s: must be a finite number"),
        ("{rate_per_s: .inf}", "client_probe.rate_per_s: must be a finite number"),
        ("{rate_per_s: 0}", "client_probe.rate_per_s: must be > 0"),
        ("{rate_per_s: 50}", "client_probe.rate_per_s: must be <= 20"),
        ("{rate_per_s: fast}", "client_probe.rate_per_s: must be a number"),
        ("{enabled: maybe}", "client_probe.enabled: must be true or false"),
        ("{every_s: 1}", "client_probe.every_s: unknown field"),
        ("5", "client_probe: must be a mapping"),
    ],
)
def test_a_bad_probe_setting_names_the_file_line_and_field(tmp_path, block, message):
    path = tmp_path / "drill.yaml"
    path.write_text(VALID + f"client_probe: {block}\n")
    line = VALID.count("\n") + 1
    with pytest.raises(SpecError) as caught:
        load(path)
    assert str(caught.value).startswith(f"{path}:{line}: ")
    assert message in str(caught.value)
