"""Rules on the sections themselves: all required ones present and filled, the impact stated in
numbers, the timeline in UTC and in time order.
"""

from __future__ import annotations

import re
from datetime import datetime

from drills.postmortem.review.document import Document, Section, without_code_spans
from drills.postmortem.review.findings import Finding, finding
from drills.postmortem.review.headings import REQUIRED

QUANTITY = re.compile(r"\d")
VAGUE_IMPACT = re.compile(
    r"\b(?:some|several|many|a few|a number of|a lot of|lots of|most|numerous)\s+"
    r"(?:users|customers|events|requests|people|clients|messages|errors)\b",
    re.IGNORECASE,
)
_UTC = re.compile(r"\bUTC\b|\bZ\b|[+-]00:?00\b|\d{2}Z\b")
_DATETIME = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})?[ T]?(?P<time>\b\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)"
)


def check_sections(path: str, document: Document) -> list[Finding]:
    findings = []
    by_key: dict[str, list[Section]] = {}
    for section in document.sections:
        if section.key:
            by_key.setdefault(section.key, []).append(section)
    for key, label in REQUIRED.items():
        found = by_key.get(key)
        if not found:
            findings.append(finding(path, 1, "missing-section", f"no '{label}' section"))
        elif not any(s.has_content() for s in found):
            findings.append(
                finding(path, found[0].line, "empty-section", f"'{found[0].title}' is empty")
            )
    return findings


def check_impact(path: str, document: Document) -> list[Finding]:
    findings = []
    for section in document.sections_of("impact"):
        if section.has_content() and not QUANTITY.search(section.text()):
            findings.append(
                finding(path, section.line, "impact-not-quantified", "impact states no number")
            )
        for number, line in section.body:
            for match in VAGUE_IMPACT.finditer(line):
                findings.append(
                    finding(path, number, "impact-vague", f"'{match.group(0)}': say how many")
                )
    return findings


def _timestamp(line: str, day: str | None) -> tuple[datetime | None, str | None]:
    """The entry's time, on its own date or the last date seen above it (rows often give only
    the time after the first one)."""
    match = _DATETIME.search(without_code_spans(line))
    if not match:
        return None, day
    day = match.group("date") or day
    clock = match.group("time")
    if clock.count(":") == 1:
        clock += ":00"
    try:
        return datetime.fromisoformat(f"{day or '1970-01-01'} {clock.zfill(8)}"), day
    except ValueError:
        return None, day


def check_timeline(path: str, document: Document) -> list[Finding]:
    findings = []
    for section in document.sections_of("timeline"):
        if not _UTC.search(section.title + "\n" + section.text()):
            findings.append(
                finding(path, section.line, "timeline-no-utc", "the timeline does not say UTC")
            )
        previous: datetime | None = None
        day: str | None = None
        for number, line in section.entries():  # only rows and list items are entries
            at, day = _timestamp(line, day)
            if at is None:
                continue
            if previous is not None and at < previous:
                findings.append(
                    finding(
                        path,
                        number,
                        "timeline-order",
                        f"{at:%Y-%m-%d %H:%M:%S} comes after {previous:%Y-%m-%d %H:%M:%S}",
                    )
                )
            previous = max(previous, at) if previous else at
    return findings
