"""One log line, whatever wrote it, as a time, a level, a message and a correlation id.

Why a module of its own: the post-mortem's log evidence (`drills.log_evidence`) reads the
components' own output, and those are several formats — the AuditFlow services' JSON lines
(`auditflow.jsonlog`: `ts`, `level`, `msg`, `correlation_id`), Go's logfmt (Prometheus,
Alertmanager, the exporters), RabbitMQ's `[warning]` / `[error]` lines, PostgreSQL's `WARNING:` /
`ERROR:` / `FATAL:` lines and Redis's `#` (warning) lines. Each is recognised here and nowhere else.
A line in none of these shapes is `None`: left out, and counted by the caller.

Everything here is total: a line may be huge, not UTF-8, JSON of the wrong shape or plain noise,
and the answer is an `Entry` or `None`, never an exception. Kubernetes' `timestamps=True` prefix
(RFC 3339, nanoseconds) is read as the time of a line that carries none of its own.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

MAX_LINE_CHARS = 64 * 1024  # longer lines are cut before parsing (and read as non-JSON)
WARNING, ERROR = "warning", "error"

_LEVELS = {
    "warn": WARNING,
    "warning": WARNING,
    "error": ERROR,
    "err": ERROR,
    "erro": ERROR,
    "fatal": ERROR,
    "critical": ERROR,
    "crit": ERROR,
    "panic": ERROR,
    "alert": ERROR,
    "emergency": ERROR,
}

# A leading ISO-8601 time: RabbitMQ ("2026-12-03 16:02:50.442396+00:00"), PostgreSQL
# ("2026-12-03 16:02:38.123 UTC"), the Kubernetes prefix ("2026-12-03T16:02:39.123456789Z").
_ISO = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<time>\d{2}:\d{2}:\d{2})(?:[.,](?P<frac>\d{1,9}))?"
    r"\s?(?P<tz>Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?(?=\s|$)\s*"
)
_LOGFMT_LEVEL = re.compile(r"(?:^|\s)level=\"?(?P<level>[A-Za-z]+)\"?(?=\s|$)")
_LOGFMT_TIME = re.compile(r"(?:^|\s)(?:ts|time)=\"?(?P<at>[0-9T:.\-+Z]+)\"?(?=\s|$)")
_LOGFMT_MSG = re.compile(r"(?:^|\s)msg=(?:\"(?P<quoted>(?:[^\"\\]|\\.)*)\"|(?P<bare>\S+))")
_LOGFMT_ERR = re.compile(r"(?:^|\s)err(?:or)?=(?:\"(?P<quoted>(?:[^\"\\]|\\.)*)\"|(?P<bare>\S+))")
_RABBIT = re.compile(r"^\[(?P<level>[a-z]+)\]\s+(?:<[\d.]+>\s+)?(?P<msg>.*)$")
_POSTGRES = re.compile(
    r"^(?:\[\d{1,10}\]\s{1,4})?(?:\S{1,64}@\S{1,64}\s{1,4})?"
    r"(?P<level>WARNING|ERROR|FATAL|PANIC|LOG|INFO|NOTICE|DEBUG\d?|DETAIL|HINT|STATEMENT|CONTEXT):"
    r"\s+(?P<msg>.*)$"
)
_REDIS = re.compile(
    r"^\d+:[XCSM]\s+(?P<at>\d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2}(?:\.\d+)?)"
    r"\s+(?P<mark>[.\-*#])\s+(?P<msg>.*)$"
)


@dataclass(frozen=True)
class Entry:
    """What one line says. `at` is unix seconds (None: the line has no time of its own)."""

    at: float | None
    level: str  # "warning", "error", or the line's own word for anything milder
    message: str
    correlation_id: str | None
    structured: bool  # an AuditFlow JSON line (its `msg` is a fixed text)

    @property
    def notable(self) -> bool:
        return self.level in (WARNING, ERROR)


def decode(raw: str | bytes) -> str:
    """Text of a line, however it was encoded: invalid UTF-8 becomes U+FFFD, not an error."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    return text[:MAX_LINE_CHARS].rstrip("\r\n")


def level_of(word: object) -> str:
    """The two levels the evidence keeps, by any of their spellings; anything else lower-cased."""
    if not isinstance(word, str):
        return "unknown"
    lowered = word.strip().lower()
    return _LEVELS.get(lowered, lowered or "unknown")


def parse_time(text: object) -> float | None:
    """An ISO-8601 time as unix seconds; a time without a zone is the machine's local time."""
    if not isinstance(text, str):
        return None
    match = _ISO.match(text.strip())
    return None if match is None else _iso_seconds(match)


def _iso_seconds(match: re.Match[str]) -> float | None:
    frac = (match["frac"] or "0")[:6].ljust(6, "0")
    tz = match["tz"]
    try:
        at = datetime.fromisoformat(f"{match['date']}T{match['time']}.{frac}")
    except ValueError:
        return None
    if tz in ("Z", "UTC", "GMT"):
        at = at.replace(tzinfo=UTC)
    elif tz:
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        minutes = int(digits[:2]) * 60 + (int(digits[2:4]) if len(digits) >= 4 else 0)
        at = at.replace(tzinfo=UTC)
        return at.timestamp() - sign * minutes * 60
    try:
        return at.timestamp()  # naive: local time, as the program that wrote it saw it
    except (OverflowError, OSError, ValueError):
        return None


def parse(raw: str | bytes) -> Entry | None:
    """The entry one line holds, or None when the line is in no shape recognised here."""
    text = decode(raw)
    prefix_at: float | None = None
    match = _ISO.match(text)
    if match is not None and text[match.end() : match.end() + 1] == "{":
        prefix_at, text = _iso_seconds(match), text[match.end() :]  # `kubectl logs --timestamps`
    entry = _json(text) if text.startswith("{") else None
    if entry is None:
        entry = _plain(text)
    if entry is not None and entry.at is None and prefix_at is not None:
        entry = Entry(prefix_at, entry.level, entry.message, entry.correlation_id, entry.structured)
    return entry


def _json(text: str) -> Entry | None:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict):
        return None
    message = value.get("msg", value.get("message"))
    if not isinstance(message, str):
        message = "" if message is None else json.dumps(message, default=str)[:2000]
    correlation = value.get("correlation_id")
    return Entry(
        at=parse_time(value.get("ts", value.get("time"))),
        level=level_of(value.get("level")),
        message=message,
        correlation_id=correlation if isinstance(correlation, str) and correlation else None,
        structured=True,
    )


def _plain(text: str) -> Entry | None:
    """The non-JSON formats: logfmt, RabbitMQ, PostgreSQL, Redis."""
    level = _LOGFMT_LEVEL.search(text)
    if level is not None:
        stamp = _LOGFMT_TIME.search(text)
        msg = _LOGFMT_MSG.search(text)
        err = _LOGFMT_ERR.search(text)
        message = (msg["quoted"] if msg["quoted"] is not None else msg["bare"]) if msg else ""
        if err is not None:
            detail = err["quoted"] if err["quoted"] is not None else err["bare"]
            message = f"{message}: {detail}" if message else detail
        return Entry(
            parse_time(stamp["at"]) if stamp else None,
            level_of(level["level"]),
            message.replace('\\"', '"'),
            None,
            False,
        )
    redis = _REDIS.match(text)
    if redis is not None:
        return Entry(
            _redis_time(redis["at"]),
            WARNING if redis["mark"] == "#" else "notice",
            redis["msg"],
            None,
            False,
        )
    at: float | None = None
    rest = text
    iso = _ISO.match(text)
    if iso is not None:
        at, rest = _iso_seconds(iso), text[iso.end() :]
    for pattern in (_RABBIT, _POSTGRES):
        found = pattern.match(rest)
        if found is not None:
            return Entry(at, level_of(found["level"]), found["msg"], None, False)
    return None


def _redis_time(text: str) -> float | None:
    for layout in ("%d %b %Y %H:%M:%S.%f", "%d %b %Y %H:%M:%S"):
        try:
            return datetime.strptime(text, layout).timestamp()  # Redis logs local time
        except (ValueError, OverflowError, OSError):
            continue
    return None
