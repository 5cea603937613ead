"""Which heading names which post-mortem section, whatever template the document followed.

Headings are matched case-insensitively with the variants the Google SRE, PagerDuty and Atlassian
templates use ("Root Cause(s)", "Lessons Learned", "Action Items", ...), after numbering,
punctuation, "(s)" and a trailing "(UTC)" are dropped (`normalise_heading`).
"""

from __future__ import annotations

import re

REQUIRED = {
    "summary": "Summary",
    "impact": "Impact",
    "root_causes": "Root causes",
    "trigger": "Trigger",
    "detection": "Detection",
    "resolution": "Resolution / recovery",
    "timeline": "Timeline",
    "lessons": "Lessons learned",
    "actions": "Action items",
}

# Heading text (normalised: lower case, no numbering, punctuation or "(s)") → section.
ALIASES = {
    "summary": (
        "summary",
        "executive summary",
        "incident summary",
        "overview",
        "description",
        "tl dr",
        "tldr",
    ),
    "impact": ("impact", "customer impact", "user impact", "business impact", "impact assessment"),
    "root_causes": (
        "root cause",
        "root causes",
        "root cause analysis",
        "root causes and contributing factors",
        "root cause and contributing factors",
        "causes",
    ),
    "trigger": ("trigger", "triggers", "trigger event", "what triggered the incident"),
    "detection": ("detection", "detect", "how was it detected", "monitoring and detection"),
    "resolution": (
        "resolution",
        "recovery",
        "resolution and recovery",
        "response and recovery",
        "response",
        "mitigation",
        "mitigation and resolution",
        "remediation",
        "recovery and resolution",
    ),
    "timeline": ("timeline", "incident timeline", "detailed timeline", "timeline utc"),
    "lessons": (
        "lessons learned",
        "lessons learnt",
        "lessons",
        "learnings",
        "what went well",
        "what went wrong",
        "where we got lucky",
        "retrospective",
    ),
    "actions": (
        "action items",
        "action item",
        "actions",
        "follow ups",
        "follow up actions",
        "follow up items",
        "corrective actions",
        "corrective and preventative actions",
        "next steps",
        "action items and follow ups",
    ),
}
_HEADING_TO_SECTION = {alias: key for key, names in ALIASES.items() for alias in names}


def normalise_heading(text: str) -> str:
    text = text.lower().replace("(s)", "s")
    text = re.sub(r"^[\d.\s]+", "", text)  # "3.1 Root causes"
    text = re.sub(r"[^a-z0-9]+", " ", text)
    text = re.sub(r"\s+(?:in\s+)?utc$", "", " ".join(text.split()))  # "Timeline (UTC)"
    return text


def section_key(title: str) -> str | None:
    """The `REQUIRED` key a heading stands for, or None for a heading the review does not know."""
    return _HEADING_TO_SECTION.get(normalise_heading(title))
