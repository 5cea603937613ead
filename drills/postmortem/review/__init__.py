"""Post-mortem review: lint rules for generated drafts and hand-written post-mortems alike.

`genesis-drill postmortem review` reads each file into a `document.Document` (front matter and
Markdown sections), runs the checks of `sections`, `action_items` and `language` over it, and
prints the findings with `report`. Each rule has an id, a severity and a one-line explanation
(`findings.RULES`); a finding names the file and line.
"""

from __future__ import annotations

from pathlib import Path

from drills.postmortem.review.action_items import check_actions
from drills.postmortem.review.document import parse
from drills.postmortem.review.findings import RULES, Finding, Review, finding
from drills.postmortem.review.language import check_blame, check_placeholders
from drills.postmortem.review.report import format_github, format_json, format_text
from drills.postmortem.review.sections import check_impact, check_sections, check_timeline
from drills.yamlio import read_text

__all__ = [
    "RULES",
    "Finding",
    "Review",
    "format_github",
    "format_json",
    "format_text",
    "review_file",
    "review_text",
]


def review_text(path: str, text: str, allow_draft: bool = False) -> Review:
    document = parse(text)
    status = str(document.front_matter.get("status", "")).strip().lower()
    draft = status == "draft"
    findings: list[Finding] = []
    if document.front_matter_error is not None:
        at, why = document.front_matter_error
        findings.append(finding(path, at, "front-matter", why))
    if draft and not allow_draft:
        findings.append(
            finding(
                path, 1, "draft-status", "status is draft (pass --allow-draft to review a draft)"
            )
        )
    findings += check_sections(path, document)
    findings += check_impact(path, document)
    findings += check_timeline(path, document)
    findings += check_actions(path, document, draft and allow_draft)
    findings += check_placeholders(path, document, draft and allow_draft)
    findings += check_blame(path, document)
    return Review(path, status, tuple(sorted(findings, key=lambda f: (f.line, f.rule))))


def review_file(path: Path, allow_draft: bool = False) -> Review:
    # Bounded, non-blocking read: a FIFO or /dev/zero is refused instead of hanging the review.
    return review_text(str(path), read_text(path), allow_draft)
