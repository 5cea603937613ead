"""The check that a drill expects only alerts some alerting rule defines (`validate`).

Why a check of its own, run by `genesis-drill validate`, not by `drills.spec.load`: a drill that
expects an alert no rule defines can never pass — it reports the alert as missed after a whole
outage — so it is a mistake to catch before anything runs; but which alerts exist is a property
of the platform, not of the drill file. Tests load drills with alerts of their own making, and a
user's catalog may target a platform with rules of its own, so loading stays platform-free and
the rules are an input here: the packaged ones (`drills/monitoring/rules/`, what the sandbox's
Prometheus loads and `manifests/` copies) plus any the user names (`validate --rules PATH`).

The rule files are read by drills.alert_rules, the reader `coverage` uses too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from drills import alert_rules, packaged
from drills.errors import SpecError
from drills.spec import DrillSpec
from drills.yamlnode import compose_file


def rule_files(extra: Sequence[Path] = ()) -> list[Path]:
    """The packaged rule files (what the sandbox's Prometheus loads) plus `extra`: files, or
    directories of *.yml / *.yaml."""
    return [
        *alert_rules.platform_rule_files(packaged.monitoring()),
        *alert_rules.rule_files(extra),
    ]


def alert_names(files: Sequence[Path]) -> dict[str, Path]:
    """Every alert the rule files define → the first file defining it; a file that is not a
    rule file is a SpecError naming its file:line."""
    known: dict[str, Path] = {}
    for rule in alert_rules.load_rules(files):
        known.setdefault(rule.name, rule.file)
    return known


def unknown_expected_alerts(spec: DrillSpec, known: Mapping[str, Path]) -> list[SpecError]:
    """One error per expected alert of `spec` that no rule defines, naming its file:line."""
    listing = ", ".join(sorted(known)) or "none"
    if spec.steps:
        return _unknown_in_steps(spec, known, listing)
    heartbeat = str(spec.fault.params.get("heartbeat") or "")
    errors = (
        [
            SpecError(
                spec.path,
                None,
                "fault.params.heartbeat",
                f"no alerting rule defines {heartbeat!r} (known alerts: {listing})",
            )
        ]
        if heartbeat and heartbeat not in known
        else []
    )
    unknown = [name for name in spec.expected_alerts if name not in known]
    if not unknown:
        return errors
    lines = _expected_alert_lines(spec.path)
    return errors + [
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


def _unknown_in_steps(spec: DrillSpec, known: Mapping[str, Path], listing: str) -> list[SpecError]:
    """A composite drill's unknown alerts, named by step (`steps[1].expected_alerts[0]`)."""
    errors = []
    for index, step in enumerate(spec.steps):
        heartbeat = str(step.fault.params.get("heartbeat") or "")
        if heartbeat and heartbeat not in known:
            errors.append(
                SpecError(
                    spec.path,
                    None,
                    f"steps[{index}].fault.params.heartbeat",
                    f"no alerting rule defines {heartbeat!r} (known alerts: {listing})",
                )
            )
        errors += [
            SpecError(
                spec.path,
                None,
                f"steps[{index}].expected_alerts[{number}]",
                f"no alerting rule defines {name!r} (known alerts: {listing}; "
                "rules of another platform can be added with --rules PATH)",
            )
            for number, name in enumerate(step.expected_alerts)
            if name not in known
        ]
    return errors


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
