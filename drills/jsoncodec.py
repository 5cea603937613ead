"""Frozen dataclasses to JSON and back, strictly: the edge where a run's files become typed values.

`decode` walks a dataclass's annotations, so the type annotations are the schema and there is no
second description of a file to keep in step. It is strict on purpose: an unknown field, a missing
field or a value of the wrong type is a `DecodeError` naming the field's path (`alerts.fired[2]`),
never a silent default — a field renamed on the writing side must fail a test, not turn into "n/a"
in a post-mortem. Old shapes of a file are migrated to the current one *before* decoding (see
`drills.results`), so leniency lives in one visible place.

Supported annotations: str, int, float (an int is accepted), bool, None, unions, `tuple[X, ...]`,
`dict[str, X]` / `Mapping[str, X]`, `Any` (any JSON value), aware `datetime` (ISO 8601; written
with milliseconds), str-valued enums and nested dataclasses.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from drills.errors import DecodeError

T = TypeVar("T")


def decode(cls: type[T], raw: object, field_path: str = "") -> T:
    """`raw` (parsed JSON) as an instance of the dataclass `cls`; raises DecodeError."""
    return cast(T, _value(cls, raw, field_path))


def encode(value: object) -> Any:
    """A dataclass (or any value `decode` supports) as plain JSON data, fields in their order."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds")
    if isinstance(value, tuple | list):
        return [encode(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): encode(item) for key, item in value.items()}
    return value


def _describe(raw: object) -> str:
    if raw is None:
        return "null"
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    if isinstance(raw, list):
        return "a list"
    if isinstance(raw, dict):
        return "an object"
    text = repr(raw)
    return f"{kind.get(type(raw), type(raw).__name__)} {text[:60]}"


def _name(tp: Any) -> str:
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _value(tp: Any, raw: object, path: str) -> Any:  # noqa: PLR0911 - one case per kind
    origin = typing.get_origin(tp)
    if tp is Any:
        return raw
    if origin is typing.Union or origin is types.UnionType:
        return _union(typing.get_args(tp), raw, path)
    if tp is type(None):
        if raw is not None:
            raise DecodeError(path, f"expected null, got {_describe(raw)}")
        return None
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _dataclass(tp, raw, path)
    if origin is tuple:
        return _tuple(tp, raw, path)
    if origin is dict or origin is Mapping:
        return _mapping(tp, raw, path)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(raw)
        except ValueError:
            known = ", ".join(str(m.value) for m in tp)
            raise DecodeError(path, f"{_describe(raw)} is not one of: {known}") from None
    if tp is datetime:
        return _datetime(raw, path)
    return _scalar(tp, raw, path)


def _tuple(tp: Any, raw: object, path: str) -> tuple[Any, ...]:
    args = typing.get_args(tp)
    if len(args) != 2 or args[1] is not Ellipsis:
        raise TypeError(f"only tuple[X, ...] is supported, not {tp}")
    if not isinstance(raw, list | tuple):
        raise DecodeError(path, f"expected a list, got {_describe(raw)}")
    return tuple(_value(args[0], item, f"{path}[{i}]") for i, item in enumerate(raw))


def _mapping(tp: Any, raw: object, path: str) -> dict[str, Any]:
    key_type, value_type = typing.get_args(tp)
    if key_type is not str:
        raise TypeError(f"only string keys are supported, not {tp}")
    if not isinstance(raw, dict):
        raise DecodeError(path, f"expected an object, got {_describe(raw)}")
    return {str(k): _value(value_type, v, f"{path}[{k!r}]") for k, v in raw.items()}


def _scalar(tp: Any, raw: object, path: str) -> Any:
    if tp is bool:
        ok = isinstance(raw, bool)
    elif tp is int:
        ok = isinstance(raw, int) and not isinstance(raw, bool)
    elif tp is float:
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return float(raw)
        ok = False
    elif tp is str:
        ok = isinstance(raw, str)
    else:
        raise TypeError(f"{path}: unsupported annotation {tp!r}")
    if not ok:
        raise DecodeError(path, f"expected {_name(tp)}, got {_describe(raw)}")
    return raw


def _union(args: tuple[Any, ...], raw: object, path: str) -> Any:
    if raw is None and type(None) in args:
        return None
    # A scalar of exactly a listed type keeps its type: 3 in `float | int` stays an int.
    if type(raw) in args and type(raw) in (bool, int, float, str):
        return raw
    choices = [arg for arg in args if arg is not type(None)]
    if len(choices) == 1 and raw is not None:  # `X | None`: X's own error says more
        return _value(choices[0], raw, path)
    for arg in choices:
        try:
            return _value(arg, raw, path)
        except DecodeError:
            continue
    wanted = " or ".join(_name(a) for a in args)
    raise DecodeError(path, f"expected {wanted}, got {_describe(raw)}")


def _datetime(raw: object, path: str) -> datetime:
    if not isinstance(raw, str):
        raise DecodeError(path, f"expected an ISO 8601 time, got {_describe(raw)}")
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise DecodeError(path, f"expected an ISO 8601 time, got {_describe(raw)}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _dataclass(cls: type, raw: object, path: str) -> Any:
    if not isinstance(raw, dict):
        raise DecodeError(path, f"expected an object, got {_describe(raw)}")
    hints = _hints(cls)
    fields = [f for f in dataclasses.fields(cls) if f.init]
    names = {f.name for f in fields}
    unknown = sorted(str(k) for k in raw if k not in names)
    if unknown:
        raise DecodeError(
            _join(path, unknown[0]), f"unknown field (known: {', '.join(sorted(names))})"
        )
    values = {}
    for f in fields:
        where = _join(path, f.name)
        if f.name not in raw:
            raise DecodeError(where, "missing")
        values[f.name] = _value(hints[f.name], raw[f.name], where)
    return cls(**values)
