"""The root command imports subcommand modules only when they run, and its help does not drift."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from drills.cli.lazy import LazyCommand, LazyGroup
from drills.cli.main import COMMANDS


def _group() -> LazyGroup:
    @click.group(cls=LazyGroup, lazy=COMMANDS)
    def root() -> None:
        """Root."""

    assert isinstance(root, LazyGroup)
    return root


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_summary_is_the_commands_own_first_sentence(name):
    """A summary in the table that no longer matches the command's docstring fails here."""
    group = _group()
    command = group.get_command(click.Context(group), name)
    assert command is not None
    assert command.name == name
    assert COMMANDS[name].summary == command.get_short_help_str(limit=1000)


def test_help_before_and_after_loading_is_identical():
    """The table-driven root help reads exactly as click's own once every command is loaded."""
    group = _group()
    ctx = click.Context(group, info_name="genesis-drill")
    before = group.get_help(ctx)
    assert not group.commands  # nothing was imported to write it
    for name in group.list_commands(ctx):
        group.get_command(ctx, name)
    assert set(group.commands) == set(COMMANDS)
    assert group.get_help(click.Context(group, info_name="genesis-drill")) == before


def test_root_help_imports_no_subcommand_module():
    """`genesis-drill --help` in a fresh interpreter loads drills.cli.main and .lazy, no more."""
    code = (
        "import sys\n"
        "from drills.cli.main import cli\n"
        "try:\n"
        "    cli(['--help'], prog_name='genesis-drill')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('drills.')), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "Commands:" in done.stdout and "run " in done.stdout
    assert done.stderr.strip() == "['drills.cli', 'drills.cli.lazy', 'drills.cli.main']"


def test_unknown_command_is_clicks_usage_error():
    group = _group()
    with pytest.raises(click.UsageError, match="No such command 'nope'"):
        group.resolve_command(click.Context(group), ["nope"])


def test_table_entry_that_is_not_a_command_is_refused():
    group = LazyGroup(name="root", lazy={"bad": LazyCommand("drills.cli.main", "COMMANDS", "x")})
    with pytest.raises(TypeError, match="not a click command"):
        group.get_command(click.Context(group), "bad")
