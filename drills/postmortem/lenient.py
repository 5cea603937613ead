"""Lenient readers of the JSON a run directory holds (journal records, saved series): a value of
the wrong type reads as empty or None instead of raising, because a journal is a crash log and
a post-mortem must still render from whatever a dying harness wrote. `result.json` is not read
this way: it is the strict run model (drills.results)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from drills.errors import InvalidInput


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str:
    return "" if value is None else str(value)


def as_float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return None if math.isnan(number) or math.isinf(number) else number


def as_int(value: Any) -> int | None:
    number = as_float(value)
    return None if number is None else int(number)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise InvalidInput(f"{path}: not valid JSON: {exc}") from exc
