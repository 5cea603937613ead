"""Recording what `issues sync` saw: `tracker.json` in a run directory, and the post-mortem's cells.

The reader and the value type live below, in `drills.postmortem.tracker` (the renderer and the
report read them and may not import the exporter); they are re-exported here so that code working
with the exporter finds reader and writer side by side:

    from drills.export.tracker import TrackerState, load, write

`write` merges: entries for other fingerprints (items synced from another repository, or not
in this sync's scope) are kept. The post-mortem is updated in place — only the tracking cell of the
synced items' rows, as `issues export` does with its links — so a draft someone already edited
keeps every other word; a post-mortem rendered later reads `tracker.json` itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from drills.postmortem.render import POSTMORTEM_NAME, tracking_cell
from drills.postmortem.tracker import TRACKER_FILE, TrackerState, dumps, load

__all__ = ["TRACKER_FILE", "TrackerState", "load", "write"]

# A table cell boundary: a `|` that Markdown escaping (`\|`) did not neutralise.
_CELL = re.compile(r"(?<!\\)\|")


def write(run_dir: Path, states: Mapping[str, TrackerState]) -> None:
    """Merge `states` into the run's tracker.json and show them in its post-mortem."""
    merged = load(run_dir) | dict(states)
    path = run_dir / TRACKER_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(dumps(merged), encoding="utf-8")
    tmp.replace(path)
    postmortem = run_dir / POSTMORTEM_NAME
    if postmortem.exists():
        text = postmortem.read_text(encoding="utf-8")
        updated = update_cells(text, states)
        if updated != text:
            postmortem.write_text(updated, encoding="utf-8")


def update_cells(markdown: str, states: Mapping[str, TrackerState]) -> str:
    """`markdown` with the tracking cell of every action-item row whose fingerprint is in
    `states` rewritten; the column is found by its header ("tracking"), not by position."""
    lines = markdown.splitlines(keepends=True)
    column: int | None = None
    for index, line in enumerate(lines):
        body = line.rstrip("\r\n")
        if not body.lstrip().startswith("|"):
            column = None
            continue
        cells = _CELL.split(body)
        names = [cell.strip().lower() for cell in cells]
        if "tracking" in names:
            column = names.index("tracking")
            continue
        if column is None or column >= len(cells):
            continue
        for fingerprint, state in states.items():
            if f"`{fingerprint}`" in names:
                cells[column] = f" {tracking_cell('', state)} "
                lines[index] = "|".join(cells) + line[len(body) :]
                break
    return "".join(lines)
