"""Run history: every run indexed in a small SQLite file, trends per drill, and regressions.

Why here: a single drill says whether *this* run met its objectives; teams also want to know when
recovery got slower than it used to be, even while it still meets the objective. History reads
only what runs leave on disk (`<runs dir>/<run id>/result.json`), so runs made by the CLI, by game
days and by the pytest plugin are all indexed the same way — `sync` picks up any run directory that
is not yet in the index, so nothing has to remember to register itself.

The regression rule (shown with every verdict, see `RULE`):

    For each figure (TTD, TTR, events lost) of a run, the baseline is the same drill's last
    `BASELINE_RUNS` (10) earlier runs on the same target that measured the figure. With at least
    `MIN_BASELINE` (5) values, the run regressed on that figure when

        value > median + max(3 x 1.4826 x MAD, 10 % of median, floor)

    where MAD is the median absolute deviation of the baseline (1.4826 x MAD estimates the standard
    deviation of normally distributed figures, robust to the odd outlier run) and the floor is
    1 s for TTD, 2 s for TTR and 0 events for loss (so any loss over a loss-free baseline counts).
    Fewer than 5 baseline values: "not enough history", never a regression.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drills.errors import InvalidInput
from drills.outcome import MEASURED, Outcome
from drills.results import DrillResult

DB_NAME = "history.sqlite"
BASELINE_RUNS = 10
MIN_BASELINE = 5
MAD_FACTOR = 3.0
MAD_SCALE = 1.4826
RELATIVE_FLOOR = 0.10
# figure name → (result.json key, absolute floor, unit)
FIGURES: dict[str, tuple[str, float, str]] = {
    "ttd": ("ttd_seconds", 1.0, "s"),
    "ttr": ("ttr_seconds", 2.0, "s"),
    "lost": ("lost", 0.0, " events"),
}
RULE = (
    f"regression: value > median + max({MAD_FACTOR:g} x {MAD_SCALE} x MAD, "
    f"{RELATIVE_FLOOR:.0%} of median, floor [TTD 1 s, TTR 2 s, lost 0]) over the last "
    f"{BASELINE_RUNS} earlier runs of the drill on the same target (at least {MIN_BASELINE})"
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    drill TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ttd REAL,
    ttn REAL,
    ttr REAL,
    lost INTEGER,
    duplicated INTEGER,
    budget REAL,
    wall REAL,
    run_dir TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_drill ON runs (drill, target, started_at);
"""
# Outcomes whose figures were measured: a refused or broken run says nothing about speed.
MEASURED_OUTCOMES = tuple(sorted(str(outcome) for outcome in MEASURED))


@dataclass(frozen=True)
class RunRow:
    """One indexed run."""

    run_id: str
    drill: str
    target: str
    outcome: Outcome
    started_at: str  # ISO 8601, milliseconds: sorts as it reads
    ttd: float | None
    ttn: float | None
    ttr: float | None
    lost: int | None
    duplicated: int | None
    budget: float | None
    wall: float | None
    run_dir: str

    def figure(self, name: str) -> float | None:
        value: float | int | None = getattr(self, name)
        return None if value is None else float(value)

    @classmethod
    def of(cls, result: DrillResult, run_dir: Path) -> RunRow:
        ledger = result.ledger
        return cls(
            run_id=result.run_id,
            drill=result.drill,
            target=result.target,
            outcome=result.outcome,
            started_at=result.started_at.isoformat(timespec="milliseconds"),
            ttd=result.ttd_seconds,
            ttn=result.ttn_seconds,
            ttr=result.ttr_seconds,
            lost=ledger.lost if ledger else None,
            duplicated=ledger.duplicated if ledger else None,
            budget=result.error_budget_consumed,
            wall=result.wall_seconds,
            run_dir=str(run_dir),
        )

    @classmethod
    def from_db(cls, row: Sequence[Any]) -> RunRow:
        values = list(row)
        values[3] = Outcome(values[3])
        return cls(*values)


@dataclass(frozen=True)
class Verdict:
    """The regression rule applied to one figure of one run."""

    figure: str
    value: float | None
    median: float | None
    mad: float | None
    threshold: float | None
    baseline_size: int
    regressed: bool
    note: str

    def describe(self) -> str:
        unit = FIGURES[self.figure][2]
        if self.value is None:
            return f"{self.figure}: not measured"
        if self.threshold is None:
            return f"{self.figure}: {self.value:g}{unit} — {self.note}"
        word = "REGRESSED" if self.regressed else "ok"
        return (
            f"{self.figure}: {self.value:g}{unit} {word} (baseline median {self.median:g}{unit}, "
            f"MAD {self.mad:g}, threshold {self.threshold:g}{unit}, n={self.baseline_size})"
        )


@dataclass(frozen=True)
class Trend:
    """Recent figures of one drill, oldest first, and their medians."""

    drill: str
    runs: tuple[RunRow, ...]

    def series(self, figure: str) -> list[float | None]:
        return [row.figure(figure) for row in self.runs]

    def median(self, figure: str) -> float | None:
        values = [v for v in self.series(figure) if v is not None]
        return statistics.median(values) if values else None


def threshold(baseline: Sequence[float], floor: float) -> tuple[float, float, float]:
    """(median, MAD, threshold) of a baseline under the rule in the module docstring (pure)."""
    med = statistics.median(baseline)
    mad = statistics.median(abs(x - med) for x in baseline)
    return med, mad, med + max(MAD_FACTOR * MAD_SCALE * mad, RELATIVE_FLOOR * abs(med), floor)


def judge(figure: str, value: float | None, baseline: Sequence[float]) -> Verdict:
    """Apply the regression rule to one figure against its baseline (earlier runs, any order)."""
    if figure not in FIGURES:
        raise InvalidInput(f"unknown figure {figure!r} (known: {', '.join(FIGURES)})")
    recent = list(baseline)[-BASELINE_RUNS:]
    if value is None:
        return Verdict(figure, None, None, None, None, len(recent), False, "not measured")
    if len(recent) < MIN_BASELINE:
        note = f"not enough history ({len(recent)} of {MIN_BASELINE} baseline runs)"
        return Verdict(figure, value, None, None, None, len(recent), False, note)
    med, mad, limit = threshold(recent, FIGURES[figure][1])
    regressed = value > limit
    return Verdict(figure, value, med, mad, limit, len(recent), regressed, "")


class History:
    """The index of one runs directory (`<runs dir>/history.sqlite`)."""

    def __init__(self, runs_dir: Path) -> None:
        self.runs_dir = runs_dir
        self.path = runs_dir / DB_NAME
        # Run directories `sync` could not index, and why (a result.json of an unknown shape):
        # one broken run must not hide the others' history, nor be dropped without a word.
        self.skipped: dict[Path, str] = {}

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        try:
            with closing(sqlite3.connect(self.path, timeout=10)) as conn:
                conn.executescript(_SCHEMA)
                with conn:  # one transaction, committed on success
                    yield conn
        except sqlite3.Error as exc:
            raise InvalidInput(f"run history {self.path}: {exc}") from exc

    def record(self, run_dir: Path) -> RunRow:
        """Index one run directory (idempotent); InvalidInput when its result.json is missing
        or not a result (the message names the file and the field)."""
        row = RunRow.of(DrillResult.read(run_dir), run_dir)
        with self._db() as conn:
            self._insert(conn, [row])
        return row

    def sync(self) -> int:
        """Index every run directory not indexed yet; returns how many were added. Those whose
        result.json cannot be read are left out and listed in `skipped`."""
        with self._db() as conn:
            known = {r[0] for r in conn.execute("SELECT run_id FROM runs")}
            rows = []
            for result in sorted(self.runs_dir.glob("*/result.json")):
                if result.parent.name in known:
                    continue
                try:
                    rows.append(RunRow.of(DrillResult.read(result.parent), result.parent))
                except InvalidInput as exc:
                    self.skipped[result.parent] = str(exc)
            self._insert(conn, rows)
        return len(rows)

    @staticmethod
    def _insert(conn: sqlite3.Connection, rows: Iterable[RunRow]) -> None:
        conn.executemany(
            "INSERT OR REPLACE INTO runs VALUES "
            "(:run_id, :drill, :target, :outcome, :started_at, :ttd, :ttn, :ttr, :lost, "
            ":duplicated, :budget, :wall, :run_dir)",
            [row.__dict__ for row in rows],
        )

    def runs(self, drill: str | None = None, limit: int = 20) -> list[RunRow]:
        """The most recent runs (of one drill, or all), oldest first."""
        with self._db() as conn:
            rows = conn.execute(
                "SELECT * FROM runs WHERE (? IS NULL OR drill = ?) "
                "ORDER BY started_at DESC, run_id DESC LIMIT ?",
                (drill, drill, limit),
            ).fetchall()
        return [RunRow.from_db(row) for row in reversed(rows)]

    def drills(self) -> list[str]:
        with self._db() as conn:
            return [r[0] for r in conn.execute("SELECT DISTINCT drill FROM runs ORDER BY drill")]

    def trend(self, drill: str, limit: int = 20) -> Trend:
        return Trend(drill, tuple(self.runs(drill, limit)))

    def baseline(self, row: RunRow, figure: str) -> list[float]:
        """The figure's values over the drill's earlier measured runs on the same target."""
        column = {"ttd": "ttd", "ttr": "ttr", "lost": "lost"}[figure]
        placeholders = ", ".join("?" for _ in MEASURED_OUTCOMES)
        with self._db() as conn:
            values = conn.execute(
                f"SELECT {column} FROM runs WHERE drill = ? AND target = ? "  # noqa: S608 - column and placeholders come from constants above
                f"AND outcome IN ({placeholders}) AND {column} IS NOT NULL "
                "AND (started_at < ? OR (started_at = ? AND run_id < ?)) "
                "ORDER BY started_at DESC, run_id DESC LIMIT ?",
                (
                    row.drill,
                    row.target,
                    *MEASURED_OUTCOMES,
                    row.started_at,
                    row.started_at,
                    row.run_id,
                    BASELINE_RUNS,
                ),
            ).fetchall()
        return [float(v[0]) for v in reversed(values)]

    def check(self, run_dir: Path) -> list[Verdict]:
        """Index the run, apply the regression rule to each of its figures, and leave the
        verdicts in the run directory (`regressions.json`) for its post-mortem."""
        self.sync()
        row = self.record(run_dir)
        if row.outcome not in MEASURED:
            verdicts = [
                Verdict(name, None, None, None, None, 0, False, f"run {row.outcome}")
                for name in FIGURES
            ]
        else:
            verdicts = [judge(name, row.figure(name), self.baseline(row, name)) for name in FIGURES]
        (run_dir / "regressions.json").write_text(
            json.dumps(
                [
                    {"figure": v.figure, "regressed": v.regressed, "text": v.describe()}
                    for v in verdicts
                ],
                indent=2,
            )
        )
        return verdicts


def regressed(verdicts: Iterable[Verdict]) -> list[Verdict]:
    return [v for v in verdicts if v.regressed]
