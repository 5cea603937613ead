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
MEASURED_OUTCOMES = ("passed", "failed", "aborted")


@dataclass(frozen=True)
class RunRow:
    """One indexed run."""

    run_id: str
    drill: str
    target: str
    outcome: str
    started_at: str
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


def _row(raw: dict[str, Any], run_dir: Path) -> RunRow | None:
    try:
        ledger = raw.get("ledger") or {}
        return RunRow(
            run_id=str(raw["run_id"]),
            drill=str(raw["drill"]),
            target=str(raw.get("target", "")),
            outcome=str(raw["outcome"]),
            started_at=str(raw["started_at"]),
            ttd=_num(raw.get("ttd_seconds")),
            ttn=_num(raw.get("ttn_seconds")),
            ttr=_num(raw.get("ttr_seconds")),
            lost=_int(ledger.get("lost")) if isinstance(ledger, dict) else None,
            duplicated=_int(ledger.get("duplicated")) if isinstance(ledger, dict) else None,
            budget=_num(raw.get("error_budget_consumed")),
            wall=_num(raw.get("wall_seconds")),
            run_dir=str(run_dir),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _num(value: Any) -> float | None:
    return None if value is None or isinstance(value, bool) else float(value)


def _int(value: Any) -> int | None:
    return None if value is None or isinstance(value, bool) else int(value)


class History:
    """The index of one runs directory (`<runs dir>/history.sqlite`)."""

    def __init__(self, runs_dir: Path) -> None:
        self.runs_dir = runs_dir
        self.path = runs_dir / DB_NAME

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

    def record(self, run_dir: Path) -> RunRow | None:
        """Index one run directory (idempotent); None when it has no readable result.json."""
        row = self._read(run_dir)
        if row is not None:
            with self._db() as conn:
                self._insert(conn, [row])
        return row

    def sync(self) -> int:
        """Index every run directory not indexed yet; returns how many were added."""
        with self._db() as conn:
            known = {r[0] for r in conn.execute("SELECT run_id FROM runs")}
            rows = [
                row
                for result in sorted(self.runs_dir.glob("*/result.json"))
                if result.parent.name not in known and (row := self._read(result.parent))
            ]
            self._insert(conn, rows)
        return len(rows)

    @staticmethod
    def _read(run_dir: Path) -> RunRow | None:
        try:
            raw = json.loads((run_dir / "result.json").read_text())
        except (OSError, ValueError):
            return None
        return _row(raw, run_dir) if isinstance(raw, dict) else None

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
        return [RunRow(*row) for row in reversed(rows)]

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
        if row is None:
            raise InvalidInput(f"{run_dir}: no readable result.json to check")
        if row.outcome not in MEASURED_OUTCOMES:
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
