"""The alert names a platform can raise, read from its Prometheus rule files, and the check that a
drill expects only alerts some rule defines.

Why a check of its own, run by `genesis-drill validate`, not by `drills.spec.load`: a drill that
expects an alert no rule defines can never pass — it reports the alert as missed after a whole
outage — so it is a mistake to catch before anything runs; but which alerts exist is a property
of the platform, not of the drill file. Tests load drills with alerts of their own making, and a
user's catalog may target a platform with rules of its own, so loading stays platform-free and
the rules are an input here: the packaged ones (`drills/monitoring/rules/`, what the sandbox's
Prometheus loads and `manifests/` copies) plus any the user names (`validate --rules PATH`).

Rule files are read as Prometheus does: `groups[].rules[]`, an entry with `alert:` defines an
alert (`record:` entries do not). Other keys are Prometheus's business and are let through.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from drills import packaged
from drills.errors import InvalidInput, SpecError
from drills.spec import DrillSpec
from drills.yamlnode import Node, compose_file

RULE_SUFFIXES = (".yml", ".yaml")


def packaged_rule_files() -> list[Path]:
    """The rule files the sandbox's Prometheus loads, in a stable order."""
    return sorted(p for p in (packaged.monitoring() / "rules").iterdir() if _is_rule_file(p))


def _is_rule_file(path: Path) -> bool:
    return path.suffix in RULE_SUFFIXES and path.is_file()


def rule_files(extra: Sequence[Path] = ()) -> list[Path]:
    """The packaged rule files plus `extra`: files, or directories of *.yml / *.yaml."""
    files = packaged_rule_files()
    for path in extra:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if _is_rule_file(p))
            if not found:
                raise InvalidInput(f"{path}: no Prometheus rule files (*.yml, *.yaml)")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise InvalidInput(f"{path}: no such rule file or directory")
    return files


def alert_names(files: Sequence[Path]) -> dict[str, Path]:
    """Every alert the rule files define → the first file defining it; a file that is not a
    rule file is a SpecError naming its file:line."""
    known: dict[str, Path] = {}
    for path in files:
        for name in _alerts_of(path):
            known.setdefault(name, path)
    return known


def _alerts_of(path: Path) -> list[str]:
    root = compose_file(path)
    if root is None:
        return []  # an empty rule file is valid for Prometheus
    top = Node(path, root, "").mapping()
    if "groups" not in top:
        raise Node(path, root, "").fail("not a Prometheus rule file: no 'groups'")
    names: list[str] = []
    for group in top["groups"].items():
        rules = group.mapping().get("rules")
        if rules is None:
            continue
        for rule in rules.items():
            alert = rule.mapping().get("alert")
            if alert is not None:
                names.append(alert.text())
    return names


def unknown_expected_alerts(spec: DrillSpec, known: Mapping[str, Path]) -> list[SpecError]:
    """One error per expected alert of `spec` that no rule defines, naming its file:line."""
    unknown = [name for name in spec.expected_alerts if name not in known]
    if not unknown:
        return []
    listing = ", ".join(sorted(known)) or "none"
    lines = _expected_alert_lines(spec.path)
    return [
        SpecError(
            spec.path,
            lines.get(index),
            f"expected_alerts[{index}]",
            f"no alerting rule defines {name!r} (known alerts: {listing}; "
            "rules of another platform can be added with --rules PATH)",
        )
        for index, name in enumerate(spec.expected_alerts)
        if name in unknown
    ]


def _expected_alert_lines(path: Path) -> dict[int, int]:
    """Index of each `expected_alerts` entry → its line; {} when the file cannot say (a spec
    built in code, a file changed since it was loaded)."""
    try:
        root = compose_file(path)
    except SpecError:
        return {}
    if not isinstance(root, yaml.MappingNode):
        return {}
    for key, value in root.value:
        if (
            isinstance(key, yaml.ScalarNode)
            and key.value == "expected_alerts"
            and isinstance(value, yaml.SequenceNode)
        ):
            return {i: int(item.start_mark.line) + 1 for i, item in enumerate(value.value)}
    return {}
