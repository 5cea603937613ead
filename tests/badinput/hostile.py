"""Generators of hostile input: catalog drills and shipped plans mutated into invalid ones,
and text-level junk. Every mutation is invalid by construction (the tier asserts exit 2/3, so a
mutation that stayed valid would be a false failure, never a silent pass)."""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from tests import REPO_ROOT

CATALOG = sorted((REPO_ROOT / "drills" / "catalog").glob("*.yaml"))
PLANS = sorted((REPO_ROOT / "drills" / "gamedays").glob("*.yaml"))
# Bytes YAML refuses anywhere in a stream (C0 controls but tab/LF/CR, and DEL).
FORBIDDEN = [chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F)]
ESCAPES = ["\x1b[2J", "\x1b]0;owned\x07", "\x9b31m", "\u202e"]


def numeric_paths(tree: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Paths of every number (not bool) in a loaded YAML document."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from numeric_paths(value, (*prefix, key))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            yield from numeric_paths(value, (*prefix, index))
    elif isinstance(tree, int | float) and not isinstance(tree, bool):
        yield prefix


def replaced(tree: Any, path: tuple[Any, ...], value: Any) -> Any:
    result = copy.deepcopy(tree)
    node = result
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return result


def _bad_numbers(path: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    """Values invalid for the number at `path` (tolerances may be negative or huge; budgets and
    the game-day floor have no upper bound besides their own)."""
    always = st.sampled_from([math.nan, math.inf, -math.inf, "abc", "", [1], {"a": 1}, True, None])
    if "tolerance" in path:
        return always
    negative = st.one_of(
        st.floats(max_value=-1e-9, allow_nan=False, allow_infinity=False),
        st.integers(max_value=-1),
    )
    if "max_error_budget" in path:
        return st.one_of(always, negative)
    huge = st.one_of(
        st.floats(min_value=1e10, allow_nan=False, allow_infinity=False),
        st.integers(10**10, 10**90),
    )
    return st.one_of(always, negative, huge)


@st.composite
def mutated_document(draw: st.DrawFn, sources: list[Path]) -> str:
    """A shipped drill or plan with one number made hostile, dumped back to YAML."""
    source = draw(st.sampled_from(sources))
    tree = yaml.safe_load(source.read_text())
    path = draw(st.sampled_from(sorted(numeric_paths(tree), key=str)))
    value = draw(_bad_numbers(path))
    return yaml.safe_dump(replaced(tree, path, value), sort_keys=False)


@st.composite
def mutated_text(draw: st.DrawFn, sources: list[Path]) -> bytes:
    """A shipped file's text broken at the text level: a forbidden control character, a YAML
    tag, an escape sequence as a key, deep nesting, or bytes that are not UTF-8."""
    text = draw(st.sampled_from(sources)).read_text()
    kind = draw(st.sampled_from(["control", "tag", "escape-key", "deep", "binary", "list-key"]))
    at = draw(st.integers(0, len(text)))
    if kind == "control":
        return (text[:at] + draw(st.sampled_from(FORBIDDEN)) + text[at:]).encode()
    if kind == "tag":
        tag = draw(
            st.sampled_from(["!!python/name:os.system", "!foo", "!!python/object/apply:os.system"])
        )
        return (f"name: {tag} x\n" + text.split("\n", 1)[1]).encode()
    if kind == "escape-key":
        escape = draw(st.sampled_from(ESCAPES)).encode("unicode_escape").decode()
        return (text + f'"{escape}": 1\n').encode()
    if kind == "deep":
        depth = draw(st.integers(40, 100_000))
        return (text + "extra: " + "[" * depth + "\n").encode()
    if kind == "list-key":
        return (text + "? [a, b]\n: 1\n").encode()
    junk = draw(st.binary(min_size=1, max_size=200))
    return text[:at].encode() + b"\xff" + junk + text[at:].encode()


HOSTILE_FILES: dict[str, bytes] = {
    "python-tag": b"name: !!python/name:os.system x\n",
    "local-tag": b"!foo\nname: x\n",
    "deep": b"name: " + b"[" * 100_000 + b"\n",
    "long-int": b"name: " + b"9" * 5_000 + b"\n",
    "many-items": b"name: [" + b"1," * 200_000 + b"1]\n",
    "big": b"# " + b"x" * (50 << 20) + b"\n",
    "nul": b"name: \x00\n",
    "not-utf8": b"name: \xff\xfe\n",
    "escape-in-value": b'name: "\\x1b[2Jboom"\n',
    "list-key": b"? [a]\n: 1\n",
    "empty": b"",
    "scalar": b"just a string\n",
    "list": b"- 1\n- 2\n",
    "billion-laughs": b'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    + b"".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n".encode()
        for i in range(8)
    ),
}


def composite_cases() -> dict[str, bytes]:
    """The catalog's composite drill (`steps:`) broken in its structure, one way each: every
    rule of drills.spec_steps that a number mutation cannot reach."""
    source = REPO_ROOT / "drills" / "catalog" / "broker-outage-then-kill.yaml"
    base = yaml.safe_load(source.read_text())
    first, second = base["steps"]

    def steps(*items: dict[str, Any], **top: Any) -> bytes:
        tree = {**copy.deepcopy(base), **top, "steps": [copy.deepcopy(i) for i in items]}
        return yaml.safe_dump(tree, sort_keys=False).encode()

    def but(item: dict[str, Any], **changes: Any) -> dict[str, Any]:
        return {**copy.deepcopy(item), **changes}

    return {
        "composite-fault-and-steps": steps(first, second, fault={"kind": "process-kill"}),
        "composite-target-and-steps": steps(first, second, target={"component": "redis"}),
        "composite-one-step": steps(first),
        "composite-duplicate-name": steps(first, but(second, name="broker-down")),
        "composite-unknown-after": steps(first, but(second, start={"after": "nope"})),
        "composite-self-reference": steps(first, but(second, start={"with": "kill-analysis"})),
        "composite-forward-reference": steps(
            first,
            but(second, start={"after": "third"}),
            but(second, name="third", start={"after": "kill-analysis"}),
        ),
        "composite-both-rules": steps(
            first, but(second, start={"after": "broker-down", "with": "broker-down"})
        ),
        "composite-no-start": steps(first, {k: v for k, v in second.items() if k != "start"}),
        "composite-first-step-start": steps(but(first, start={"after": "x"}), second),
        "composite-unknown-step-field": steps(first, but(second, retries=3)),
        "composite-too-many-steps": steps(
            first,
            *(but(second, name=f"kill-{i}", start={"after": "broker-down"}) for i in range(8)),
        ),
    }
