"""The local sandbox's logs: `logs/<program>.log` (supervisord's, stderr included), read from a
moment on.

Why seek instead of reading the file: supervisord keeps up to 20 MB per program (and rotates to
`.log.1`), and the drill window is the last minute or two of it. The start of the window is found
by bisecting the file on the times its lines carry (`drills.log_lines`), then at most `max_bytes`
are read from there; a rotated file is read first when the current one begins after `since`.
Bytes, not text: a line that is not UTF-8 is the parser's business (it is replaced, not fatal).
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from drills.log_lines import parse

_PROBE_BYTES = 64 * 1024  # how far past a bisection point a timed line is looked for


def _time_after(handle: BinaryIO, offset: int) -> float | None:
    """The time of the first timed line starting after `offset` (None: none near)."""
    handle.seek(offset)
    lines = handle.read(_PROBE_BYTES).split(b"\n")
    for line in lines[1 if offset else 0 : -1]:  # the first is partial, the last may be
        entry = parse(line)
        if entry is not None and entry.at is not None:
            return entry.at
    return None


def start_offset(path: Path, since: float) -> int:
    """A byte offset at a line start at or before the first line timed `since` or later."""
    with path.open("rb") as handle:
        low, high = 0, path.stat().st_size
        while high - low > _PROBE_BYTES:
            middle = (low + high) // 2
            at = _time_after(handle, middle)
            if at is not None and at < since:
                low = middle
            else:
                high = middle
        if low == 0:
            return 0
        handle.seek(low)
        handle.readline()  # to the next line start
        return handle.tell()


def read_lines(path: Path, since: float, max_bytes: int) -> tuple[list[bytes], bool]:
    """The lines of `path` from about `since` on, at most `max_bytes`; True when cut there."""
    offset = start_offset(path, since)
    with path.open("rb") as handle:
        handle.seek(offset)
        data = handle.read(max_bytes + 1)
    cut = len(data) > max_bytes
    if cut:
        data = data[: data.rfind(b"\n", 0, max_bytes) + 1]
    return data.splitlines(), cut


def read_program(
    logs_dir: Path, program: str, since: float, max_bytes: int
) -> tuple[list[bytes], bool]:
    """One program's lines from `since` on, its rotated file first when the current one starts
    after `since`; True when the byte limit cut the read short."""
    current, rotated = logs_dir / f"{program}.log", logs_dir / f"{program}.log.1"
    lines: list[bytes] = []
    budget, cut = max_bytes, False
    if rotated.exists() and current.exists() and _first_time(current) > since:
        lines, cut = read_lines(rotated, since, budget)
        budget -= sum(len(line) + 1 for line in lines)
    if current.exists() and budget > 0 and not cut:
        more, cut = read_lines(current, since, budget)
        lines += more
    return lines, cut


def _first_time(path: Path) -> float:
    with path.open("rb") as handle:
        at = _time_after(handle, 0)
    return at if at is not None else float("inf")
