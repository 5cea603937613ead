"""Reading files the user hands the harness (drill files, game-day plans, post-mortems) safely.

A drill file is untrusted input: it may be a FIFO (an open() that never returns), /dev/zero (a
read that never ends), 50 MB of YAML, 100,000 nested lists (RecursionError in PyYAML's recursive
composer), a 5,000-digit integer (Python's int digit limit), or a `!!python/name:` tag. Every one
of these ends here as one `BadFile` line, `file:line: why`, before anything is composed:

* `read_text` opens without blocking, refuses anything but a regular file, and reads at most
  `MAX_BYTES` (+1 byte to notice more);
* `compose` first walks the parser's event stream (a state machine, not recursive) and stops at
  the first tag, over-deep nesting, over-long number or too many nodes; only then is the
  (bounded) node tree composed.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import yaml

from drills.errors import BadFile

MAX_BYTES = 1 << 20  # 1 MiB: the catalog's largest drill is ~1.5 KiB
MAX_DEPTH = 32  # a drill file nests 4 deep
MAX_NODES = 20_000  # scalars, lists and mappings in one document
MAX_NUMBER_CHARS = 100  # far below the int digit limit (4,300), far above any sane value

# Explicit tags a user may write: only the core schema's (`!!str 10`); anything else would have
# PyYAML build an object, or fail in its constructor.
ALLOWED_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "seq", "map")
) | {"!"}
_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFLNK: "a symbolic link",
}
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_bytes(path: Path, limit: int = MAX_BYTES) -> bytes:
    """At most `limit` bytes of a regular file, opened without blocking (a FIFO never hangs)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise BadFile(path, None, f"cannot read: {_reason(exc)}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = _KINDS.get(stat.S_IFMT(mode), "not a file")
            raise BadFile(path, None, f"not a regular file ({kind})")
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise BadFile(path, None, f"cannot read: {_reason(exc)}") from None
    finally:
        os.close(fd)
    if size > limit:
        raise BadFile(path, None, f"larger than {_size(limit)}; refusing to read it")
    return b"".join(chunks)


def read_text(path: Path, limit: int = MAX_BYTES) -> str:
    """A regular file's UTF-8 text, at most `limit` bytes; errors are one `BadFile` line."""
    data = read_bytes(path, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise BadFile(path, line, f"not UTF-8 text (byte {exc.start})") from None


def compose(path: Path, text: str) -> yaml.Node | None:
    """The YAML node tree of `text` (None if empty), after checking its shape with bounds."""
    try:
        _check_events(path, text)
        return yaml.compose(text, Loader=_LOADER)
    except BadFile:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "malformed"
        raise BadFile(path, _line(mark), f"not valid YAML: {problem}") from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise BadFile(
            path, line, f"not valid YAML: unacceptable character {exc.character!r}"
        ) from None
    except yaml.YAMLError as exc:
        raise BadFile(path, None, f"not valid YAML: {exc}") from None
    except (RecursionError, MemoryError, ValueError) as exc:  # belt and braces: bounded above
        raise BadFile(path, None, f"not valid YAML: {type(exc).__name__}") from None


def load_file(path: Path) -> tuple[str, yaml.Node | None]:
    """Read and compose one YAML file: its text and its node tree."""
    text = read_text(path)
    return text, compose(path, text)


def _check_events(path: Path, text: str) -> None:
    depth = nodes = 0
    resolver = yaml.resolver.Resolver()
    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise BadFile(path, _line(event.start_mark), f"nested deeper than {MAX_DEPTH}")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
            continue
        elif not isinstance(event, yaml.ScalarEvent | yaml.AliasEvent):
            continue
        nodes += 1
        if nodes > MAX_NODES:
            raise BadFile(path, _line(event.start_mark), f"more than {MAX_NODES} values")
        tag = getattr(event, "tag", None)
        if tag is not None and tag not in ALLOWED_TAGS:
            raise BadFile(
                path, _line(event.start_mark), f"YAML tag {_printable(tag)} is not allowed"
            )
        if isinstance(event, yaml.ScalarEvent) and len(event.value) > MAX_NUMBER_CHARS:
            if tag is None and event.implicit[0]:
                tag = resolver.resolve(yaml.ScalarNode, event.value, event.implicit)  # type: ignore[no-untyped-call]
            if tag in _NUMBER_TAGS:
                raise BadFile(
                    path,
                    _line(event.start_mark),
                    f"a number longer than {MAX_NUMBER_CHARS} characters",
                )


def _line(mark: object) -> int | None:
    line = getattr(mark, "line", None)
    return int(line) + 1 if isinstance(line, int) else None


def _printable(text: str) -> str:
    return repr(text[:60])


def _reason(exc: Exception) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


def _size(limit: int) -> str:
    return f"{limit // (1 << 20)} MiB" if limit % (1 << 20) == 0 else f"{limit} bytes"
