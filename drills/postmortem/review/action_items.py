"""Rules on action items: each has a type, a priority, an owner and a tracking link, starts with
a verb (judged by `verbs`: an error only where the word is sure not to be one) and says
something concrete.

Items come from the action section's tables (columns found by name, as the SRE, PagerDuty and
Atlassian templates name them) or from a bullet list before the first table (a list after a table
is notes about it, not more items).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from drills.postmortem.review.document import Document, ListItem, Section
from drills.postmortem.review.findings import Finding, finding
from drills.postmortem.review.headings import normalise_heading
from drills.postmortem.review.language import PLACEHOLDER
from drills.postmortem.review.verbs import Kind, judge

ACTION_TYPES = ("investigate", "mitigate", "repair", "detect", "prevent", "process")
VAGUE = (
    r"improve (?:the )?(?:monitoring|alerting|observability|testing|reliability|processes?)",
    r"be more careful",
    r"investigate further",
    r"look into (?:it|this)",
    r"make (?:it|things) better",
    r"fix (?:the )?issues?$",
    r"monitor (?:more|better)",
    r"^better (?:monitoring|alerting|observability|testing|documentation)",
)
TRACKING = re.compile(r"https?://\S+|(?:[\w.-]+/[\w.-]+)?#\d+\b|\b[A-Z][A-Z0-9]+-\d+\b")


@dataclass(frozen=True)
class ActionRow:
    line: int
    title: str
    type: str
    priority: str
    owner: str
    tracking: str


def action_rows(section: Section) -> list[ActionRow]:
    """Action items from the section's tables, or from its bullets before the first table."""
    rows = [
        _row_from_table(row.line, [normalise_heading(c) for c in table.header], row.cells)
        for table in section.tables
        for row in table.rows
    ]
    first_table = min((table.line for table in section.tables), default=None)
    rows += [
        _row_from_bullet(item)
        for item in section.items
        if first_table is None or item.line < first_table
    ]
    return sorted(rows, key=lambda row: row.line)


def _column(header: Sequence[str], cells: Sequence[str], *names: str) -> str:
    for index, title in enumerate(header):
        if index < len(cells) and any(title == n or title.startswith(n) for n in names):
            return cells[index]
    return ""


def _row_from_table(number: int, header: Sequence[str], cells: Sequence[str]) -> ActionRow:
    title = _column(header, cells, "action", "item", "title", "description", "task", "what")
    return ActionRow(
        line=number,
        title=title or (cells[0] if cells else ""),
        type=_column(header, cells, "type", "kind", "category"),
        priority=_column(header, cells, "priority", "prio", "severity"),
        owner=_column(header, cells, "owner", "assignee", "who"),
        tracking=_column(header, cells, "tracking", "issue", "ticket", "link", "bug"),
    )


def _row_from_bullet(item: ListItem) -> ActionRow:
    text = item.text
    kind = re.search(r"\b(" + "|".join(ACTION_TYPES) + r")\b", text, re.IGNORECASE)
    priority = re.search(r"\bP[0-2]\b", text)
    owner = re.search(r"(?:owner:\s*|@)([\w-]+)", text, re.IGNORECASE)
    tracking = TRACKING.search(text)
    title = re.split(r"\s[\u2014(|\u2013]\s?|\s-\s", text)[0]
    return ActionRow(
        item.line,
        title,
        kind.group(1) if kind else "",
        priority.group(0) if priority else "",
        owner.group(1) if owner else "",
        tracking.group(0) if tracking else "",
    )


def check_actions(path: str, document: Document, draft: bool) -> list[Finding]:
    findings = []
    for section in document.sections_of("actions"):
        for row in action_rows(section):
            findings += _check_action(path, row, draft)
    return findings


def _check_action(path: str, row: ActionRow, draft: bool) -> list[Finding]:
    findings = []
    title = re.sub(r"[*_`\\]", "", row.title).strip()
    label = title[:50] or f"line {row.line}"
    if row.type.strip().lower().strip("*_`") not in ACTION_TYPES:
        findings.append(finding(path, row.line, "action-no-type", f"'{label}': no type"))
    if not re.fullmatch(r"[*_`]*P[0-2][*_`]*", row.priority.strip()):
        findings.append(finding(path, row.line, "action-no-priority", f"'{label}': no P0-P2"))
    owner = row.owner.strip()
    if not owner or (PLACEHOLDER.search(owner) and not draft):
        findings.append(finding(path, row.line, "action-no-owner", f"'{label}': no owner"))
    if not TRACKING.search(row.tracking) and not draft:
        findings.append(finding(path, row.line, "action-no-tracking", f"'{label}': no issue link"))
    verdict = judge(row.title)
    if verdict.kind is Kind.NOT_VERB:
        message = f"'{label}': start with a verb, not '{verdict.word}' ({verdict.why})"
        findings.append(finding(path, row.line, "action-no-verb", message))
    elif verdict.kind is Kind.UNSURE:
        message = f"'{label}': is '{verdict.word}' a verb? {verdict.why}; start with what to do"
        findings.append(finding(path, row.line, "action-verb-unsure", message))
    for pattern in VAGUE:
        if re.search(pattern, title, re.IGNORECASE):
            findings.append(
                finding(path, row.line, "action-vague", f"'{label}': say what, where and how much")
            )
            break
    return findings
