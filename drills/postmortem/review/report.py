"""The review's output for people and machines: `file:line: rule: severity: message` text,
JSON with the rule table, and GitHub Actions annotations.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict

from drills.postmortem.review.findings import RULES, Review


def format_text(reviews: Sequence[Review]) -> str:
    lines = [
        f"{f.path}:{f.line}: {f.rule}: {f.severity}: {f.message}"
        for review in reviews
        for f in review.findings
    ]
    errors = sum(r.errors for r in reviews)
    lines.append(
        f"{len(reviews)} file(s) reviewed: {errors} error(s), "
        f"{sum(len(r.findings) for r in reviews) - errors} warning(s)"
    )
    return "\n".join(lines)


def format_json(reviews: Sequence[Review]) -> str:
    return json.dumps(
        {
            "files": [
                {
                    "path": r.path,
                    "status": r.status,
                    "errors": r.errors,
                    "findings": [asdict(f) for f in r.findings],
                }
                for r in reviews
            ],
            "rules": {rule.id: asdict(rule) for rule in RULES.values()},
        },
        indent=2,
    )


def _gh_escape(text: str, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def format_github(reviews: Sequence[Review]) -> str:
    """GitHub Actions workflow commands: one `::error`/`::warning` annotation per finding."""
    return "\n".join(
        f"::{f.severity} file={_gh_escape(f.path, True)},line={f.line},"
        f"title={_gh_escape(f.rule, True)}::{_gh_escape(f.message)}"
        for review in reviews
        for f in review.findings
    )
