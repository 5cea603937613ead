"""bad-deploy's drill-file checks and its dead-letter selection (pure): every parameter is acted
on or refused with file:line: field, the target can only be the analysis service, and only what
the bad build rejected — and the good build accepts — is re-driven."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditflow import topology
from auditflow.events import AuditEvent
from drills.errors import SpecError
from drills.faults.bad_deploy import BREAKAGES, REJECT_LIMIT
from drills.faults.dlq_redrive import Rejection, original_headers, select
from drills.spec import load

DRILL = """\
name: bad
description: a bad deploy
target:
  component: {component}
fault:
  kind: bad-deploy
  params:
{params}
steady_state:
  - name: up
    query: min(up)
    tolerance: {{min: 1}}
expected_alerts: [DeadLetterRateHigh]
objectives:
  max_lost: 0
"""


def drill(tmp_path: Path, params: str, component: str = "audit-log-analysis") -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(DRILL.format(component=component, params=params))
    return path


def test_the_params_are_read_with_their_defaults(tmp_path):
    """breakage is required; rollback defaults to automated with a 60 s bound."""
    spec = load(drill(tmp_path, "    breakage: crash-on-start"))
    assert spec.fault.params == {
        "breakage": "crash-on-start",
        "rollback": "automated",
        "rollback_by_s": 60.0,
    }


@pytest.mark.parametrize(
    ("params", "line", "says"),
    [
        ("    rollback: automated", 8, "missing required field 'breakage'"),
        ("    breakage: slow", 8, "breakage: must be one of reject-all, crash-on-start"),
        ("    breakage: reject-all\n    rollback: pager", 9, "rollback: must be one of"),
        ("    breakage: reject-all\n    rollback_by_s: 0", 9, "rollback_by_s"),
        ("    breakage: reject-all\n    image: v2", 9, "image"),
    ],
)
def test_a_bad_param_names_the_file_line_and_field(tmp_path, params, line, says):
    path = drill(tmp_path, params)
    with pytest.raises(SpecError) as caught:
        load(path)
    message = str(caught.value)
    assert f"{path}:{line}:" in message and says in message, message


def test_a_component_without_a_deploy_knob_is_refused(tmp_path):
    """bad-deploy breaks the analysis service's configuration; another target is an error at
    its line, not a drill that silently deploys the wrong thing."""
    path = drill(tmp_path, "    breakage: reject-all", component="rabbitmq")
    with pytest.raises(SpecError, match=r"bad\.yaml:4: target: .*deploys only audit-log-analysis"):
        load(path)


def event(action: str = "login") -> bytes:
    return AuditEvent(
        event_id="7f0b7e3c-1d2e-5a3b-8c4d-5e6f7a8b9c0d",
        run_id="run1",
        seq=7,
        occurred_at="2026-01-01T00:00:00.000000+00:00",
        published_at="2026-01-01T00:00:00.000000+00:00",
        actor="alice",
        action=action,
        resource="doc/1",
        outcome="success",
        source_ip="10.0.0.1",
        correlation_id="0" * 32,
    ).encode()


REJECTED = {
    topology.REASON_HEADER: "oversized",
    topology.DETAIL_HEADER: f"{len(event())} bytes > {REJECT_LIMIT}",
}


def test_a_valid_event_the_bad_build_rejected_is_selected_with_its_routing_key():
    """The reject-all build's own rejection of a valid event: re-driven to its action's key."""
    rejection = BREAKAGES["reject-all"][1]
    assert rejection is not None
    chosen = select(rejection, REJECTED, event("login"), "application/json")
    assert chosen is not None and chosen.routing_key == topology.routing_key("login")


@pytest.mark.parametrize(
    ("headers", "body", "content_type"),
    [
        ({**REJECTED, topology.REASON_HEADER: "bad_json"}, event(), "application/json"),
        ({**REJECTED, topology.DETAIL_HEADER: "70000 bytes > 65536"}, event(), "application/json"),
        (REJECTED, b"{not json", "application/json"),  # malformed for the good build too
        (REJECTED, event(), "text/plain"),
        ({}, event(), "application/json"),
        (None, event(), "application/json"),
    ],
)
def test_what_the_bad_build_did_not_reject_or_the_good_one_refuses_stays(
    headers, body, content_type
):
    """Another reason, another limit, or a message the good build refuses too: left alone."""
    assert select(Rejection("oversized", f"> {REJECT_LIMIT}"), headers, body, content_type) is None


def test_the_republished_headers_drop_only_what_dead_lettering_added():
    headers = {**REJECTED, "x-correlation-id": "abc"}
    assert original_headers(headers) == {"x-correlation-id": "abc"}
