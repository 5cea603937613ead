"""Rules on the wording: no template placeholder left in a final version, no blame.

A blameless post-mortem describes what the system allowed, not who erred (the SRE book's
"Postmortem Culture"): blaming phrases ("human error", "should have") and sentences that make a
named person the cause ("caused by Alice", "@jdoe misconfigured") are errors. A sentence whose
subject is an ordinary English word and whose verb a system does too ("Monitoring missed the
first 6 s") is only a warning: it is most likely about a system, and a name that is also a word
("Bob broke ...") cannot be told from one. Code, fenced or in spans, is quoted text and never
checked.
"""

from __future__ import annotations

import re

from drills.postmortem.review.document import Document, without_code_spans
from drills.postmortem.review.findings import Finding, finding
from drills.postmortem.review.verbs import known_word

BLAME_PHRASES = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"\bhuman error\b",
        r"\bshould(?: have|'ve)\b",
        r"\bfailed to\b",
        r"\bcareless(?:ly|ness)?\b",
        r"\bnegligen(?:t|ce)\b",
        r"\bdropped the ball\b",
        r"\bblam(?:e|ed|es|ing)\b",  # not "blameless"
        r"\bincompeten(?:t|ce)\b",
        r"\bfault of\b",
        r"\b(?:screwed|messed) up\b",
    )
)
# Words that begin a sentence or name a system, never a person.
_NOT_PEOPLE = frozenset(
    [
        "the",
        "this",
        "that",
        "it",
        "we",
        "they",
        "a",
        "an",
        "our",
        "their",
        "its",
        "rabbitmq",
        "postgres",
        "postgresql",
        "redis",
        "prometheus",
        "alertmanager",
        "grafana",
        "kubernetes",
        "supervisord",
        "generator",
        "analysis",
        "dashboard",
        "notification",
        "auditflow",
        "drill",
        "harness",
        "nobody",
        "somebody",
        "someone",
        "everyone",
        "no",
        "one",
        "alert",
        "rule",
        "deploy",
        "change",
        "config",
        "service",
        "consumer",
        "broker",
        "database",
        "queue",
    ]
)
PERSON_CAUSE = re.compile(
    r"(?:^|[.!?]\s+|\b(?:because of|due to|caused by|blamed on)\s+)"
    r"(?P<who>@[\w-]+|[A-Z][a-z]+(?:\s[A-Z][a-z]+)?)\b"
    r"(?:\s+(?P<verb>forgot|ignored|neglected|broke|caused|misconfigured|deleted|skipped|"
    r"overlooked|missed|did not|didn't|never)\b)?"
)
# Things a component does as well as a person ("Retries never", "Detection missed").
_SYSTEM_VERBS = frozenset(["missed", "never", "did not", "didn't", "broke", "caused", "skipped"])
PLACEHOLDER = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\bTODO\b|\bTBD\b|\bFIXME\b|\bXXX\b|<placeholder>")


def check_placeholders(path: str, document: Document, draft: bool) -> list[Finding]:
    if draft:
        return []
    findings = []
    for number, line in document.prose_lines():
        for match in PLACEHOLDER.finditer(without_code_spans(line)):
            findings.append(
                finding(path, number, "placeholder", f"'{match.group(0)}' left in a final version")
            )
    return findings


def check_blame(path: str, document: Document) -> list[Finding]:
    findings = []
    for number, raw in document.prose_lines():
        line = without_code_spans(raw)
        for pattern in BLAME_PHRASES:
            for hit in pattern.finditer(line):
                findings.append(
                    finding(
                        path,
                        number,
                        "blame-language",
                        f"'{hit.group(0)}': describe what the system allowed, not who erred",
                    )
                )
        for match in PERSON_CAUSE.finditer(line):
            who = match.group("who")
            first = who.split()[0].lower().lstrip("@")
            via = match.group(0).lower()
            named_cause = match.group("verb") or re.search(
                r"because of|due to|caused by|blamed", via
            )
            if named_cause and (who.startswith("@") or first not in _NOT_PEOPLE):
                if not who.startswith("@") and not _looks_like_person(who, line):
                    continue
                quoted = match.group(0).strip()
                if _maybe_a_system(match):
                    message = f"'{quoted}': is '{who}' a person? If so, name the system condition"
                    findings.append(finding(path, number, "blame-person-unsure", message))
                    continue
                message = f"'{quoted}': name the system condition, not a person"
                findings.append(finding(path, number, "blame-person", message))
    return findings


def _maybe_a_system(match: re.Match[str]) -> bool:
    """'Monitoring missed the first 6 s', 'Retries never exceeded 3': a sentence whose subject is
    an ordinary English word and whose verb a system does as well as a person may be about the
    system. Names an English lexicon lacks ('Alice'), handles, verbs only people do ('forgot')
    and 'caused by X' stay sure; a name that is also a word ('Bob broke') is only unsure."""
    verb = match.group("verb")
    if verb is None or verb not in _SYSTEM_VERBS or match.group("who").startswith("@"):
        return False
    if re.search(r"because of|due to|caused by|blamed on", match.group(0).lower()):
        return False
    return all(known_word(part.lower()) for part in match.group("who").split())


def _looks_like_person(who: str, line: str) -> bool:
    """A capitalised word counts as a name unless it is a sentence's ordinary first word."""
    word = who.split(maxsplit=1)[0]
    common = {"Every", "Each", "Some", "One", "All", "When", "While", "After", "Before", "Then"}
    return word not in common and word.lower() not in _NOT_PEOPLE and not word.isupper()
