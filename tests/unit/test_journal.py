"""Typed journal records: what `append` writes, and that journals of older harnesses still read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from drills import journal
from drills.crash_recovery import leftovers
from drills.journal import Journal, read
from drills.postmortem import timeline


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_append_writes_the_event_and_fields_in_order(tmp_path):
    """A typed record lands as `t`, `event`, then its fields as declared."""
    log = Journal(tmp_path)
    log.append(journal.InjectIntent(kind="service-stop", component="rabbitmq", params={"a": 1}))
    (record,) = lines(log.path)
    assert list(record) == ["t", "event", "kind", "component", "params"]
    assert record["event"] == "inject-intent" and record["params"] == {"a": 1}


def test_optional_fields_are_left_out_required_nulls_are_kept(tmp_path):
    """`by` appears only when `recover` wrote the record; a required None is written as null."""
    log = Journal(tmp_path)
    log.append(journal.RollbackDone(at=12.5))
    log.append(journal.RollbackDone(by="recover"))
    log.append(journal.Budget(remaining=None, floor=0.5, source="slo.yaml"))
    runner_done, recover_done, budget = lines(log.path)
    assert "by" not in runner_done and runner_done["at"] == 12.5
    assert recover_done["by"] == "recover" and "at" not in recover_done
    assert budget["remaining"] is None and budget["floor"] == 0.5


def test_every_record_kind_has_its_own_event():
    """Two record classes with one event name would make readers confuse them."""
    kinds = [c for c in vars(journal).values() if isinstance(c, type) and c is not journal.Record]
    events = [c.EVENT for c in kinds if issubclass(c, journal.Record)]
    assert len(events) == len(set(events)) >= 19


def test_an_older_harness_journal_still_reads(tmp_path):
    """A journal written before records were typed (fewer fields, a torn last line) is read by
    recovery and the post-mortem timeline alike."""
    (tmp_path / "journal.jsonl").write_text(
        '{"t": 1.0, "event": "run-start", "drill": "pod-kill"}\n'
        '{"t": 2.0, "event": "inject-intent", "kind": "process-kill"}\n'
        '{"t": 3.0, "event": "load", "rate": 300}\n'
        '{"t": 4.0, "event": "rollba'
    )
    assert [r["event"] for r in read(tmp_path / "journal.jsonl")] == [
        "run-start",
        "inject-intent",
        "load",
    ]
    left = leftovers(tmp_path)
    assert left.fault == ("process-kill", "?") and left.identity is None
    assert left.previous_rate is None  # no previous_rate recorded: nothing to restore
    row = timeline.journal_row({"t": 2.0, "event": "inject-intent", "kind": "x"}, None)
    assert row is not None and row.event == "about to inject x on ?"
