"""Log evidence: lines of every format parsed, hostile lines survived, templates normalised, the
window kept, secrets redacted before anything is stored or rendered, and the section escaped."""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from drills import log_evidence, log_lines
from drills.errors import TargetError
from drills.log_evidence import LOG_EVIDENCE_NAME, Source, redact, summarise, template_of
from drills.postmortem.render import draft
from drills.secret import Secret
from drills.targets import local_logs
from drills.targets.fake import FakeTarget
from drills.targets.logs import LogRead, collect

GOLDEN_RUN = (
    Path(__file__).resolve().parents[1] / "golden" / "runs" / "20261127T062644Z-rabbitmq-outage"
)
T0 = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")


def jline(
    t: float, level: str, msg: str, service: str = "audit-log-analysis", **extra: object
) -> str:
    """A line as `auditflow.jsonlog` writes it."""
    return json.dumps(
        {"ts": iso(t), "service": service, "level": level, "logger": service, "msg": msg, **extra}
    )


# --- one line ----------------------------------------------------------------------------------


def test_service_json_line_gives_time_level_message_and_correlation_id():
    """An AuditFlow JSON line is read by its own fields; the structured fields stay out of msg."""
    entry = log_lines.parse(
        jline(
            T0 + 0.25,
            "warning",
            "broker connection lost; reconnecting",
            retry_in_s=0.4,
            correlation_id="abc-1",
        )
    )
    assert entry is not None
    assert entry.at == pytest.approx(T0 + 0.25)
    assert (entry.level, entry.message, entry.correlation_id) == (
        "warning",
        "broker connection lost; reconnecting",
        "abc-1",
    )
    assert entry.structured and entry.notable


@pytest.mark.parametrize(
    ("line", "level", "message", "at"),
    [
        (
            'ts=2027-01-15T08:00:01.500Z caller=collector.go:196 level=error msg="collector failed"'
            ' name=bgwriter err="dial tcp 127.0.0.1:28310: connect: connection refused"',
            "error",
            "collector failed: dial tcp 127.0.0.1:28310: connect: connection refused",
            T0 + 1.5,
        ),
        (
            'time="2027-01-15T08:00:02Z" level=warning msg="slow scrape"',
            "warning",
            "slow scrape",
            T0 + 2,
        ),
        (
            "2027-01-15 08:00:03.250000+00:00 [error] <0.535.0> closing AMQP connection",
            "error",
            "closing AMQP connection",
            T0 + 3.25,
        ),
        (
            "2027-01-15 10:00:04.000+02:00 [warning] <0.1.0> memory alarm",
            "warning",
            "memory alarm",
            T0 + 4,
        ),
        (
            "2027-01-15 08:00:05.125 UTC [4242] FATAL:  terminating connection due to admin",
            "error",
            "terminating connection due to admin",
            T0 + 5.125,
        ),
        (
            "2027-01-15 08:00:06.000 UTC [4242] LOG:  checkpoint starting",
            "log",
            "checkpoint starting",
            T0 + 6,
        ),
        (
            '2027-01-15T08:00:07.123456789Z {"level": "error", "msg": "from a pod"}',
            "error",
            "from a pod",
            T0 + 7.123456,
        ),
    ],
)
def test_other_formats_are_recognised(line, level, message, at):
    """logfmt, RabbitMQ, PostgreSQL and `kubectl logs --timestamps` lines each give a level."""
    entry = log_lines.parse(line)
    assert entry is not None
    assert (entry.level, entry.message) == (level, message)
    assert entry.at == pytest.approx(at)


def test_redis_hash_lines_are_warnings():
    """Redis marks warnings with `#` (and writes its local time)."""
    entry = log_lines.parse(
        "25029:M 15 Jan 2027 08:00:00.458 # Redis is now ready to exit, bye bye..."
    )
    assert entry is not None and entry.level == "warning"
    assert entry.message == "Redis is now ready to exit, bye bye..."
    notice = log_lines.parse("25029:M 15 Jan 2027 08:00:00.458 * Ready to accept connections")
    assert notice is not None and notice.level == "notice"


HOSTILE: list[str | bytes] = [
    "x" * 5_000_000,  # a huge line
    b"\xff\xfe\x00garbage \xc3\x28 not utf-8",
    b'{"level": "error", "msg": "bad \xff bytes", "ts": "2027-01-15T08:00:01Z"}',
    '{"level": 3, "msg": ["a", 1], "ts": 12, "correlation_id": {"x": 1}}',
    '{"level": null, "msg": null}',
    "[1, 2, 3]",
    '"just a string"',
    "{not json at all",
    "[" * 100_000 + "]" * 100_000,
    "{" + '"a":' * 50_000,
    "",
    "\x00\x01\x02",
    "level=error msg=",
    "9999-99-99 99:99:99.999 UTC [1] ERROR:  impossible date",
    "2027-01-15 08:00:00.000+99:99 [error] odd zone",
]


@pytest.mark.parametrize("line", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_lines_never_raise(line):
    """Huge, binary, invalid UTF-8, deep or wrongly typed lines give an entry or None."""
    entry = log_lines.parse(line)
    assert entry is None or isinstance(entry.message, str)


# Lines that make a careless regular expression backtrack quadratically (seconds to hours).
PATHOLOGICAL = [
    "a-" * 32_000,
    "a@" * 32_000,
    "x://" * 16_000,
    "password: " * 6_000,
    "token" * 12_000,
    "[1] " * 16_000,
    "1" * 64_000 + "a",
    '"a' * 32_000,
    "ts=" * 20_000,
]


def test_pathological_lines_cost_linear_time():
    """64 KiB hostile lines, as services' warnings and as plain text, are grouped within a
    generous bound (a quadratic pattern took minutes on the first of them)."""
    lines = [jline(T0 + 1, "warning", text) for text in PATHOLOGICAL] + PATHOLOGICAL
    started = time.monotonic()
    evidence = summarise([Source("svc", lines)], T0, T0 + 10)
    assert time.monotonic() - started < 60
    whole = [line for line in lines[: len(PATHOLOGICAL)] if len(line) <= log_lines.MAX_LINE_CHARS]
    assert sum(g.count for g in evidence.groups) == len(whole)  # a cut JSON line is not JSON


def test_wrongly_typed_json_is_read_as_far_as_it_goes():
    """A JSON line with wrong types keeps what it can: no time, no correlation id, text message."""
    entry = log_lines.parse('{"level": "ERROR", "msg": ["a", 1], "ts": 12, "correlation_id": 7}')
    assert entry is not None
    assert (entry.at, entry.level, entry.message, entry.correlation_id) == (
        None,
        "error",
        '["a", 1]',
        None,
    )


def test_invalid_utf8_is_replaced_not_fatal():
    """Bytes that are not UTF-8 become U+FFFD and the line still counts."""
    entry = log_lines.parse(
        b'{"level": "error", "msg": "bad \xff bytes", "ts": "2027-01-15T08:00:01Z"}'
    )
    assert entry is not None and entry.message == "bad \ufffd bytes"


def test_summarise_survives_every_hostile_line_together():
    """All the hostile lines in one source: a result, with the unparseable ones counted."""
    lines = [*HOSTILE, jline(T0 + 1, "error", "real one")]
    evidence = summarise([Source("svc", lines)], T0, T0 + 10)
    assert [g.template for g in evidence.groups if g.level == "error"][-1] == "real one"
    assert evidence.sources[0].lines == len(lines)
    assert evidence.sources[0].unrecognised >= 8
    json.dumps(evidence.to_json())  # storable


# --- templates ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "template"),
    [
        ("broker connection failed; retrying", "broker connection failed; retrying"),
        ("stored 512 events in 0.25 s", "stored <n> events in <n> s"),
        ("event 5e2b9a10-7c3d-4f5e-9a1b-2c3d4e5f6a7b rejected", "event <uuid> rejected"),
        ("connect to 127.0.0.1:28310 refused", "connect to <ip> refused"),
        ("bad checksum 0x1f2e and id 9f86d081884c7d65", "bad checksum <hex> and id <hex>"),
        ("queue 'audit.events' missing", "queue '<str>' missing"),
        ('field "actor" is not a string', 'field "<str>" is not a string'),
        ("decade accessed deadbeef", "decade accessed deadbeef"),  # words stay words
        ("  spaced \n out\tmessage ", "spaced out message"),
        ("", "(empty message)"),
    ],
)
def test_template_normalises_variable_parts(message, template):
    assert template_of(message) == template


def test_template_is_bounded():
    assert len(template_of("word " * 10_000)) <= log_evidence.MAX_TEMPLATE_CHARS


# --- grouping and the window -------------------------------------------------------------------


def test_groups_count_time_components_and_one_correlation_id():
    """One group per (level, template), most frequent first, with first/last time and components."""
    analysis = [
        jline(T0 + 1, "warning", "broker connection lost; reconnecting", retry_in_s=0.2),
        jline(T0 + 2, "warning", "broker connection lost; reconnecting", correlation_id="c-1"),
        jline(T0 + 3, "warning", "broker connection lost; reconnecting", correlation_id="c-2"),
        jline(T0 + 4, "info", "consuming"),
        jline(T0 + 5, "error", "store failed after 3 attempts"),
    ]
    generator = [
        jline(T0 + 0.5, "warning", "broker connection lost; reconnecting", "audit-event-generator"),
        jline(T0 + 6, "error", "store failed after 7 attempts", "audit-event-generator"),
    ]
    evidence = summarise(
        [Source("audit-log-analysis", analysis), Source("audit-event-generator", generator)],
        T0,
        T0 + 10,
    )
    first, second = evidence.groups
    assert (first.level, first.template, first.count) == (
        "warning",
        "broker connection lost; reconnecting",
        4,
    )
    assert first.first_at == pytest.approx(T0 + 0.5)
    assert first.last_at == pytest.approx(T0 + 3)
    assert set(first.components) == {"audit-log-analysis", "audit-event-generator"}
    assert first.correlation_id == "c-1"
    assert (second.template, second.count, second.correlation_id) == (
        "store failed after <n> attempts",
        2,
        None,
    )
    assert [s.notable for s in evidence.sources] == [4, 2]
    assert evidence.notable == 6


def test_only_the_window_counts_and_continuations_take_the_time_before():
    """Lines before the start or after the end are out; an untimed line inherits its
    predecessor's time (a traceback's continuation), and one before any timed line is out."""
    lines = [
        "ERROR:  untimed before anything",  # no time yet: outside every window
        "2027-01-15 08:00:00.500 UTC [1] DETAIL:  timed, in the window, not a warning",
        jline(T0 - 5, "error", "before the window"),
        "[error] untimed, after a line before the window",
        "gibberish after a line before the window",  # unrecognised, and known to be outside
        jline(T0 + 1, "warning", "inside"),
        "[error] continuation inside",
        "gibberish inside",  # unrecognised, counted
        jline(T0 + 11, "error", "after the window"),
    ]
    evidence = summarise([Source("svc", lines)], T0, T0 + 10)
    assert {g.template for g in evidence.groups} == {"inside", "continuation inside"}
    assert evidence.sources[0].in_window == 3  # the DETAIL line, "inside" and its continuation
    assert evidence.sources[0].unrecognised == 1


def test_stored_groups_are_bounded_and_the_rest_counted(monkeypatch):
    """Beyond MAX_STORED the least frequent groups are counted, and beyond MAX_TRACKED new
    templates are counted without being tracked."""
    monkeypatch.setattr(log_evidence, "MAX_STORED", 3)
    monkeypatch.setattr(log_evidence, "MAX_TRACKED", 5)
    lines = [jline(T0 + 1, "error", f"failure kind {chr(97 + i)}") for i in range(8)]
    lines += [jline(T0 + 2, "error", "failure kind a")] * 4
    evidence = summarise([Source("svc", lines)], T0, T0 + 10)
    assert len(evidence.groups) == 3
    assert evidence.groups[0].count == 5  # "a": 1 + 4
    assert evidence.groups_omitted == 2  # tracked 5, kept 3
    assert evidence.lines_omitted == 2 + 3  # two dropped groups of 1, three untracked lines


# --- redaction ---------------------------------------------------------------------------------

PASSWORD = "hunter2-Sup3r-s3cret"


@pytest.mark.parametrize(
    "text",
    [
        f"connect failed: postgresql://auditflow:{PASSWORD}@127.0.0.1:28110/auditflow",
        f"amqp://auditflow:{PASSWORD}@127.0.0.1:28100/%2F refused",
        f"conninfo host=127.0.0.1 user=auditflow password={PASSWORD} dbname=auditflow",
        f'settings {{"redis_password": "{PASSWORD}", "x": 1}}',
        f"Authorization: Bearer {PASSWORD}",
        f"token={PASSWORD}&page=2",
    ],
)
def test_passwords_are_redacted_by_shape(text):
    """URL passwords, password=/token= pairs and bearer tokens are `***`, the rest is kept."""
    redacted = redact(text)
    assert PASSWORD not in redacted
    assert "***" in redacted


def test_known_secrets_are_redacted_by_value_even_percent_encoded():
    """The target's own secrets go wherever they appear, plain or URL-encoded."""
    secret = Secret("p@ss/word 42")
    text = "saw p@ss/word 42 and p%40ss%2Fword%2042 in a line"
    assert redact(text, [secret]) == "saw *** and *** in a line"


def test_a_password_never_reaches_log_evidence_json_or_the_draft(tmp_path):
    """A password in log lines (a known secret, and one only recognisable by shape) is absent
    from log-evidence.json and from the post-mortem; the group itself is still there."""
    run_dir = tmp_path / "run"
    shutil.copytree(GOLDEN_RUN, run_dir)
    window = json.loads((GOLDEN_RUN / LOG_EVIDENCE_NAME).read_text())["window"]
    at = window[0] + 5
    other = "an0ther-pa55word"
    lines = [
        jline(
            at,
            "error",
            f"cannot connect to postgresql://auditflow:{PASSWORD}@127.0.0.1:1/a",
            correlation_id=f"id-{PASSWORD}",
        ),
        jline(at, "error", f"login failed for password={other}"),
        f"2027-01-15 08:00:00.000 UTC [1] FATAL:  password authentication failed {PASSWORD}",
    ]
    evidence = summarise(
        [Source("audit-log-analysis", lines)], window[0], window[1], [Secret(PASSWORD)]
    )
    evidence.write(run_dir)
    stored = (run_dir / LOG_EVIDENCE_NAME).read_text()
    text = draft(run_dir).read_text()
    for secret in (PASSWORD, other):
        assert secret not in stored
        assert secret not in text
    assert "cannot connect to postgresql://auditflow:\\*\\*\\*@\\<ip\\>/a" in text
    assert "login failed for password=\\*\\*\\*" in text


# --- the section -------------------------------------------------------------------------------


def time_of(line: str | bytes) -> float:
    entry = log_lines.parse(line)
    assert entry is not None and entry.at is not None
    return entry.at


def section(text: str) -> str:
    return text.split("## Log evidence\n", 1)[1].split("\n## ", 1)[0]


def test_hostile_values_cannot_break_the_table(tmp_path):
    """A message with a newline, pipes, headings and HTML stays inside its one table row."""
    run_dir = tmp_path / "run"
    shutil.copytree(GOLDEN_RUN, run_dir)
    start, end = json.loads((GOLDEN_RUN / LOG_EVIDENCE_NAME).read_text())["window"]
    hostile = "x | y\n## Not a heading\n| --- |\n<img src=x onerror=alert(1)> [link](http://e)"
    lines = [jline(start + 1, "error", hostile, correlation_id="`a`|\n# b")]
    summarise([Source("svc|\n# evil", lines)], start, end).write(run_dir)
    body = section(draft(run_dir).read_text())
    rows = [line for line in body.splitlines() if line.startswith("| error")]
    assert len(rows) == 1
    assert len(re.findall(r"(?<!\\)\|", rows[0])) == 8  # seven cells, whatever the message held
    assert "\n## Not a heading" not in body and "[link](" not in body
    assert not re.search(r"(?<!\\)<img", body)


def test_section_says_why_when_there_is_no_evidence(tmp_path):
    """A target without logs, a damaged file and a run recorded before the feature each say so."""
    run_dir = tmp_path / "run"
    shutil.copytree(GOLDEN_RUN, run_dir)
    collect(FakeTarget(), T0, T0 + 1).write(run_dir)
    assert "Not available: log evidence is not available on target 'fake'" in section(
        draft(run_dir).read_text()
    )
    (run_dir / LOG_EVIDENCE_NAME).write_text('{"groups": [{"level": 1}], "available": true}')
    assert "Not available: log-evidence.json is unreadable (KeyError)" in section(
        draft(run_dir).read_text()
    )
    for damaged in ('{"window": [1], "available": true}', "[]", '{"groups": {"a": 1}}', "nul"):
        (run_dir / LOG_EVIDENCE_NAME).write_text(damaged)
        assert "is unreadable" in section(draft(run_dir).read_text()), damaged
    (run_dir / LOG_EVIDENCE_NAME).write_bytes(b"\xff\xfe not json")
    assert "is unreadable" in section(draft(run_dir).read_text())
    (run_dir / LOG_EVIDENCE_NAME).unlink()
    assert "No log evidence was saved with this run" in section(draft(run_dir).read_text())


def test_evidence_round_trips_through_its_json(tmp_path):
    evidence = summarise(
        [Source("svc", [jline(T0 + 1, "error", "boom 1", correlation_id="c"), "[warning] odd"])],
        T0,
        T0 + 2,
        note="not read: redis (no log file)",
    )
    evidence.write(tmp_path)
    assert log_evidence.read(tmp_path) == evidence


# --- the capability ----------------------------------------------------------------------------


@dataclass
class LoggingTarget:
    name: str = "logging"
    fail: bool = False

    def read_logs(self, since: float, until: float, max_bytes: int) -> LogRead:
        if self.fail:
            raise TargetError("the API server said 403")
        return LogRead(
            [Source("redis", [jline(since + 1, "warning", f"auth with {PASSWORD} failed")])],
            [Secret(PASSWORD)],
            "not read: prometheus (no log file)",
        )


def test_collect_reads_a_target_with_logs_and_redacts_its_secrets():
    evidence = collect(LoggingTarget(), T0, T0 + 10)
    assert evidence.available and evidence.note == "not read: prometheus (no log file)"
    assert [g.template for g in evidence.groups] == ["auth with *** failed"]


def test_collect_reports_a_target_failure_instead_of_raising():
    evidence = collect(LoggingTarget(fail=True), T0, T0 + 10)
    assert not evidence.available
    assert "the API server said 403" in evidence.note


# --- the local sandbox's files -----------------------------------------------------------------


def write_log(path: Path, start: float, count: int, step: float = 0.01) -> None:
    with path.open("w") as handle:
        for i in range(count):
            handle.write(jline(start + i * step, "warning", f"line {i}") + "\n")


def test_a_big_log_is_read_from_the_window_start_not_from_its_beginning(tmp_path):
    """Bisection finds the window's start in a file of ~20 MB: what is read begins at most one
    probe before it, and every line of the window is there."""
    path = tmp_path / "audit-log-analysis.log"
    write_log(path, T0, 200_000)  # 2,000 s of lines, ~23 MB
    since = T0 + 1_900
    lines, cut = local_logs.read_lines(path, since, log_evidence.MAX_BYTES_PER_SOURCE)
    assert not cut
    assert path.stat().st_size > 20_000_000
    assert sum(len(line) + 1 for line in lines) < 2_000_000  # not the whole file
    times = [time_of(line) for line in lines]
    assert times[0] <= since and times[-1] == pytest.approx(T0 + 1_999.99)
    assert sum(1 for t in times if t >= since) == 10_000


def test_the_read_stops_at_the_byte_limit_on_a_line_boundary(tmp_path):
    path = tmp_path / "x.log"
    write_log(path, T0, 1_000)
    lines, cut = local_logs.read_lines(path, T0, 10_000)
    assert cut and 0 < sum(len(line) + 1 for line in lines) <= 10_000
    assert all(log_lines.parse(line) is not None for line in lines)  # no partial line


def test_a_rotated_log_is_read_first_when_the_window_starts_in_it(tmp_path):
    """supervisord's `.log.1` holds the window's start: its lines come before the current file's."""
    write_log(tmp_path / "redis.log.1", T0, 100)
    write_log(tmp_path / "redis.log", T0 + 1, 100)
    lines, _ = local_logs.read_program(tmp_path, "redis", T0 + 0.5, 1_000_000)
    times = [time_of(line) for line in lines]
    assert times == sorted(times) and times[0] <= T0 + 0.5 and len(times) > 100
    only_current, _ = local_logs.read_program(tmp_path, "redis", T0 + 1.5, 1_000_000)
    assert len(only_current) == 100


def test_a_run_saves_log_evidence_and_a_target_without_logs_says_so(tmp_path):
    """The runner writes log-evidence.json at the end of every run; the fake target has no logs."""
    from tests.unit.test_runner import ScriptedFault, go

    result, _, _ = go(tmp_path, ScriptedFault())
    saved = json.loads((Path(result.run_dir) / LOG_EVIDENCE_NAME).read_text())
    assert saved["available"] is False
    assert "not available on target 'fake'" in saved["note"]
    assert saved["window"][0] == pytest.approx(result.started_at.timestamp(), abs=0.001)
    assert saved["window"][1] == pytest.approx(result.finished_at.timestamp(), abs=0.001)


@dataclass
class FakeTargetWithLogs(FakeTarget):
    lines: tuple[str, ...] = ()

    def read_logs(self, since: float, until: float, max_bytes: int) -> LogRead:
        return LogRead([Source("audit-log-analysis", self.lines)], [Secret(PASSWORD)])


def test_a_run_on_a_target_with_logs_saves_its_warnings(tmp_path):
    """Lines inside the run's window are grouped into the run's log-evidence.json, redacted."""
    from tests.fakes import FakeClock
    from tests.unit.test_runner import ScriptedFault, go

    clock = FakeClock(T0)
    target = FakeTargetWithLogs(
        lines=(
            jline(T0 - 1, "error", "before the run"),
            jline(T0 + 0.5, "warning", f"broker connection lost; {PASSWORD}"),
        )
    )
    result, _, _ = go(tmp_path, ScriptedFault(), target=target, clock=clock)
    stored = (Path(result.run_dir) / LOG_EVIDENCE_NAME).read_text()
    groups = json.loads(stored)["groups"]
    assert [(g["level"], g["template"], g["count"]) for g in groups] == [
        ("warning", "broker connection lost; ***", 1)
    ]
    assert PASSWORD not in stored
