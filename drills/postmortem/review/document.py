"""A post-mortem as the review reads it: front matter, sections, tables, list items, code.

The Markdown is parsed by markdown-it-py (CommonMark with GFM tables), not by line patterns, so
the review sees the structure GitHub renders: a setext heading (`Title` over `=====` or `---`)
opens a section; a fence ends only at a fence of the same character at least as long (````
around ```), and nothing in fenced or indented code counts as a heading, a table row, a list
item, a placeholder or blame. Only the block structure is parsed: the checks read the source
lines the blocks cover, so a finding names the line the author wrote.

The YAML front matter is not Markdown: it is split off first and the body's line numbers carry
on after it. Lines are split where markdown-it splits them (\\n, \\r\\n, \\r), so its line map and
the finding's line always agree.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

from drills.postmortem.review.headings import section_key

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_CODE_SPAN = re.compile(r"(`+).*?\1")
_THEMATIC_BREAK = re.compile(r"\s*(?:-{3,}|\*{3,}|_{3,})\s*")
# A list item's first line: container prefixes (indent, `>`), the marker, an optional task box.
_ITEM_MARKER = re.compile(r"^[\s>]*(?:[-*+]|\d{1,9}[.)])(?:[ \t]+|$)(?:\[[ xX]\][ \t]+)?")
_CODE_BLOCKS = ("fence", "code_block")


@dataclass(frozen=True)
class TableRow:
    line: int
    source: str  # the row as written
    cells: tuple[str, ...]  # one per header column (GFM pads short rows, drops extra cells)


@dataclass(frozen=True)
class Table:
    line: int  # the header row's
    header: tuple[str, ...]
    rows: tuple[TableRow, ...]  # body rows; the header and the delimiter row are not in here


@dataclass(frozen=True)
class ListItem:
    line: int
    source: str  # the item's first line as written
    text: str  # that line without its marker and task box ("[ ]")


@dataclass
class Section:
    """A heading and what follows it up to the next heading of the same or a higher level.

    A sub-section's lines, tables and items count for its parents too: "Action items" with its
    table under "### Short term" still holds that table.
    """

    key: str | None  # `headings.REQUIRED` key, None for a heading the review does not know
    title: str
    level: int
    line: int
    body: list[tuple[int, str]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    items: list[ListItem] = field(default_factory=list)

    def text(self) -> str:
        return "\n".join(text for _, text in self.body)

    def has_content(self) -> bool:
        return any(
            line.strip()
            and not line.strip().startswith("<!--")
            and not _THEMATIC_BREAK.fullmatch(line)
            for _, line in self.body
        )

    def entries(self) -> list[tuple[int, str]]:
        """Table body rows and list items in document order, each as its source line."""
        rows = [(row.line, row.source) for table in self.tables for row in table.rows]
        return sorted(rows + [(item.line, item.source) for item in self.items])


@dataclass(frozen=True)
class Document:
    front_matter: dict[str, object]
    body_start: int  # lines before this index are the front matter
    lines: list[str]
    sections: list[Section]
    code_lines: frozenset[int]  # line numbers inside fenced or indented code, fences included
    front_matter_error: tuple[int, str] | None = None  # (line, why): reported, never ignored

    def sections_of(self, key: str) -> list[Section]:
        return [s for s in self.sections if s.key == key]

    def prose_lines(self) -> Iterator[tuple[int, str]]:
        """(line number, text) of every body line outside code."""
        for number, line in enumerate(self.lines[self.body_start :], start=self.body_start + 1):
            if number not in self.code_lines:
                yield number, line


def without_code_spans(line: str) -> str:
    """`line` with its code spans blanked: quoted text is neither a placeholder nor a time."""
    return _CODE_SPAN.sub(" ", line)


def parse(text: str) -> Document:
    lines = _LINE_BREAK.split(text)
    if lines[-1] == "":
        lines.pop()  # the final line break ends the last line; it does not start a new one
    front, start, front_error = _front_matter(lines)
    blocks = _Blocks(lines, start)
    blocks.read(_parser().parse("\n".join(lines[start:])))
    return Document(
        front, start, lines, blocks.sections(), frozenset(blocks.code_lines), front_error
    )


@functools.cache
def _parser() -> MarkdownIt:
    markdown = MarkdownIt("commonmark").enable("table")
    # Block structure only: inline parsing (emphasis, links) would cost time and tell no check
    # anything, and the inline tokens' `content` (the source text) is set by the block rules.
    markdown.core.ruler.disable(["inline", "text_join"])
    return markdown


def _front_matter(lines: Sequence[str]) -> tuple[dict[str, object], int, tuple[int, str] | None]:
    """(fields, index of the first body line, error) of a `---` ... `---`/`...` header."""
    if not lines or lines[0].strip() != "---":
        return {}, 0, None
    for index in range(1, len(lines)):
        if lines[index].strip() not in ("---", "..."):
            continue
        loaded: object = None
        error: tuple[int, str] | None = None
        try:
            loaded = yaml.safe_load("\n".join(lines[1:index]))
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            at = mark.line + 2 if mark is not None else 1  # line 1 is the opening ---
            error = (at, f"front matter is not valid YAML: {exc.problem}")
        except (yaml.YAMLError, RecursionError, ValueError) as exc:
            error = (1, f"front matter is not valid YAML: {type(exc).__name__}")
        if error is None and not isinstance(loaded, dict | None):
            error = (2, "front matter must be a mapping of fields")
        return (loaded if isinstance(loaded, dict) else {}), index + 1, error
    return {}, 0, None  # never closed: not front matter, the review reads it as Markdown


@dataclass(frozen=True)
class _Heading:
    line: int
    last: int  # a setext heading's underline, or the last line of its title
    level: int
    title: str


class _Blocks:
    """Collects the blocks of one token stream, in 1-based line numbers of the whole file."""

    def __init__(self, lines: list[str], start: int) -> None:
        self.lines = lines
        self.start = start
        self.headings: list[_Heading] = []
        self.tables: list[Table] = []
        self.items: list[ListItem] = []
        self.code_lines: set[int] = set()

    def _span(self, where: list[int]) -> tuple[int, int]:
        """A token's `map` (0-based, end exclusive, body only) as first and last file line."""
        return where[0] + self.start + 1, where[1] + self.start

    def read(self, tokens: list[Token]) -> None:
        item_lines: set[int] = set()
        for index, token in enumerate(tokens):
            if token.map is None:
                continue
            first, last = self._span(token.map)
            if token.type in _CODE_BLOCKS:
                self.code_lines.update(range(first, last + 1))
            elif token.type == "heading_open" and token.level == 0:
                # Headings in a list item or a quote are part of it, not sections of the file.
                title = tokens[index + 1].content.replace("\n", " ")
                self.headings.append(_Heading(first, last, int(token.tag[1:]), title))
            elif token.type == "table_open":
                self.tables.append(self._table(tokens, index, first))
            elif token.type == "list_item_open" and first not in item_lines:
                item_lines.add(first)  # "- - x": one item per line, as it reads
                source = self.lines[first - 1]
                self.items.append(ListItem(first, source, _ITEM_MARKER.sub("", source).strip()))

    def _table(self, tokens: list[Token], index: int, line: int) -> Table:
        header: tuple[str, ...] = ()
        rows: list[TableRow] = []
        cells: list[str] = []
        row_line = line
        in_body = False
        for token in tokens[index + 1 :]:
            if token.type == "table_close":
                break
            if token.type == "tbody_open":
                in_body = True
            elif token.type == "tr_open" and token.map is not None:
                cells, row_line = [], self._span(token.map)[0]
            elif token.type == "inline":
                cells.append(token.content)
            elif token.type == "tr_close" and in_body:
                rows.append(TableRow(row_line, self.lines[row_line - 1], tuple(cells)))
            elif token.type == "tr_close":
                header = tuple(cells)
        return Table(line, header, tuple(rows))

    def sections(self) -> list[Section]:
        """Sections with the body lines, tables and items under each, nested by level."""
        opening = {heading.line: heading for heading in self.headings}
        heading_lines = {n for h in self.headings for n in range(h.line, h.last + 1)}
        sections: list[Section] = []
        stack: list[Section] = []
        open_at: dict[int, tuple[Section, ...]] = {}
        for number in range(self.start + 1, len(self.lines) + 1):
            heading = opening.get(number)
            if heading is not None:
                section = Section(section_key(heading.title), heading.title, heading.level, number)
                sections.append(section)
                stack = [s for s in stack if s.level < heading.level] + [section]
            if number in heading_lines:
                continue
            for open_section in stack:
                open_section.body.append((number, self.lines[number - 1]))
            open_at[number] = tuple(stack)
        for table in self.tables:
            for open_section in open_at.get(table.line, ()):
                open_section.tables.append(table)
        for item in self.items:
            for open_section in open_at.get(item.line, ()):
                open_section.items.append(item)
        return sections
