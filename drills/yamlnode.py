"""A YAML node that knows where it came from: the checks every YAML file of the harness shares.

Drill files (drills.spec), game-day plans (drills.gameday) and the SLO configuration (drills.slo)
all want the same thing from a value — "a finite number within these bounds", "a mapping with
exactly these fields" — and the same error when it is not: `file:line: field.path: why` (a
`SpecError`, exit 2). One class instead of three parsers that disagree on what a NaN is.
The bytes themselves are read and composed with bounds by drills.yamlio.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml

from drills import yamlio
from drills.errors import BadFile, SpecError


def compose_file(path: Path) -> yaml.Node | None:
    """A YAML file's node tree, every reading and parsing failure a `SpecError` (file:line)."""
    try:
        return yamlio.load_file(path)[1]
    except BadFile as exc:
        raise SpecError(path, exc.line, "", exc.why) from None


class Node:
    """A YAML mapping/sequence/scalar with the line each value came from."""

    def __init__(self, path: Path, node: yaml.Node, where: str) -> None:
        self.path, self.node, self.where = path, node, where

    @property
    def line(self) -> int:
        return int(self.node.start_mark.line) + 1

    def fail(self, why: str, sub: str | None = None) -> SpecError:
        return SpecError(self.path, self.line, self._join(sub) if sub else self.where, why)

    def _join(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def mapping(self) -> dict[str, Node]:
        if not isinstance(self.node, yaml.MappingNode):
            raise self.fail("must be a mapping")
        result: dict[str, Node] = {}
        for key_node, value_node in self.node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise SpecError(
                    self.path,
                    key_node.start_mark.line + 1,
                    self.where,
                    "a key must be a plain string",
                )
            key = str(key_node.value)
            if key in result:
                raise SpecError(
                    self.path, key_node.start_mark.line + 1, self._join(key), "duplicate key"
                )
            result[key] = Node(self.path, value_node, self._join(key))
        return result

    def items(self) -> list[Node]:
        if not isinstance(self.node, yaml.SequenceNode):
            raise self.fail("must be a list")
        return [
            Node(self.path, child, f"{self.where}[{index}]")
            for index, child in enumerate(self.node.value)
        ]

    def scalar(self) -> Any:
        if not isinstance(self.node, yaml.ScalarNode):
            raise self.fail("must be a single value")
        return self._construct()

    def text(self) -> str:
        value = self.scalar()
        if not isinstance(value, str) or not value.strip():
            raise self.fail("must be a non-empty string")
        return value.strip()

    def number(
        self, minimum: float | None = None, exclusive: bool = False, maximum: float | None = None
    ) -> float:
        """A finite number within the bounds: NaN compares false with everything, so a NaN or
        infinite limit would silently switch the limit off."""
        value = self.scalar()
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"must be a number, got {value!r}")
        if (isinstance(value, int) and abs(value) > 1e300) or not math.isfinite(value):
            raise self.fail(f"must be a finite number, got {short(value)}")
        if minimum is not None and (value <= minimum if exclusive else value < minimum):
            raise self.fail(f"must be {'>' if exclusive else '>='} {minimum:g}, got {value!r}")
        if maximum is not None and value > maximum:
            raise self.fail(f"must be <= {maximum:g}, got {short(value)}")
        return float(value)

    def integer(self, minimum: int = 0, maximum: int | None = None) -> int:
        value = self.scalar()
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(f"must be an integer >= {minimum}, got {short(value)}")
        if maximum is not None and value > maximum:
            raise self.fail(f"must be an integer <= {maximum}, got {short(value)}")
        return value

    def plain(self) -> Any:
        return self._construct()

    def _construct(self) -> Any:
        # `!!int abc` or `!!bool maybe` passes the tag check and fails in PyYAML's constructor.
        try:
            return yaml.safe_load(yaml.serialize(self.node))
        except (yaml.YAMLError, ValueError, KeyError, TypeError, RecursionError) as exc:
            raise self.fail(f"not a valid value ({type(exc).__name__})") from None


def short(value: object) -> str:
    """A value for an error message, cut short (a 5,000-digit number is not worth printing)."""
    try:
        text = repr(value)
    except ValueError:  # an int past Python's digit limit
        return "a number too long to print"
    return text if len(text) <= 40 else f"{text[:37]}..."


def fields_of(node: Node, required: set[str], optional: set[str]) -> dict[str, Node]:
    mapping = node.mapping()
    for key, child in mapping.items():
        if key not in required | optional:
            allowed = ", ".join(sorted(required | optional))
            raise child.fail(f"unknown field (allowed: {allowed})")
    for key in sorted(required):
        if key not in mapping:
            raise node.fail(f"missing required field {key!r}")
    return mapping
