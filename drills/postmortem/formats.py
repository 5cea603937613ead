"""How every document the harness writes shows a time, a duration, an offset and a count.

One place for the post-mortem's Markdown, the game day's and the HTML report, so a figure reads
the same in all of them (a report's "11.1 s" is the post-mortem's "11.1 s"). Each takes `None`
for "not measured" and says so, never a blank that could be read as zero.
"""

from __future__ import annotations

from datetime import UTC, datetime

NOT_MEASURED = "n/a"


def utc(value: datetime | None) -> str:
    """Milliseconds, UTC: the precision of the journal's and Prometheus's timestamps."""
    if value is None:
        return NOT_MEASURED
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def seconds(value: float | None) -> str:
    return NOT_MEASURED if value is None else f"{value:.1f} s"


def offset(value: float | None) -> str:
    """Relative to the injection: `T+12.3 s`; empty when the row has no offset."""
    return "" if value is None else f"T{value:+.1f} s"


def number(value: float | None, digits: int = 0) -> str:
    return NOT_MEASURED if value is None else f"{value:,.{digits}f}"


FILTERS = {"utc": utc, "seconds": seconds, "offset": offset, "number": number}
