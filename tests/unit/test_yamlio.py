"""Hostile files (tags, deep nesting, huge numbers, FIFOs, devices, big files) end as one
`file:line: why` error from the drill and plan loaders and `postmortem review`, never a traceback
or a hang."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from drills.errors import BadFile, SpecError
from drills.gameday import load_plan
from drills.postmortem.review import review_file
from drills.spec import load
from drills.yamlio import MAX_BYTES, read_text

HOSTILE = {
    "python-tag": ("name: !!python/name:os.system x\n", 1, "YAML tag"),
    "local-tag": ("description: ok\nname: !foo x\n", 2, "YAML tag"),
    "deep": ("name: " + "[" * 100_000 + "\n", 1, "nest"),
    "deep-block": ("".join(" " * i + "a:\n" for i in range(200)), None, "nest"),
    "long-int": ("name: " + "9" * 5_000 + "\n", 1, "number longer"),
    "tagged-long-int": ("name: !!int '" + "9" * 5_000 + "'\n", 1, "number longer"),
    "many-items": ("name: [" + "1," * 100_000 + "1]\n", 1, "more than"),
    "nul": ("name: \x00\n", 1, "unacceptable character"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
@pytest.mark.parametrize("loader", [load, load_plan])
def test_hostile_yaml_is_one_error_with_file_and_line(tmp_path, case, loader):
    """Each hostile YAML document is an InvalidInput naming the file (and line), in well under
    a second."""
    text, line, why = HOSTILE[case]
    path = tmp_path / "drill.yaml"
    path.write_text(text)
    started = time.monotonic()
    with pytest.raises(SpecError) as info:
        loader(path)
    assert time.monotonic() - started < 2
    assert why in info.value.why, str(info.value)
    assert str(info.value).startswith(f"{path}:")
    if line is not None:
        assert info.value.line == line
    assert info.value.exit_code == 2


def test_a_list_as_a_key_is_named_at_its_line(tmp_path):
    """`? [a]` is reported as 'a key must be a plain string' at its line, not a node repr."""
    path = tmp_path / "drill.yaml"
    path.write_text("name: x\n? [a]\n: 1\n")
    with pytest.raises(SpecError) as info:
        load(path)
    assert (info.value.line, info.value.why) == (2, "a key must be a plain string")
    assert "ScalarNode" not in str(info.value)


@pytest.mark.parametrize("loader", [load, load_plan, review_file])
def test_a_fifo_is_refused_without_hanging(tmp_path, loader):
    """A FIFO (no writer) is refused as not a regular file instead of blocking forever."""
    fifo = tmp_path / "drill.yaml"
    os.mkfifo(fifo)
    with pytest.raises(BadFile if loader is review_file else SpecError, match="FIFO"):
        loader(fifo)


@pytest.mark.parametrize("loader", [load, review_file])
def test_devices_and_directories_are_refused(tmp_path, loader):
    """/dev/zero (an endless read) and a directory are not regular files."""
    with pytest.raises(BadFile if loader is review_file else SpecError, match="character device"):
        loader(Path("/dev/zero"))
    with pytest.raises(BadFile if loader is review_file else SpecError, match="directory"):
        loader(tmp_path)


def test_files_above_the_limit_are_refused_quickly(tmp_path):
    """A file one byte over 1 MiB is refused without being parsed; exactly 1 MiB is read."""
    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * MAX_BYTES)
    assert len(read_text(path)) == MAX_BYTES
    path.write_bytes(b"#" * (50 * MAX_BYTES))
    started = time.monotonic()
    with pytest.raises(SpecError, match="larger than 1 MiB"):
        load(path)
    assert time.monotonic() - started < 1


def test_binary_junk_names_the_line(tmp_path):
    """Bytes that are not UTF-8 are reported with the line they are on."""
    path = tmp_path / "drill.yaml"
    path.write_bytes(b"name: x\ndescription: \xff\xfe\n")
    with pytest.raises(SpecError) as info:
        load(path)
    assert info.value.line == 2 and "not UTF-8" in info.value.why
