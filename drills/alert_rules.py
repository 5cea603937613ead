"""The Prometheus alerting rules the platform loads, read with the file and line of each rule.

Why a module of its own: "would our alerts catch this?" starts from the rule set itself, not from
what one Prometheus happens to report over its API (`drills.observe.rules_for`, which needs a
running sandbox). `genesis-drill coverage` reads the same files the sandbox's Prometheus and the
Kubernetes manifests load — `<monitoring dir>/rules/*.yml`, the packaged `drills/monitoring/`
unless `GENESIS_MANIFESTS_DIR` names a kustomize tree (`drills.settings.Settings.monitoring_dir`)
— plus any rule files a user names, without a platform running.

The files are untrusted input like drill files: read through `drills.yamlio` (bounded, no tags)
and checked with `drills.yamlnode`, so a syntax error or a misspelt field is one `SpecError`
naming `file:line: groups[0].rules[3].for: why` (exit 2), never a traceback. Fields are checked
the way Prometheus's own loader checks them (an unknown field, a rule that is both `alert` and
`record`, a bad duration are refused), so a file this module accepts is one Prometheus would not
reject for its shape. Recording rules (`record:`) are checked and then left out: only alerting
rules can be proven by a drill.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from drills.errors import InvalidInput
from drills.yamlnode import Node, compose_file, fields_of

RULES_DIR = "rules"  # under a monitoring directory, as Prometheus's rule_files use it
RULE_SUFFIXES = (".yml", ".yaml")  # for a directory a user names; the platform's are *.yml
_GROUP_FIELDS = {"name"}, {"interval", "limit", "query_offset", "labels", "rules"}
_RULE_FIELDS = {"expr"}, {"alert", "record", "for", "keep_firing_for", "labels", "annotations"}
# Prometheus's model.ParseDuration: units largest first, each at most once; "0" alone is allowed.
_DURATION = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)
_UNIT_SECONDS = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001)


@dataclass(frozen=True)
class AlertRule:
    """One alerting rule: the `alertname` its ALERTS series carry, where it is defined, and what
    bounds its detection time (`for_s`: it cannot fire sooner)."""

    name: str
    file: Path
    line: int
    expr: str
    for_s: float = 0.0
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


def parse_duration(text: str) -> float | None:
    """Seconds of a Prometheus duration (`5s`, `1m30s`, `2h`, `0`), or None if it is not one."""
    if text == "0":
        return 0.0
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        return None
    pairs = zip(match.groups(), _UNIT_SECONDS, strict=True)
    return float(round(sum(int(n) * unit for n, unit in pairs if n), 3))


def load_rule_file(path: Path) -> tuple[AlertRule, ...]:
    """The alerting rules of one Prometheus rule file, in file order; `SpecError` (file:line:
    field: why, exit 2) when the file is unreadable, not YAML or not a valid rule file."""
    root = compose_file(path)
    if root is None:  # an empty file: Prometheus loads it as no rules
        return ()
    top = fields_of(Node(path, root, ""), {"groups"}, set())
    rules: list[AlertRule] = []
    seen_groups: set[str] = set()
    for group in top["groups"].items():
        fields = fields_of(group, *_GROUP_FIELDS)
        name = fields["name"].text()
        if name in seen_groups:
            raise fields["name"].fail(f"group {name!r} is repeated in the same file")
        seen_groups.add(name)
        if "interval" in fields:
            _duration(fields["interval"])
        listed = fields.get("rules")
        if listed is not None and not _is_null(listed):  # `rules:` with nothing: no rules
            rules.extend(r for r in map(_rule, listed.items()) if r is not None)
    return tuple(rules)


def _rule(node: Node) -> AlertRule | None:
    fields = fields_of(node, *_RULE_FIELDS)
    if ("alert" in fields) == ("record" in fields):
        raise node.fail("a rule needs exactly one of 'alert' (alerting) or 'record' (recording)")
    expr = _text(fields["expr"])
    if "record" in fields:
        for extra in ("for", "keep_firing_for", "annotations"):
            if extra in fields:
                raise fields[extra].fail("not allowed in a recording rule")
        fields["record"].text()
        return None
    for_s = _duration(fields["for"]) if "for" in fields else 0.0
    if "keep_firing_for" in fields:
        _duration(fields["keep_firing_for"])
    labels = _string_map(fields["labels"]) if "labels" in fields else {}
    if "annotations" in fields:
        _string_map(fields["annotations"])
    return AlertRule(fields["alert"].text(), node.path, node.line, expr, for_s, labels)


def _is_null(node: Node) -> bool:
    return isinstance(node.node, yaml.ScalarNode) and node.node.tag == "tag:yaml.org,2002:null"


def _text(node: Node) -> str:
    """A string field; YAML numbers are allowed as Prometheus's loader allows them (`expr: 1`)."""
    value = node.scalar()
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise node.fail(f"must be a string, got {value!r}")
    text = str(value).strip()
    if not text:
        raise node.fail("must not be empty")
    return text


def _duration(node: Node) -> float:
    value = node.scalar()
    seconds = parse_duration(str(value)) if isinstance(value, str | int) else None
    if isinstance(value, bool) or seconds is None:
        raise node.fail(f"not a Prometheus duration (like 30s, 5m, 1h30m): {value!r}")
    return seconds


def _string_map(node: Node) -> dict[str, str]:
    result: dict[str, str] = {}
    for key, child in node.mapping().items():
        value = child.scalar()
        if value is None or isinstance(value, bool) or not isinstance(value, str | int | float):
            raise child.fail(f"must be a string, got {value!r}")
        result[key] = str(value)
    return result


def rule_files(paths: Iterable[Path]) -> list[Path]:
    """Each path as given when it is a file, or the rule files (*.yml, *.yaml) of a directory;
    `InvalidInput` naming a path that does not exist or a directory without rule files."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in RULE_SUFFIXES and p.is_file())
            if not found:
                raise InvalidInput(f"{path}: no Prometheus rule files (*.yml, *.yaml) in it")
            files.extend(found)
        elif path.exists() or path.is_symlink():
            files.append(path)  # anything but a regular file is refused by drills.yamlio
        else:
            raise InvalidInput(f"{path}: no such rule file or directory")
    return files


def platform_rule_files(monitoring_dir: Path) -> list[Path]:
    """The rule files Prometheus loads from a monitoring directory (`rules/*.yml`, as the
    sandbox's prometheus.yml and the kustomize ConfigMap list them)."""
    rules_dir = monitoring_dir / RULES_DIR
    files = sorted(rules_dir.glob("*.yml"))
    if not files:
        raise InvalidInput(f"{rules_dir}: no Prometheus rule files (*.yml) found")
    return files


def load_rules(files: Sequence[Path]) -> tuple[AlertRule, ...]:
    """Every alerting rule of `files`, file by file. An alert name defined twice (two groups, or
    the same rules passed twice) is kept twice: ALERTS carry only the name, so callers group by
    `name` and may show every place it is defined."""
    return tuple(rule for path in files for rule in load_rule_file(path))
