"""cli: start-up time of `genesis-drill --help` and `genesis-drill list` against `python -c pass`.

    .venv/bin/python bench/cli.py [--repeat 15]

Each command runs `--repeat` times, interleaved (so a burst of machine noise hits all three
alike); the median and the best wall time are reported, plus the median beyond the bare
interpreter's start-up — the harness's own import cost. No sandbox is needed: neither command
touches one. The modules each command imports are listed from `-X importtime` so a regression
names its culprit.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import REPO, emit, machine

VENV_BIN = Path(sys.executable).parent
HELP_TARGET_S = 0.3
HEAVY = (
    "matplotlib",
    "kubernetes",
    "githubkit",
    "jinja2",
    "hypothesis",
    "pika",
    "psycopg",
    "httpx",
    "prometheus_api_client",
    "rich",
    "yaml",
)


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def heavy_imports(argv: list[str]) -> list[str]:
    """Top-level packages from HEAVY that the command imports (from `-X importtime`)."""
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    result = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    found = set()
    for line in result.stderr.splitlines():
        if "|" not in line:
            continue
        module = line.rsplit("|", 1)[1].strip()
        top = module.split(".")[0]
        if top in HEAVY:
            found.add(top)
    return sorted(found)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "genesis-drill --help": [str(VENV_BIN / "genesis-drill"), "--help"],
        "genesis-drill list": [str(VENV_BIN / "genesis-drill"), "list"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for argv in commands.values():  # warm the page cache and .pyc files once
        timed(argv)
    for _ in range(args.repeat):
        for name, argv in commands.items():
            times[name].append(timed(argv))
    base = statistics.median(times["python -c pass"])
    figures = {
        name: {
            "median_seconds": round(statistics.median(values), 4),
            "best_seconds": round(min(values), 4),
            "median_beyond_python_seconds": round(statistics.median(values) - base, 4),
        }
        for name, values in times.items()
    }
    help_median = figures["genesis-drill --help"]["median_seconds"]
    emit(
        {
            "benchmark": "cli",
            "command": "python bench/cli.py",
            "machine": machine(),
            "repeat": args.repeat,
            "figures": figures,
            "baseline": figures["python -c pass"],
            "heavy_imports": {
                name: heavy_imports(argv)
                for name, argv in commands.items()
                if name != "python -c pass"
            },
            "target_help_seconds": HELP_TARGET_S,
            "target_met": help_median <= HELP_TARGET_S,
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
