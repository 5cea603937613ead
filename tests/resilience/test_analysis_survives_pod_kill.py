"""Release gate: the analysis service survives a SIGKILL under load — detected, recovered, and
not one audit event lost. Written the way a team writes its own resilience suite."""

from __future__ import annotations

import pytest

from drills.pytest_plugin import assert_objectives

pytestmark = [pytest.mark.integration, pytest.mark.drill, pytest.mark.destructive]


def test_pod_kill_is_detected_and_recovered_without_loss(drill):
    """pod-kill: the restart alert fires within 30 s, recovery within 60 s, nothing lost."""
    result = drill("pod-kill")
    assert result.ttd_seconds is not None and result.ttd_seconds < 30
    assert result.ttr_seconds is not None and result.ttr_seconds < 60
    assert result.ledger is not None
    assert result.ledger.lost == 0
    assert result.ledger.duplicated == 0
    assert_objectives(result)
