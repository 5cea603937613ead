"""The review reads Markdown as CommonMark/GFM renders it: setext headings, fence lengths and
fence characters, code blocks, front matter, line numbers."""

from __future__ import annotations

import pytest

from drills.postmortem.review import review_text
from drills.postmortem.review.document import parse
from tests.unit.test_review_rules import ACTION, CLEAN


def rules_fired(text: str, allow_draft: bool = False) -> set[str]:
    return {f.rule for f in review_text("pm.md", text, allow_draft).findings}


def titles(text: str) -> list[tuple[str, int, int]]:
    return [(s.title, s.level, s.line) for s in parse(text).sections]


def test_setext_headings_are_sections():
    """`Title` over `=====` is a level-1 section, `Sub` over `---` a level-2 one, each on the
    title's line; the underline is not body text."""
    document = parse("Title\n=====\n\nintro\n\nSub\n---\ntext\n")
    assert [(s.title, s.level, s.line) for s in document.sections] == [
        ("Title", 1, 1),
        ("Sub", 2, 6),
    ]
    assert document.sections[1].body == [(8, "text")]
    assert (2, "=====") not in document.sections[0].body


def test_a_setext_section_satisfies_the_required_sections():
    """A post-mortem whose Summary and Impact are setext headings passes review like ATX ones."""
    text = CLEAN.replace("## Summary\n", "Summary\n-------\n").replace(
        "## Impact\n", "Impact\n======\n"
    )
    assert rules_fired(text) == set()
    assert rules_fired(text.replace("Summary\n-------\n", "")) == {"missing-section"}


def test_a_multi_line_setext_title_is_one_heading():
    """A setext heading's title may span lines; they join into one title."""
    assert titles("Lessons\nlearned\n=======\n") == [("Lessons learned", 1, 1)]


def test_text_over_a_dash_line_is_a_heading_not_content():
    """`text` directly over `---` is a heading (as GitHub renders it), so the Trigger section
    above it is left empty."""
    text = CLEAN.replace("UTC.\n\n## Detection", "UTC.\n---\n\n## Detection")
    assert rules_fired(text) == {"empty-section"}
    spaced = CLEAN.replace("UTC.\n\n## Detection", "UTC.\n\n---\n\n## Detection")
    assert rules_fired(spaced) == set()  # after a blank line `---` is only a rule


LONG_FENCE = """
````markdown
How our template looks:
```
## Action Items
- Improve monitoring
TODO: human error
```
````
"""

TILDE_FENCE = """
~~~
```
## Summary
TODO: the operator should have checked
~~~
"""


@pytest.mark.parametrize("block", [LONG_FENCE, TILDE_FENCE], ids=["longer-fence", "tilde-fence"])
def test_nothing_inside_a_fence_is_parsed(block):
    """A ```` fence around ``` lines, or a ~~~ fence with ``` inside, stays one code block to its
    own closing fence: no heading, item, placeholder or blame is read inside it."""
    text = CLEAN.replace("was enough.\n", "was enough.\n" + block)
    document = parse(text)
    assert [s.title for s in document.sections].count("Action Items") == 1
    assert [s.title for s in document.sections].count("Summary") == 1
    assert rules_fired(text) == set()
    start = text.splitlines().index(block.strip().splitlines()[0]) + 1
    assert set(range(start, start + len(block.strip().splitlines()))) <= document.code_lines


def test_a_shorter_fence_does_not_close_a_longer_one():
    """Inside ```` a ``` line is content; the text after the real close is read again."""
    document = parse("````\n```\n# inside\n````\n# outside\n")
    assert [s.title for s in document.sections] == ["outside"]
    assert document.code_lines == frozenset({1, 2, 3, 4})


def test_fenced_action_items_and_timeline_rows_are_not_entries():
    """A fenced example in "Action items" adds no item; a fenced log in the timeline adds no
    out-of-order row."""
    bullets = CLEAN.split("| action |")[0] + (
        "- Add a buffer alert (detect, P1, owner: sre-team, https://github.com/a/b/issues/1)\n"
        "~~~~\n- Improve monitoring\n| x | y |\n~~~~\n"
    )
    assert rules_fired(bullets) == set()
    log = "```text\n- 2026-11-27 06:00:00 an old log line\n| 2026-11-27 05:00:00 | x |\n```\n"
    text = CLEAN.replace("## Lessons Learned", "\n" + log + "\n## Lessons Learned")
    assert rules_fired(text) == set()


def test_indented_code_is_not_checked_for_blame_or_placeholders():
    """An indented log excerpt is quoted text, like a fenced one."""
    text = CLEAN.replace("was enough.\n", "was enough.\n\n    ERROR failed to connect: TODO\n")
    assert rules_fired(text) == set()
    assert rules_fired(text.replace("    ERROR", "ERROR")) == {"blame-language", "placeholder"}


def test_headings_in_quotes_and_lists_are_not_sections():
    """A quoted or listed heading is part of that block; it neither opens nor closes a section."""
    assert titles("# Doc\n> ## Summary\n- ## Impact\n") == [("Doc", 1, 1)]


def test_a_sub_sections_table_counts_for_its_parent():
    """Action items under "### Short term" are still the action section's items."""
    text = CLEAN.replace("## Action Items\n", "## Action Items\n### Short term\n")
    assert rules_fired(text) == set()
    vague = text.replace("Add an alert on generator buffer fill above 80 %", "Improve monitoring")
    assert rules_fired(vague) == {"action-vague"}


def test_a_table_ends_at_a_blank_line_and_each_table_has_its_own_header():
    """A second table in the action section is read with its own header, not as rows of the
    first."""
    second = "\n| what | kind | prio | who | issue |\n|---|---|---|---|---|\n" + ACTION + "\n"
    assert rules_fired(CLEAN + second) == set()


def test_front_matter_is_split_off_before_markdown():
    """The closing `---` of the front matter never turns its last line into a heading, and the
    body's line numbers count the front matter lines."""
    document = parse("---\nstatus: final\n---\n# Summary\n")
    assert document.front_matter == {"status": "final"}
    assert document.front_matter_error is None
    assert [(s.title, s.line) for s in document.sections] == [("Summary", 4)]


@pytest.mark.parametrize(
    ("front", "line", "message"),
    [
        ("owner: x\nstatus: final\n  bad: indent\n", 4, "front matter is not valid YAML"),
        ("- status\n- final\n", 2, "front matter must be a mapping of fields"),
    ],
)
def test_front_matter_errors_are_findings_with_their_line(front, line, message):
    """Broken or non-mapping front matter is a front-matter finding on its line."""
    text = CLEAN.replace("status: final\n", front)
    findings = [f for f in review_text("pm.md", text).findings if f.rule == "front-matter"]
    assert [f.line for f in findings] == [line]
    assert findings[0].message.startswith(message)


def test_front_matter_closed_by_dots_and_unclosed():
    """`...` closes front matter; an opening `---` never closed is Markdown, not front matter."""
    assert parse("---\nstatus: final\n...\n# A\n").front_matter == {"status": "final"}
    unclosed = parse("---\nstatus: final\n# A\n")
    assert (unclosed.front_matter, unclosed.body_start, unclosed.front_matter_error) == (
        {},
        0,
        None,
    )


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_line_numbers_follow_markdown_line_breaks(newline):
    """CRLF and lone CR files number their lines like LF files."""
    text = CLEAN.replace("## Timeline (UTC)", "## Timeline")
    lf = [(f.line, f.rule) for f in review_text("pm.md", text).findings]
    assert lf == [(text.splitlines().index("## Timeline") + 1, "timeline-no-utc")]
    assert [
        (f.line, f.rule) for f in review_text("pm.md", text.replace("\n", newline)).findings
    ] == lf
