"""The post-mortem's log evidence from a real drill: what the services really logged.

redis-outage runs on the sandbox; this test then reads the services' log files itself (plain
`json.loads` per line, not through `drills.log_evidence`) and checks that the draft's
`## Log evidence` table holds every warning and error message they wrote in the run's window,
with the same counts and components, an example correlation id that one of those lines carried,
and none of the sandbox's passwords.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path

import pytest

from drills import runner
from drills.postmortem.render import draft
from drills.spec import load
from drills.targets.local import LocalTarget
from tests import REPO_ROOT

pytestmark = pytest.mark.integration
SERVICES = (
    "audit-event-generator",
    "audit-log-analysis",
    "event-audit-dashboard",
    "notification-service",
)
VARIABLE = re.compile(r"\d|'|\"|[0-9a-f]{8}")  # a message the template would normalise


@dataclass
class Seen:
    count: int = 0
    components: set[str] = field(default_factory=set)
    ids: set[str] = field(default_factory=set)


def logged(logs_dir: Path, start: float, end: float) -> dict[tuple[str, str], Seen]:
    """(level, msg) → count, components and correlation ids of the services' JSON lines."""
    found: dict[tuple[str, str], Seen] = defaultdict(Seen)
    for service in SERVICES:
        for raw in (logs_dir / f"{service}.log").read_bytes().splitlines():
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            level = {"warning": "warning", "error": "error", "critical": "error"}.get(
                line.get("level")
            )
            at = datetime.fromisoformat(line["ts"]).timestamp()
            if level is None or not start <= at <= end:
                continue
            seen = found[(level, line["msg"])]
            seen.count += 1
            seen.components.add(service)
            if line.get("correlation_id"):
                seen.ids.add(line["correlation_id"])
    return dict(found)


def table(markdown: str) -> dict[tuple[str, str], list[str]]:
    """The `## Log evidence` table's rows, unescaped: (level, template) → the row's cells."""
    section = markdown.split("## Log evidence\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        if not line.startswith("| ") or line.startswith(("| level", "|---")):
            continue
        cells = [re.sub(r"\\(.)", r"\1", c).strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        rows[(cells[0], cells[1])] = cells
    return rows


def test_log_evidence_of_a_real_redis_outage(live, tmp_path):
    """Every warning and error the services logged during redis-outage is in the draft's table
    with its count and components; no sandbox password is in log-evidence.json or the draft."""
    spec = load(REPO_ROOT / "drills" / "catalog" / "redis-outage.yaml")
    result = runner.run(spec, LocalTarget(live.sandbox), runner.RunOptions(runs_dir=tmp_path))
    run_dir = Path(result.run_dir)
    text = draft(run_dir).read_text()
    section = text.split("## Log evidence\n", 1)[1].split("\n## ", 1)[0]
    print(f"\n{result.outcome}: {run_dir}\n## Log evidence\n{section}")
    saved = json.loads((run_dir / "log-evidence.json").read_text())
    assert saved["available"], saved["note"]
    start, end = saved["window"]
    assert result.finished_at is not None
    assert start == pytest.approx(result.started_at.timestamp(), abs=0.002)
    assert end == pytest.approx(result.finished_at.timestamp(), abs=0.002)

    truth = logged(live.sandbox.layout.logs, start, end)
    assert any(level == "warning" for level, _ in truth), "the services logged no warning"
    rows = table(text)
    shown = {(g["level"], g["template"]) for g in saved["groups"][:20]}
    groups = {(g["level"], g["template"]): g for g in saved["groups"]}
    for (level, msg), seen in truth.items():
        if VARIABLE.search(msg):  # normalised: found through the JSON's examples instead
            assert any(
                g["level"] == level and seen.components & set(g["components"])
                for g in saved["groups"]
            ), (level, msg)
            continue
        group = groups.get((level, msg))
        assert group is not None, f"{level} {msg!r} is not in log-evidence.json:\n{section}"
        assert group["count"] == seen.count, (msg, group, seen)
        assert set(group["components"]) == seen.components, (msg, group, seen)
        assert (group["correlation_id"] in seen.ids) if seen.ids else not group["correlation_id"]
        if (level, msg) in shown:
            cells = rows[(level, msg)]
            assert int(cells[2].replace(",", "")) == seen.count, cells
            assert set(cells[5].split(", ")) == seen.components, cells
            assert cells[6] == (group["correlation_id"] or "none"), cells

    secrets = live.sandbox.secrets
    stored = (run_dir / "log-evidence.json").read_text()
    for name in (f.name for f in fields(secrets)):
        value = getattr(secrets, name).reveal()
        assert value not in stored and value not in text, name
