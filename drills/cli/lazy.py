"""A click group whose subcommands are imported only when one of them runs.

`genesis-drill --help` has to answer fast on a Raspberry Pi: importing every subcommand module (and
what they import) cost ~40 % of its start-up. click's documented way is a `Group` that resolves
names in `get_command`; the root help, which would otherwise import every subcommand to read its
first docstring sentence, uses the one-line summaries kept in the table below instead
(tests/unit/test_cli_lazy.py fails when a summary drifts from the command's own docstring).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import click


@dataclass(frozen=True)
class LazyCommand:
    """Where a subcommand lives, and the first sentence of its docstring."""

    module: str
    attribute: str
    summary: str


class LazyGroup(click.Group):
    """`click.Group` that imports `lazy[name].module` on first use of `name`."""

    def __init__(self, *args: Any, lazy: Mapping[str, LazyCommand], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            entry = self.lazy[cmd_name]
            command = getattr(importlib.import_module(entry.module), entry.attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{entry.module}.{entry.attribute} is not a click command")
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Like click's, but summaries of not-yet-imported commands come from the table."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows: list[tuple[str, str]] = []
        for name in names:
            loaded = self.commands.get(name)
            if loaded is not None:
                if loaded.hidden:
                    continue
                rows.append((name, loaded.get_short_help_str(limit)))
            else:
                # A bare Command with the same help text truncates exactly as the real one would.
                stand_in = click.Command(name, help=self.lazy[name].summary)
                rows.append((name, stand_in.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)
