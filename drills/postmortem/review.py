"""Post-mortem review: lint rules for generated drafts and hand-written post-mortems alike.

Headings are matched case-insensitively with the variants the Google SRE, PagerDuty and Atlassian
templates use ("Root Cause(s)", "Lessons Learned", "Action Items", ...). Each rule has an id, a
severity and a one-line explanation (`RULES`); a finding names the file and line. Only `error`
findings fail a review (exit 1); `warning`s are advice.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import yaml

from drills.yamlio import read_text

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    explanation: str


RULES = {
    rule.id: rule
    for rule in (
        Rule("missing-section", ERROR, "a required section is absent"),
        Rule("empty-section", ERROR, "a required section has no content"),
        Rule("impact-not-quantified", ERROR, "impact must be stated in numbers"),
        Rule("impact-vague", WARNING, "vague quantities ('some users') hide the real impact"),
        Rule("timeline-no-utc", ERROR, "the timeline must say its times are UTC"),
        Rule("timeline-order", ERROR, "timeline rows must be in time order"),
        Rule("action-no-type", ERROR, "an action item needs a type (investigate ... process)"),
        Rule("action-no-priority", ERROR, "an action item needs a priority P0-P2"),
        Rule("action-no-owner", ERROR, "an action item needs an owner"),
        Rule("action-no-tracking", ERROR, "an action item needs a tracking link"),
        Rule("action-no-verb", ERROR, "an action item starts with a verb"),
        Rule("action-vague", ERROR, "vague action items ('improve monitoring') never get done"),
        Rule("placeholder", ERROR, "template placeholders (TODO, TBD, {{ }}) are left"),
        Rule("front-matter", ERROR, "the YAML front matter must be a valid mapping"),
        Rule("draft-status", ERROR, "the post-mortem is still a draft"),
        Rule("blame-language", ERROR, "blameless post-mortems describe systems, not fault"),
        Rule("blame-person", ERROR, "a named person is presented as the cause"),
    )
}

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

ACTION_TYPES = ("investigate", "mitigate", "repair", "detect", "prevent", "process")
VERBS = frozenset(
    [
        "add",
        "adjust",
        "alert",
        "align",
        "audit",
        "automate",
        "build",
        "change",
        "check",
        "clarify",
        "clean",
        "configure",
        "create",
        "decide",
        "define",
        "delete",
        "deploy",
        "disable",
        "document",
        "enable",
        "enforce",
        "ensure",
        "establish",
        "extend",
        "file",
        "fix",
        "implement",
        "improve",
        "increase",
        "instrument",
        "introduce",
        "investigate",
        "limit",
        "lower",
        "make",
        "measure",
        "migrate",
        "monitor",
        "move",
        "page",
        "patch",
        "prevent",
        "raise",
        "reduce",
        "refactor",
        "remove",
        "rename",
        "repair",
        "replace",
        "restore",
        "review",
        "rewrite",
        "roll",
        "route",
        "run",
        "schedule",
        "set",
        "shorten",
        "split",
        "stop",
        "test",
        "track",
        "train",
        "tune",
        "update",
        "upgrade",
        "validate",
        "verify",
        "write",
    ]
)
VAGUE = (
    r"improve (?:the )?(?:monitoring|alerting|observability|testing|reliability|processes?)",
    r"be more careful",
    r"investigate further",
    r"look into (?:it|this)",
    r"make (?:it|things) better",
    r"fix (?:the )?issues?$",
    r"monitor (?:more|better)",
)
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
    r"overlooked|missed|did not|didn't|never))?"
)
PLACEHOLDER = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\bTODO\b|\bTBD\b|\bFIXME\b|\bXXX\b|<placeholder>")
QUANTITY = re.compile(r"\d")
VAGUE_IMPACT = re.compile(
    r"\b(?:some|several|many|a few|a number of|a lot of|lots of|most|numerous)\s+"
    r"(?:users|customers|events|requests|people|clients|messages|errors)\b",
    re.IGNORECASE,
)
_DATETIME = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})?[ T]?(?P<time>\b\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)"
)
_CODE_SPAN = re.compile(r"(`+).*?\1")
_TRACKING = re.compile(r"https?://\S+|(?:[\w.-]+/[\w.-]+)?#\d+\b|\b[A-Z][A-Z0-9]+-\d+\b")


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    rule: str
    severity: str
    message: str


@dataclass
class Section:
    key: str | None
    title: str
    level: int
    line: int
    body: list[tuple[int, str]] = field(default_factory=list)

    def text(self) -> str:
        return "\n".join(text for _, text in self.body)

    def has_content(self) -> bool:
        return any(
            line.strip() and not line.strip().startswith("<!--") and not _is_rule(line)
            for _, line in self.body
        )


def _is_rule(line: str) -> bool:
    return bool(re.fullmatch(r"\s*(?:-{3,}|\*{3,}|_{3,})\s*", line))


def normalise_heading(text: str) -> str:
    text = text.lower().replace("(s)", "s")
    text = re.sub(r"^[\d.\s]+", "", text)  # "3.1 Root causes"
    text = re.sub(r"[^a-z0-9]+", " ", text)
    text = re.sub(r"\s+(?:in\s+)?utc$", "", " ".join(text.split()))  # "Timeline (UTC)"
    return text


@dataclass(frozen=True)
class Parsed:
    front_matter: dict[str, object]
    body_start: int
    lines: list[str]
    sections: list[Section]
    front_matter_error: tuple[int, str] | None = None  # (line, why): reported, never ignored


def parse(text: str) -> Parsed:
    lines = text.splitlines()
    front: dict[str, object] = {}
    front_error: tuple[int, str] | None = None
    start = 0
    if lines and lines[0].strip() == "---":
        for index in range(1, len(lines)):
            if lines[index].strip() in ("---", "..."):
                loaded: object = None
                try:
                    loaded = yaml.safe_load("\n".join(lines[1:index]))
                except yaml.MarkedYAMLError as exc:
                    mark = exc.problem_mark or exc.context_mark
                    at = mark.line + 2 if mark is not None else 1  # line 1 is the opening ---
                    front_error = (at, f"front matter is not valid YAML: {exc.problem}")
                except (yaml.YAMLError, RecursionError, ValueError) as exc:
                    front_error = (1, f"front matter is not valid YAML: {type(exc).__name__}")
                if front_error is None and not isinstance(loaded, dict | None):
                    front_error = (2, "front matter must be a mapping of fields")
                front = loaded if isinstance(loaded, dict) else {}
                start = index + 1
                break
    sections: list[Section] = []
    in_fence = False
    stack: list[Section] = []
    for number, line in enumerate(lines[start:], start=start + 1):
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        match = None if in_fence else re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if match:
            level = len(match.group(1))
            title = match.group(2)
            key = _HEADING_TO_SECTION.get(normalise_heading(title))
            section = Section(key, title, level, number)
            sections.append(section)
            stack = [s for s in stack if s.level < level] + [section]
            continue
        for open_section in stack:  # a sub-section's content counts for its parents too
            open_section.body.append((number, line))
    return Parsed(front, start, lines, sections, front_error)


def _strip_code(line: str) -> str:
    return _CODE_SPAN.sub(" ", line)


def _body_lines(parsed: Parsed) -> Iterator[tuple[int, str]]:
    in_fence = False
    for number, line in enumerate(parsed.lines[parsed.body_start :], start=parsed.body_start + 1):
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        if not in_fence:
            yield number, line


# --- rules -----------------------------------------------------------------------------------


def _find(path: str, line: int, rule: str, message: str, severity: str | None = None) -> Finding:
    return Finding(path, line, rule, severity or RULES[rule].severity, message)


def check_sections(path: str, parsed: Parsed) -> list[Finding]:
    findings = []
    by_key: dict[str, list[Section]] = {}
    for section in parsed.sections:
        if section.key:
            by_key.setdefault(section.key, []).append(section)
    for key, label in REQUIRED.items():
        found = by_key.get(key)
        if not found:
            findings.append(_find(path, 1, "missing-section", f"no '{label}' section"))
        elif not any(s.has_content() for s in found):
            findings.append(
                _find(path, found[0].line, "empty-section", f"'{found[0].title}' is empty")
            )
    return findings


def _sections(parsed: Parsed, key: str) -> list[Section]:
    return [s for s in parsed.sections if s.key == key]


def check_impact(path: str, parsed: Parsed) -> list[Finding]:
    findings = []
    for section in _sections(parsed, "impact"):
        if section.has_content() and not QUANTITY.search(section.text()):
            findings.append(
                _find(path, section.line, "impact-not-quantified", "impact states no number")
            )
        for number, line in section.body:
            for match in VAGUE_IMPACT.finditer(line):
                findings.append(
                    _find(path, number, "impact-vague", f"'{match.group(0)}': say how many")
                )
    return findings


def _timestamp(line: str, day: str | None) -> tuple[datetime | None, str | None]:
    match = _DATETIME.search(_strip_code(line))
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


def check_timeline(path: str, parsed: Parsed) -> list[Finding]:
    findings = []
    for section in _sections(parsed, "timeline"):
        text = section.title + "\n" + section.text()
        if not re.search(r"\bUTC\b|\bZ\b|[+-]00:?00\b|\d{2}Z\b", text):
            findings.append(
                _find(path, section.line, "timeline-no-utc", "the timeline does not say UTC")
            )
        previous: datetime | None = None
        day: str | None = None
        for number, line in section.body:
            if not re.match(r"\s*(?:\||[-*+]\s|\d+\.\s)", line) or re.match(
                r"\s*\|[-:| ]+\|", line
            ):
                continue  # only rows and list items are timeline entries
            at, day = _timestamp(line, day)
            if at is None:
                continue
            if previous is not None and at < previous:
                findings.append(
                    _find(
                        path,
                        number,
                        "timeline-order",
                        f"{at:%Y-%m-%d %H:%M:%S} comes after {previous:%Y-%m-%d %H:%M:%S}",
                    )
                )
            previous = max(previous, at) if previous else at
    return findings


@dataclass(frozen=True)
class ActionRow:
    line: int
    title: str
    type: str
    priority: str
    owner: str
    tracking: str


def _cells(line: str) -> list[str]:
    inner = line.strip().strip("|")
    return [c.strip() for c in re.split(r"(?<!\\)\|", inner)]


def action_rows(section: Section) -> list[ActionRow]:
    """Action items from a table (columns found by name) or from a bullet list."""
    rows: list[ActionRow] = []
    header: list[str] | None = None
    for number, line in section.body:
        stripped = line.strip()
        if stripped.startswith("|"):
            cells = _cells(stripped)
            if header is None:
                header = [normalise_heading(c) for c in cells]
                continue
            if all(re.fullmatch(r":?-+:?", c) for c in cells if c):
                continue
            rows.append(_row_from_table(number, header, cells))
        elif re.match(r"[-*+]\s+|\d+\.\s+", stripped) and header is None:
            item = re.sub(r"^(?:[-*+]|\d+\.)\s+(?:\[[ xX]\]\s+)?", "", stripped)
            rows.append(_row_from_bullet(number, item))
    return rows


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


def _row_from_bullet(number: int, item: str) -> ActionRow:
    kind = re.search(r"\b(" + "|".join(ACTION_TYPES) + r")\b", item, re.IGNORECASE)
    priority = re.search(r"\bP[0-2]\b", item)
    owner = re.search(r"(?:owner:\s*|@)([\w-]+)", item, re.IGNORECASE)
    tracking = _TRACKING.search(item)
    title = re.split(r"\s[\u2014(|\u2013]\s?|\s-\s", item)[0]
    return ActionRow(
        number,
        title,
        kind.group(1) if kind else "",
        priority.group(0) if priority else "",
        owner.group(1) if owner else "",
        tracking.group(0) if tracking else "",
    )


def check_actions(path: str, parsed: Parsed, draft: bool) -> list[Finding]:
    findings = []
    for section in _sections(parsed, "actions"):
        for row in action_rows(section):
            findings += _check_action(path, row, draft)
    return findings


def _check_action(path: str, row: ActionRow, draft: bool) -> list[Finding]:
    findings = []
    title = re.sub(r"[*_`\\]", "", row.title).strip()
    label = title[:50] or f"line {row.line}"
    if row.type.strip().lower().strip("*_`") not in ACTION_TYPES:
        findings.append(_find(path, row.line, "action-no-type", f"'{label}': no type"))
    if not re.fullmatch(r"[*_`]*P[0-2][*_`]*", row.priority.strip()):
        findings.append(_find(path, row.line, "action-no-priority", f"'{label}': no P0-P2"))
    owner = row.owner.strip()
    if not owner or (PLACEHOLDER.search(owner) and not draft):
        findings.append(_find(path, row.line, "action-no-owner", f"'{label}': no owner"))
    if not _TRACKING.search(row.tracking) and not draft:
        findings.append(_find(path, row.line, "action-no-tracking", f"'{label}': no issue link"))
    first = re.sub(r"[^a-z]", "", title.split()[0].lower()) if title.split() else ""
    if first not in VERBS:
        findings.append(
            _find(path, row.line, "action-no-verb", f"'{label}': start with a verb, not '{first}'")
        )
    for pattern in VAGUE:
        if re.search(pattern, title, re.IGNORECASE):
            findings.append(
                _find(path, row.line, "action-vague", f"'{label}': say what, where and how much")
            )
            break
    return findings


def check_placeholders(path: str, parsed: Parsed, draft: bool) -> list[Finding]:
    if draft:
        return []
    findings = []
    for number, line in _body_lines(parsed):
        for match in PLACEHOLDER.finditer(_strip_code(line)):
            findings.append(
                _find(path, number, "placeholder", f"'{match.group(0)}' left in a final version")
            )
    return findings


def check_blame(path: str, parsed: Parsed) -> list[Finding]:
    findings = []
    for number, raw in _body_lines(parsed):
        line = _strip_code(raw)
        for pattern in BLAME_PHRASES:
            for hit in pattern.finditer(line):
                findings.append(
                    _find(
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
                findings.append(
                    _find(
                        path,
                        number,
                        "blame-person",
                        f"'{match.group(0).strip()}': name the system condition, not a person",
                    )
                )
    return findings


def _looks_like_person(who: str, line: str) -> bool:
    """A capitalised word counts as a name unless it is a sentence's ordinary first word."""
    word = who.split(maxsplit=1)[0]
    common = {"Every", "Each", "Some", "One", "All", "When", "While", "After", "Before", "Then"}
    return word not in common and word.lower() not in _NOT_PEOPLE and not word.isupper()


@dataclass(frozen=True)
class Review:
    path: str
    status: str
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == ERROR)


def review_text(path: str, text: str, allow_draft: bool = False) -> Review:
    parsed = parse(text)
    status = str(parsed.front_matter.get("status", "")).strip().lower()
    draft = status == "draft"
    findings: list[Finding] = []
    if parsed.front_matter_error is not None:
        at, why = parsed.front_matter_error
        findings.append(_find(path, at, "front-matter", why))
    if draft and not allow_draft:
        findings.append(
            _find(path, 1, "draft-status", "status is draft (pass --allow-draft to review a draft)")
        )
    findings += check_sections(path, parsed)
    findings += check_impact(path, parsed)
    findings += check_timeline(path, parsed)
    findings += check_actions(path, parsed, draft and allow_draft)
    findings += check_placeholders(path, parsed, draft and allow_draft)
    findings += check_blame(path, parsed)
    return Review(path, status, tuple(sorted(findings, key=lambda f: (f.line, f.rule))))


def review_file(path: Path, allow_draft: bool = False) -> Review:
    # Bounded, non-blocking read: a FIFO or /dev/zero is refused instead of hanging the review.
    return review_text(str(path), read_text(path), allow_draft)


# --- output ----------------------------------------------------------------------------------


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
