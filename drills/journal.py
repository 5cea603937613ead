"""The run journal: an append-only JSON-lines file, flushed and fsynced line by line.

Intent is written *before* every action and the outcome after it, so a harness killed mid-drill
leaves enough on disk for `genesis-drill recover` (or the next run's preflight) to find the fault
that is still in effect and undo it. Nothing secret is ever written here.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

JOURNAL_NAME = "journal.jsonl"


class Journal:
    """Appends timestamped records to `run_dir/journal.jsonl`."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / JOURNAL_NAME
        run_dir.mkdir(parents=True, exist_ok=True)

    def write(self, event: str, **fields: Any) -> dict[str, Any]:
        record = {"t": time.time(), "event": event, **fields}
        line = json.dumps(record, default=str, sort_keys=False)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        return record

    def records(self) -> list[dict[str, Any]]:
        return read(self.path)


def read(path: Path) -> list[dict[str, Any]]:
    """All records of a journal; a torn last line (crash mid-write) is ignored."""
    records: list[dict[str, Any]] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return records
    for line in lines:
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            records.append(value)
    return records
