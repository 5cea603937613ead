"""A game day's `report.html`: the scorecard, then every drill's own report, in one page.

Why it reads `report.json` and the run directories rather than the in-memory result: the same
page must come out of `genesis-drill report GAMEDAY_DIR` long after the day, from the files the
day left (the report is regenerated after `issues sync`, or with a newer harness). `report.json`
gives the plan, the order, each step's status, score and the responders' marks; each drill's
section is the run report of `drills.report.page`, so a figure reads the same in both pages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from drills.errors import GenesisError, InvalidInput
from drills.postmortem.lenient import as_dict, as_float, as_list, as_str
from drills.report import page as run_report

GAMEDAY_FILE = "report.json"


@dataclass(frozen=True)
class Row:
    """One step of the plan on the scorecard; `page` is None for a skipped or unreadable step."""

    drill: str
    status: str
    reason: str
    score: float | None
    responders: str
    regressions: tuple[str, ...]
    page: run_report.RunPage | None
    problem: str = ""


@dataclass(frozen=True)
class GameDayPage:
    plan: str
    started_at: datetime | None
    finished_at: datetime | None
    stopped: str
    score: float | None
    score_formula: str
    regression_rule: str
    rows: tuple[Row, ...]


def is_gameday(directory: Path) -> bool:
    """A game day's directory holds report.json naming its plan (a run's holds result.json)."""
    try:
        data = json.loads((directory / GAMEDAY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and "plan" in data and "drills" in data


def _when(value: Any) -> datetime | None:
    text = as_str(value)
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def _responders(marks: list[Any], injected_at: datetime | None) -> str:
    if injected_at is None:
        return ""
    first: dict[str, float] = {}
    for mark in map(as_dict, marks):
        name, at = as_str(mark.get("name")), as_float(mark.get("at"))
        if name and at is not None and (name not in first or at < first[name]):
            first[name] = at
    return ", ".join(
        f"{name} {at - injected_at.timestamp():.0f} s" for name, at in sorted(first.items())
    )


def _row(step: dict[str, Any]) -> Row:
    drill = as_str(step.get("drill")) or "?"
    run_dir = as_str(step.get("run_dir"))
    page, problem = None, ""
    if run_dir and step.get("status") == "ran":
        try:
            page = run_report.run_page(Path(run_dir))
        except (GenesisError, OSError) as exc:
            problem = f"{run_dir}: {exc}"
    injected = page.run.injected_at if page else None
    return Row(
        drill=drill,
        status=as_str(step.get("status")) or "?",
        reason=as_str(step.get("reason")),
        score=as_float(step.get("score")),
        responders=_responders(as_list(step.get("marks")), injected),
        regressions=tuple(as_str(r) for r in as_list(step.get("regressions"))),
        page=page,
        problem=problem,
    )


def gameday_page(directory: Path) -> GameDayPage:
    """The page's content from a game day's directory (InvalidInput when it is not one)."""
    path = directory / GAMEDAY_FILE
    try:
        data = as_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"{path}: not a game day's report.json ({exc})") from None
    return GameDayPage(
        plan=as_str(data.get("plan")),
        started_at=_when(data.get("started_at")),
        finished_at=_when(data.get("finished_at")),
        stopped=as_str(data.get("stopped")),
        score=as_float(data.get("score")),
        score_formula=as_str(data.get("score_formula")),
        regression_rule=as_str(data.get("regression_rule")),
        rows=tuple(_row(as_dict(step)) for step in as_list(data.get("drills"))),
    )


def write_gameday_report(directory: Path) -> Path:
    """Render `report.html` into the game day's directory and return its path."""
    html = (
        run_report.environment()
        .get_template("gameday.html.j2")
        .render(
            day=gameday_page(directory),
            assets=run_report.assets(),
        )
    )
    return run_report.write(directory / run_report.REPORT_NAME, html)
