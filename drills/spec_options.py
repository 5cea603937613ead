"""The drill file's optional blocks that only switch a mechanism on or choose its source: the
client probe (`client_probe:`) and what recovery's backlog is read from
(`recovery.backlog_source`). In their own module so drills/spec.py keeps to the drill's shape.
"""

from __future__ import annotations

from dataclasses import dataclass

from drills.yamlnode import Node, fields_of

MAX_PROBE_RATE = 20.0  # client requests per second per API (drills.client_probe)


@dataclass(frozen=True)
class ClientProbe:
    """The client probe of the dashboard and notification APIs (drills.client_probe)."""

    enabled: bool = True
    rate_per_s: float = 5.0  # requests per second per API


BACKLOG_SOURCES = ("events", "query")


def parse_client_probe(node: Node | None) -> ClientProbe:
    """`client_probe: {enabled: true, rate_per_s: 5}`; both optional."""
    if node is None:
        return ClientProbe()
    given = fields_of(node, set(), {"enabled", "rate_per_s"})
    enabled = True
    if "enabled" in given:
        enabled = given["enabled"].scalar()
        if not isinstance(enabled, bool):
            raise given["enabled"].fail(f"must be true or false, got {enabled!r}")
    rate = (
        given["rate_per_s"].number(0, exclusive=True, maximum=MAX_PROBE_RATE)
        if "rate_per_s" in given
        else ClientProbe.rate_per_s
    )
    return ClientProbe(enabled=enabled, rate_per_s=rate)


def parse_backlog_source(recovery: dict[str, Node], query: str | None) -> str:
    """`recovery.backlog_source`; without it a drill with a `backlog_query` waits on that query
    (what such a file meant before the exact backlog existed), one without waits on none."""
    if "backlog_source" not in recovery:
        return "query" if query else ""
    node = recovery["backlog_source"]
    source = node.text()
    if source not in BACKLOG_SOURCES:
        raise node.fail(f"must be one of {', '.join(BACKLOG_SOURCES)}, got {source!r}")
    if source == "query" and query is None:
        raise node.fail("is query, but recovery.backlog_query is not set")
    return source
