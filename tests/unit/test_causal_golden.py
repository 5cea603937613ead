"""The causal chain and factors of each recorded seed-drill run, checked against what its
result.json says (read by hand), and a check that no chain states a number result.json lacks."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from drills.postmortem import causal, factors
from drills.postmortem.causal_model import Chain
from drills.results import DrillResult, FaultSummary

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "runs"
RUNS = sorted(p.name for p in GOLDEN.iterdir())
COMPONENT = {"pod-kill": "audit-log-analysis", "rabbitmq-outage": "rabbitmq"}


def chain_of(name: str) -> tuple[DrillResult, Chain | None]:
    result = DrillResult.read(GOLDEN / name)
    return result, causal.build(result, "" if result.steps else COMPONENT.get(result.drill, ""))


def figures(chain: Chain) -> list[tuple[str, list[str]]]:
    return [(s.title, [link.figure for link in s.links]) for s in chain.segments]


def test_pod_kill_chain():
    """Killed (restart time before the kill, so no delay claimed), breach at 1.0 s, ready at 1.2 s
    before the alert at 2.5 s, drained, restored at 2.0 s, no budget spent, nothing lost."""
    result, chain = chain_of("20261127T062541Z-pod-kill")
    assert chain is not None
    assert figures(chain) == [
        (
            "process-kill on audit-log-analysis",
            ["pid 15099", "T+1.0 s", "ready 1.2 s after the kill", "TTD 2.5 s"],
        ),
        (
            "recovery and what it cost",
            ["T+1.5 s", "T+2.0 s", "0.00 % of the budget", "0 lost"],
        ),
    ]
    assert "no restart delay measured" in chain.links[0].text
    found = factors.derive(result, "audit-log-analysis")
    assert [f.rule for f in found.contributing] == [
        "startup-dominated",
        "alert-after-breach",
        "no-alert-before-recovery",
    ]


def test_rabbitmq_outage_chain_shows_the_probes_never_saw_the_outage():
    """The recorded outage never breached the steady state and no alert fired; the 'recovery'
    at 11.1 s came before the broker was ready at 21.1 s — the factors say so."""
    result, chain = chain_of("20261127T062644Z-rabbitmq-outage")
    assert chain is not None
    assert figures(chain) == [
        ("service-stop on rabbitmq", ["held 20.0 s", "no breach", "none fired", "start-up 1.1 s"]),
        ("recovery and what it cost", ["T+11.1 s", "T+11.1 s", "0.00 % of the budget", "0 lost"]),
    ]
    assert chain.segments[1].missing == (
        "generator buffer peak",
        "analysis queue peak",
        "delay users saw",
        "client-observed unavailability",
    )
    found = factors.derive(result, "rabbitmq")
    assert [f.rule for f in found.contributing] == [
        "no-alert-before-recovery",
        "probes-blind",
        "restored-before-ready",
    ]
    assert found.lucky == ()
    assert found.not_judged == ("the generator's buffer", "the analysis queue's bound")


def test_refused_run_has_no_chain():
    """The target-error run injected nothing: no chain, no factors."""
    result, chain = chain_of("20261127T062824Z-rabbitmq-outage")
    assert chain is None
    assert factors.derive(result) == factors.Factors((), (), ())


def test_composite_chain_is_each_step_then_the_shared_tail():
    """Broker down 15.1 s, breach at 0.3 s, RabbitMQDown at TTD 6.7 s, boot 8.9 s; then the
    analysis kill, restarted in 0.032 s, ready 2.0 s, its alert at 2.3 s; 61.54 % of the budget."""
    result, chain = chain_of("20261203T154006Z-broker-outage-then-kill")
    assert chain is not None
    assert figures(chain) == [
        (
            "step broker-down: service-stop on rabbitmq",
            ["held 15.1 s", "T+0.3 s", "TTD 6.7 s", "start-up 8.9 s"],
        ),
        (
            "step kill-analysis: process-kill on audit-log-analysis",
            ["restart after 0.032 s", "ready 2.0 s after the kill", "TTD 2.3 s"],
        ),
        (
            "recovery and what it cost",
            [
                "T+31.0 s",
                "T+31.0 s",
                "61.54 % of the budget",
                "p99 24.334 s",
                "0 failed",
                "0 lost",
            ],
        ),
    ]
    assert chain.links[2].text == "RabbitMQDown firing, after the steady state was already breached"
    assert chain.segments[1].links[2].text == "AuditAnalysisRestarted firing"  # breach was before
    assert chain.links[2].source == "result.json: steps[broker-down].ttd_seconds"
    found = factors.derive(result)
    assert [f.rule for f in found.contributing] == [
        "budget-share",
        "startup-dominated",
        "startup-dominated",
        "alert-after-breach",
    ]


# --- no number the result does not hold ------------------------------------------------------

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_SHARE = re.compile(r"peak ([\d,]+) \w+ \(([\d.]+) % of its ([\d,]+)\)")


def _walk(value: Any) -> tuple[list[float], list[str]]:
    numbers: list[float] = []
    strings: list[str] = []
    if isinstance(value, bool) or value is None:
        return numbers, strings
    if isinstance(value, int | float):
        return [float(value)], strings
    if isinstance(value, str):
        return [float(n.replace(",", "")) for n in _NUMBER.findall(value)], [value]
    items = value.values() if isinstance(value, dict) else value
    keys = list(value.keys()) if isinstance(value, dict) else []
    for item in [*items, *keys]:
        more, texts = _walk(item)
        numbers += more
        strings += texts
    return numbers, strings


def _in_result(token: str, numbers: list[float]) -> bool:
    """A shown number is some result number (or a share of one as a percentage), rounded to the
    digits shown."""
    value = float(token.replace(",", ""))
    digits = len(token.split(".")[1]) if "." in token else 0
    return any(
        round(candidate, digits) == value or round(candidate * 100, digits) == value
        for n in numbers
        for candidate in (n, abs(n))
    )


def assert_only_result_numbers(chain: Chain, raw: dict[str, Any]) -> None:
    numbers, strings = _walk(raw)
    times = {datetime.fromisoformat(s) for s in strings if re.match(r"^\d{4}-\d\d-\d\dT", s)}
    for link in chain.links:
        text = f"{link.text} {link.figure}"
        # A backlog peak's share of its limit is the one derived figure: both operands are shown
        # beside it (and checked as result numbers below), the share must be their ratio.
        for peak, share, limit in _SHARE.findall(text):
            ratio = 100 * float(peak.replace(",", "")) / float(limit.replace(",", ""))
            assert round(ratio, len(share.split(".")[1]) if "." in share else 0) == float(share)
        for token in _NUMBER.findall(_SHARE.sub(r"peak \1 (\3)", text)):
            assert _in_result(token, numbers), f"{token} in {link} is not in result.json"
        assert link.at is None or link.at in times, f"{link.at} of {link} is not in result.json"


@pytest.mark.parametrize("name", RUNS)
def test_golden_chains_hold_only_result_numbers(name):
    """Every number and time in a recorded run's chain is one its result.json holds."""
    _, chain = chain_of(name)
    raw = json.loads((GOLDEN / name / "result.json").read_text())
    if chain is not None:
        assert_only_result_numbers(chain, raw)


@pytest.mark.parametrize(
    ("kind", "figures"),
    [
        ("table-lock", {"held_seconds": 40.012, "blocked_backends": 3, "stored_during_hold": 0}),
        ("process-freeze", {"held_frozen_seconds": 15.2, "ready_seconds_after_thaw": 0.4}),
        ("malformed-events", {"malformed_published": 40, "malformed_dead_lettered": 40}),
        ("pvc-wipe-restore", {"backup_age_at_wipe_s": 61.3, "rto_seconds": 14.9}),
    ],
)
def test_every_kind_states_only_result_numbers(kind, figures):
    """The same holds for each fault kind's links on a result carrying that kind's figures."""
    base = DrillResult.read(GOLDEN / "20261127T062644Z-rabbitmq-outage")
    result = DrillResult.from_json(
        {**base.to_json(), "fault": {"kind": kind, "params": {}, "figures": figures, "checks": []}}
    )
    assert result.fault == FaultSummary(kind, {}, figures, ())
    chain = causal.build(result, "postgresql")
    assert chain is not None and len(chain.segments[0].links) >= 3
    assert_only_result_numbers(chain, result.to_json())


def test_the_number_check_catches_an_invented_figure():
    """A link with a number result.json lacks (a derived sum, a typo) fails the check."""
    _, chain = chain_of("20261203T154006Z-broker-outage-then-kill")
    assert chain is not None
    raw = json.loads(
        (GOLDEN / "20261203T154006Z-broker-outage-then-kill" / "result.json").read_text()
    )
    invented = dataclasses.replace(chain.segments[0].links[0], figure="held 93.7 s")
    bad = Chain((dataclasses.replace(chain.segments[0], links=(invented,)),))
    with pytest.raises(AssertionError, match=r"93\.7"):
        assert_only_result_numbers(bad, raw)
