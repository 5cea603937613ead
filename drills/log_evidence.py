"""The post-mortem's log evidence: warnings and errors of the drill window, grouped by template.

Where it sits: the target reads each component's log lines from the window's start (a
`drills.targets.logs.LogRead`), `summarise` turns them into `LogEvidence` — groups of one level
and one message template, with counts, first and last time, the components and one example
correlation id — the runner saves it as `log-evidence.json` in the run directory, and the
post-mortem renders its `## Log evidence` from that file, so `postmortem render` works from a run
directory alone.

Our services log a fixed `msg` with structured fields beside it (`auditflow.jsonlog`), so their
template is mostly the message itself; what varies inside a message — numbers, UUIDs, hex ids,
quoted values, IP addresses — is replaced by placeholders so that one cause is one group.

No secret gets through: every text taken from a line (message, correlation id) is redacted —
the target's own secrets by value (`Secret.redact`), URLs with a password by
`auditflow.config.redact_url`, and `password=` / `token:`-shaped pairs by pattern — before it is
grouped, stored or rendered. The work is bounded: a line is cut at `log_lines.MAX_LINE_CHARS`,
at most `MAX_TRACKED` distinct groups are tracked (later lines of new templates are counted, not
grouped), and the JSON keeps at most `MAX_STORED` groups, the most frequent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from auditflow.config import redact_url
from drills import log_lines
from drills.secret import Secret

LOG_EVIDENCE_NAME = "log-evidence.json"
MAX_BYTES_PER_SOURCE = 8 * 1024 * 1024  # read from the window's start, per log file or pod
MAX_TRACKED = 1000
MAX_STORED = 100
MAX_TEMPLATE_CHARS = 240
MAX_EXAMPLE_CHARS = 400
FORMATS = (
    "AuditFlow JSON lines; logfmt (Prometheus, Alertmanager, exporters); RabbitMQ [warning] / "
    "[error]; PostgreSQL WARNING / ERROR / FATAL / PANIC; Redis # (warning)"
)

# Bounded repetitions throughout: a hostile 64 KiB line must cost linear time, not quadratic.
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]{0,30}://[^\s'\"<>]{1,2048}")
_PAIR = re.compile(
    r"(?P<key>(?:password|passwd|pwd|secret|token|api[_-]?key|authorization)[\w\-]{0,40})"
    r"(?P<sep>[\"']?[ \t]{0,8}[=:][ \t]{0,8})"
    r"(?P<value>\"[^\"]{0,1024}\"|'[^']{0,1024}'|(?:Bearer|Basic)[ \t]+\S{1,1024}"
    r"|[^\s,;&)}\]]{1,1024})",
    re.IGNORECASE,
)
_NORMALISE = (
    (
        re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"),
        "<uuid>",
    ),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b"), "<ip>"),
    (re.compile(r"\b(?:0x[0-9a-fA-F]+|[0-9a-fA-F]{8,})\b"), "<hex>"),
    (re.compile(r"\"(?:[^\"\\]|\\.)*\""), '"<str>"'),
    (re.compile(r"(?<![A-Za-z])'(?:[^'\\]|\\.)*'"), "'<str>'"),
    (re.compile(r"(?<![\w<])[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?(?![\w>])"), "<n>"),
)


@dataclass(frozen=True)
class LogGroup:
    """Lines of one level and one template."""

    level: str
    template: str
    count: int
    first_at: float
    last_at: float
    components: tuple[str, ...]
    correlation_id: str | None  # one example, when any line of the group carried one
    example: str  # the first line's message, redacted and cut

    @property
    def first(self) -> datetime:
        return datetime.fromtimestamp(self.first_at, UTC)

    @property
    def last(self) -> datetime:
        return datetime.fromtimestamp(self.last_at, UTC)


@dataclass(frozen=True)
class SourceStats:
    """What was read of one component's log."""

    component: str
    lines: int  # read from the window's start
    in_window: int
    notable: int  # warnings and errors in the window
    # Lines in no format `drills.log_lines` knows, left out: those after a line of the window,
    # and those before any timed line (their time is unknown).
    unrecognised: int
    truncated: bool = False  # the read stopped at the byte limit before the window's end
    note: str = ""


@dataclass(frozen=True)
class LogEvidence:
    """The evidence of one run; `available` False says why there is none (`note`)."""

    available: bool
    note: str
    window: tuple[float, float] | None
    groups: tuple[LogGroup, ...] = ()
    groups_omitted: int = 0  # groups beyond MAX_STORED (least frequent)
    lines_omitted: int = 0  # their lines, and the lines of templates beyond MAX_TRACKED
    sources: tuple[SourceStats, ...] = ()
    formats: str = FORMATS

    @property
    def start(self) -> datetime | None:
        return datetime.fromtimestamp(self.window[0], UTC) if self.window else None

    @property
    def end(self) -> datetime | None:
        return datetime.fromtimestamp(self.window[1], UTC) if self.window else None

    @property
    def notable(self) -> int:
        """Warnings and errors found in the window, grouped or not."""
        return sum(s.notable for s in self.sources)

    @classmethod
    def unavailable(cls, why: str, window: tuple[float, float] | None = None) -> LogEvidence:
        return cls(False, why, window)

    def to_json(self) -> dict[str, Any]:
        return {
            "available": self.available,
            "note": self.note,
            "window": list(self.window) if self.window else None,
            "formats": self.formats,
            "groups": [g.__dict__ | {"components": list(g.components)} for g in self.groups],
            "groups_omitted": self.groups_omitted,
            "lines_omitted": self.lines_omitted,
            "sources": [s.__dict__.copy() for s in self.sources],
        }

    def write(self, run_dir: Path) -> Path:
        path = run_dir / LOG_EVIDENCE_NAME
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)
        return path


def read(run_dir: Path) -> LogEvidence | None:
    """The evidence saved with a run; None when the run saved none (recorded before it
    existed). A damaged file is evidence that says so, never an exception: it only informs."""
    path = run_dir / LOG_EVIDENCE_NAME
    if not path.exists():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8", errors="replace"))
        return _from_json(raw)
    except (OSError, ValueError, TypeError, KeyError, IndexError, RecursionError) as exc:
        return LogEvidence.unavailable(f"{LOG_EVIDENCE_NAME} is unreadable ({type(exc).__name__})")


def _from_json(raw: Any) -> LogEvidence:
    if not isinstance(raw, dict):
        raise TypeError("not an object")
    window = raw.get("window")
    groups = tuple(
        LogGroup(
            level=str(g["level"]),
            template=str(g["template"]),
            count=int(g["count"]),
            first_at=float(g["first_at"]),
            last_at=float(g["last_at"]),
            components=tuple(str(c) for c in g["components"]),
            correlation_id=None if g.get("correlation_id") is None else str(g["correlation_id"]),
            example=str(g.get("example", "")),
        )
        for g in raw.get("groups") or []
    )
    sources = tuple(
        SourceStats(
            component=str(s["component"]),
            lines=int(s["lines"]),
            in_window=int(s["in_window"]),
            notable=int(s["notable"]),
            unrecognised=int(s["unrecognised"]),
            truncated=bool(s.get("truncated")),
            note=str(s.get("note", "")),
        )
        for s in raw.get("sources") or []
    )
    return LogEvidence(
        available=bool(raw.get("available")),
        note=str(raw.get("note", "")),
        window=(float(window[0]), float(window[1])) if isinstance(window, list) else None,
        groups=groups,
        groups_omitted=int(raw.get("groups_omitted", 0)),
        lines_omitted=int(raw.get("lines_omitted", 0)),
        sources=sources,
        formats=str(raw.get("formats", FORMATS)),
    )


# --- redaction and templates -----------------------------------------------------------------


def redact(text: str, secrets: Sequence[Secret] = ()) -> str:
    """`text` with the known secrets, URL passwords and password-/token-shaped pairs as `***`."""
    for secret in secrets:
        value = secret.reveal()
        if len(value) >= 4:  # a one-letter "secret" would blank every word
            text = secret.redact(text)
            encoded = quote(value, safe="")
            if encoded != value:
                text = text.replace(encoded, "***")
    text = _URL.sub(lambda m: redact_url(m.group(0)) if "@" in m.group(0) else m.group(0), text)
    return _PAIR.sub(_redact_pair, text)


def _redact_pair(match: re.Match[str]) -> str:
    value = match["value"]
    quote_char = value[0] if value[:1] in ("'", '"') else ""
    return f"{match['key']}{match['sep']}{quote_char}***{quote_char}"


def template_of(message: str) -> str:
    """The message with its variable parts as placeholders, whitespace collapsed, cut short."""
    text = " ".join(message.split())
    for pattern, placeholder in _NORMALISE:
        text = pattern.sub(_hex if placeholder == "<hex>" else placeholder, text)
    return _cut(text, MAX_TEMPLATE_CHARS) or "(empty message)"


def _hex(match: re.Match[str]) -> str:
    """An id of digits and letters a-f; a plain number stays for `<n>`, a word stays a word."""
    token = match.group(0)
    if token.lower().startswith("0x"):
        return "<hex>"
    has_digit = any(c.isdigit() for c in token)
    return "<hex>" if has_digit and not token.isdigit() else token


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- grouping --------------------------------------------------------------------------------


@dataclass
class _Group:
    level: str
    template: str
    count: int
    first_at: float
    last_at: float
    components: dict[str, None] = field(default_factory=dict)
    correlation_id: str | None = None
    example: str = ""


@dataclass(frozen=True)
class Source:
    """One component's lines, as the target read them (text or bytes, in file order)."""

    component: str
    lines: Iterable[str | bytes]
    truncated: bool = False
    note: str = ""


def summarise(
    sources: Iterable[Source],
    start: float,
    end: float,
    secrets: Sequence[Secret] = (),
    note: str = "",
) -> LogEvidence:
    """Warnings and errors within [start, end], grouped by (level, template).

    A line without a time of its own (a traceback's continuation, say) takes the time of the
    line before it in the same source; one before any timed line is outside every window.
    """
    groups: dict[tuple[str, str], _Group] = {}
    stats: list[SourceStats] = []
    overflow = 0
    for source in sources:
        read = in_window = notable = unrecognised = 0
        last_at: float | None = None
        for raw in source.lines:
            read += 1
            entry = log_lines.parse(raw)
            if entry is None:
                # Counted unless the line is known to be outside (its predecessor's time).
                if last_at is None or start <= last_at <= end:
                    unrecognised += 1
                continue
            at = entry.at if entry.at is not None else last_at
            last_at = at
            if at is None or not start <= at <= end:
                continue
            in_window += 1
            if not entry.notable:
                continue
            notable += 1
            message = redact(entry.message, secrets)
            key = (entry.level, template_of(message))
            group = groups.get(key)
            if group is None:
                if len(groups) >= MAX_TRACKED:
                    overflow += 1
                    continue
                group = groups[key] = _Group(
                    entry.level,
                    key[1],
                    0,
                    at,
                    at,
                    example=_cut(" ".join(message.split()), MAX_EXAMPLE_CHARS),
                )
            group.count += 1
            group.first_at, group.last_at = min(group.first_at, at), max(group.last_at, at)
            group.components.setdefault(source.component)
            if group.correlation_id is None and entry.correlation_id:
                group.correlation_id = _cut(redact(entry.correlation_id, secrets), 100)
        stats.append(
            SourceStats(
                source.component,
                read,
                in_window,
                notable,
                unrecognised,
                source.truncated,
                source.note,
            )
        )
    ranked = sorted(groups.values(), key=lambda g: (-g.count, g.first_at, g.level, g.template))
    kept, dropped = ranked[:MAX_STORED], ranked[MAX_STORED:]
    return LogEvidence(
        available=True,
        note=note,
        window=(start, end),
        groups=tuple(
            LogGroup(
                g.level,
                g.template,
                g.count,
                g.first_at,
                g.last_at,
                tuple(g.components),
                g.correlation_id,
                g.example,
            )
            for g in kept
        ),
        groups_omitted=len(dropped),
        lines_omitted=sum(g.count for g in dropped) + overflow,
        sources=tuple(stats),
    )


def with_note(evidence: LogEvidence, note: str) -> LogEvidence:
    """The same evidence with a note added (what the target could not read, say)."""
    return replace(evidence, note="; ".join(filter(None, [evidence.note, note])))
