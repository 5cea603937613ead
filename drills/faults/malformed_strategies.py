"""Hypothesis strategies for malformed audit messages, one per way a message can be broken.

Each example is built from a *valid* event and broken in exactly one way, so the reason the
analysis service must give is known by construction and the drill can check it, message by
message. The strategies are also used by unit tests of the validator.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import hypothesis
from hypothesis import strategies as st

from auditflow.events import DEFAULT_MAX_EVENT_BYTES, STRING_FIELDS, AuditEvent, event_id_for

JSON = "application/json"


@dataclass(frozen=True)
class Malformed:
    """One malformed message and the dead-letter reason it must get."""

    kind: str
    body: bytes
    content_type: str
    expected_reason: str


def _base_event(run: str, seq: int) -> dict[str, object]:
    now = datetime.now(UTC).isoformat()
    event = AuditEvent(
        event_id=event_id_for(run, seq),
        run_id=run,
        seq=seq,
        occurred_at=now,
        published_at=now,
        actor="drill-malformed",
        action="read",
        resource="drill/malformed",
        outcome="success",
        source_ip="127.0.0.1",
        correlation_id=uuid.uuid4().hex,
    )
    raw: dict[str, object] = json.loads(event.encode())
    return raw


def _valid(draw: st.DrawFn) -> dict[str, object]:
    return _base_event(f"malformed-{draw(st.uuids()).hex[:12]}", draw(st.integers(1, 10**9)))


@st.composite
def bad_json(draw: st.DrawFn) -> Malformed:
    text = json.dumps(_valid(draw))
    cut = draw(st.integers(0, len(text) - 1))  # any strict prefix of an object is invalid JSON
    return Malformed("bad_json", text[:cut].encode(), JSON, "bad_json")


@st.composite
def wrong_type(draw: st.DrawFn) -> Malformed:
    event = _valid(draw)
    name = draw(st.sampled_from((*STRING_FIELDS, "seq", "schema_version")))
    if name == "seq":
        event[name] = draw(st.one_of(st.text(max_size=5), st.floats(), st.integers(max_value=-1)))
    elif name == "schema_version":
        event[name] = draw(st.one_of(st.text(max_size=5), st.floats(), st.booleans()))
    else:
        event[name] = draw(
            st.one_of(st.integers(), st.none(), st.lists(st.integers(), max_size=2), st.booleans())
        )
    return Malformed("wrong_type", json.dumps(event).encode(), JSON, "wrong_type")


@st.composite
def missing_field(draw: st.DrawFn) -> Malformed:
    event = _valid(draw)
    del event[draw(st.sampled_from((*STRING_FIELDS, "seq", "schema_version")))]
    return Malformed("missing_field", json.dumps(event).encode(), JSON, "missing_field")


INVALID_UTF8 = (b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf0\x28\x8c\xbc", b"\x80")


@st.composite
def invalid_utf8(draw: st.DrawFn) -> Malformed:
    body = json.dumps(_valid(draw)).encode()
    at = draw(st.integers(0, len(body)))
    junk = draw(st.sampled_from(INVALID_UTF8))
    return Malformed("invalid_utf8", body[:at] + junk + body[at:], JSON, "invalid_utf8")


@st.composite
def oversized(draw: st.DrawFn) -> Malformed:
    event = _valid(draw)
    extra = draw(st.integers(1, 4096))
    event["resource"] = "x" * (DEFAULT_MAX_EVENT_BYTES + extra)
    return Malformed("oversized", json.dumps(event).encode(), JSON, "oversized")


@st.composite
def wrong_content_type(draw: st.DrawFn) -> Malformed:
    content_type = draw(
        st.sampled_from(("text/plain", "application/xml", "application/octet-stream", "text/csv"))
    )
    return Malformed(
        "wrong_content_type", json.dumps(_valid(draw)).encode(), content_type, "wrong_content_type"
    )


@st.composite
def unknown_schema_version(draw: st.DrawFn) -> Malformed:
    event = _valid(draw)
    event["schema_version"] = draw(st.integers().filter(lambda v: v != 1))
    return Malformed(
        "unknown_schema_version", json.dumps(event).encode(), JSON, "unknown_schema_version"
    )


@st.composite
def not_an_object(draw: st.DrawFn) -> Malformed:
    value = draw(st.one_of(st.lists(st.integers(), max_size=3), st.integers(), st.text(max_size=8)))
    return Malformed("not_an_object", json.dumps(value).encode(), JSON, "not_an_object")


KINDS = {
    "bad_json": bad_json(),
    "wrong_type": wrong_type(),
    "missing_field": missing_field(),
    "invalid_utf8": invalid_utf8(),
    "oversized": oversized(),
    "wrong_content_type": wrong_content_type(),
    "unknown_schema_version": unknown_schema_version(),
    "not_an_object": not_an_object(),
}


def any_malformed() -> st.SearchStrategy[Malformed]:
    return st.one_of(*KINDS.values())


def draw_examples(count: int, seed: int) -> list[Malformed]:
    """`count` malformed messages, every kind represented (when count allows), interleaved,
    reproducible for a given seed.

    Drawn through Hypothesis's own engine (`@given` with a fixed seed and no example database),
    not `.example()`, which is meant for the REPL.
    """
    kinds = list(KINDS)
    per_kind = {
        kind: count // len(kinds) + (1 if i < count % len(kinds) else 0)
        for i, kind in enumerate(kinds)
    }
    by_kind = {kind: _collect(KINDS[kind], wanted, seed) for kind, wanted in per_kind.items()}
    interleaved: list[Malformed] = []
    for round_index in range(max(per_kind.values(), default=0)):
        for kind in kinds:
            if round_index < len(by_kind[kind]):
                interleaved.append(by_kind[kind][round_index])
    return interleaved


def _collect(strategy: st.SearchStrategy[Malformed], wanted: int, seed: int) -> list[Malformed]:
    drawn: list[Malformed] = []
    if wanted == 0:
        return drawn

    @hypothesis.seed(seed)
    @hypothesis.settings(
        max_examples=wanted * 4,
        database=None,
        phases=[hypothesis.Phase.generate],
        deadline=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(strategy)
    def collect(example: Malformed) -> None:
        if len(drawn) < wanted:
            drawn.append(example)

    collect()
    # Hypothesis may stop early once it has explored a small strategy; repeat what it gave.
    while drawn and len(drawn) < wanted:
        drawn.extend(drawn[: wanted - len(drawn)])
    return drawn
