"""Post-mortem review rules: each rule has a case that triggers it and one that does not."""

from __future__ import annotations

import json

import pytest

from drills.postmortem.review import (
    RULES,
    format_github,
    format_json,
    format_text,
    review_file,
    review_text,
)

CLEAN_TEMPLATE = """---
status: final
---
# Post-mortem: broker outage

## Summary
RabbitMQ was down for 20 s; 0 of 8,730 events were lost.

## Impact
8,730 events delayed by up to 40 s; 0 lost; 0.00 % of the error budget.

## Root Cause(s)
The broker process was killed; the generator buffer held the events.

## Trigger
The drill stopped the broker at 06:26:53 UTC.

## Detection
RabbitMQDown fired 5.8 s after the stop.

## Resolution
The broker restarted and the backlog drained in 40 s.

## Timeline (UTC)
| time | event |
|---|---|
| 2026-11-27 06:26:44 | run started |
| 2026-11-27 06:26:53 | broker stopped |
| 2026-11-27 06:27:05 | backlog drained |

## Lessons Learned
The buffer sized for 20 s of load was enough.

## Action Items
| action | type | priority | owner | tracking |
|---|---|---|---|---|
{action}
"""


ACTION = (
    "| Add an alert on generator buffer fill above 80 % | detect | P1 | @sre-team "
    "| https://github.com/acme/ops/issues/12 |"
)
CLEAN = CLEAN_TEMPLATE.replace("{action}", ACTION)


def rules_fired(text: str, allow_draft: bool = False) -> set[str]:
    return {f.rule for f in review_text("pm.md", text, allow_draft).findings}


def test_clean_postmortem_has_no_findings():
    """A complete, quantified, blameless post-mortem passes every rule."""
    assert rules_fired(CLEAN) == set()


@pytest.mark.parametrize(
    ("heading", "variant"),
    [
        ("## Summary", "## Executive Summary"),
        ("## Root Cause(s)", "## 3. ROOT CAUSES"),
        ("## Lessons Learned", "## What went well"),
        ("## Action Items", "## Follow-ups"),
        ("## Resolution", "## Recovery"),
        ("## Timeline (UTC)", "## Incident Timeline (UTC)"),
    ],
)
def test_heading_variants_are_recognised(heading, variant):
    """Google/PagerDuty/Atlassian heading variants count as the same section."""
    assert rules_fired(CLEAN.replace(heading, variant)) == set()


def test_missing_section():
    """A required section that is absent is an error."""
    text = CLEAN.replace("## Trigger\nThe drill stopped the broker at 06:26:53 UTC.\n", "")
    assert "missing-section" in rules_fired(text)


def test_empty_section():
    """A required heading with nothing under it is an error."""
    text = CLEAN.replace("RabbitMQDown fired 5.8 s after the stop.\n", "")
    assert rules_fired(text) == {"empty-section"}


def test_impact_not_quantified():
    """Impact without a single number is an error."""
    text = CLEAN.replace(
        "8,730 events delayed by up to 40 s; 0 lost; 0.00 % of the error budget.",
        "Users saw delays.",
    )
    assert rules_fired(text) == {"impact-not-quantified"}


def test_impact_vague_quantity_warns():
    """'some users' in the impact is a warning, not an error."""
    text = CLEAN.replace("0 lost;", "0 lost; some users saw delays;")
    review = review_text("pm.md", text)
    assert {f.rule for f in review.findings} == {"impact-vague"}
    assert review.errors == 0


def test_timeline_without_utc():
    """A timeline that never says UTC is an error."""
    text = CLEAN.replace("## Timeline (UTC)", "## Timeline")
    assert rules_fired(text) == {"timeline-no-utc"}


def test_timeline_out_of_order():
    """A timeline row earlier than the row before it is an error on that row's line."""
    text = CLEAN.replace("2026-11-27 06:27:05", "2026-11-27 06:20:05")
    review = review_text("pm.md", text)
    assert [f.rule for f in review.findings] == ["timeline-order"]
    assert (
        review.findings[0].line
        == text.splitlines().index("| 2026-11-27 06:20:05 | backlog drained |") + 1
    )


@pytest.mark.parametrize(
    ("row", "rule"),
    [
        (ACTION.replace("| detect |", "| |"), "action-no-type"),
        (ACTION.replace("| P1 |", "| soon |"), "action-no-priority"),
        (ACTION.replace("| @sre-team |", "| |"), "action-no-owner"),
        (ACTION.replace("https://github.com/acme/ops/issues/12", "later"), "action-no-tracking"),
        (ACTION.replace("Add an alert", "Alerting"), "action-no-verb"),
        (
            ACTION.replace(
                "Add an alert on generator buffer fill above 80 %", "Improve monitoring"
            ),
            "action-vague",
        ),
    ],
)
def test_action_item_rules(row, rule):
    """Each missing part of an action item (or a vague one) is reported by its own rule."""
    assert rules_fired(CLEAN.replace(ACTION, row)) == {rule}


def test_action_items_as_bullets():
    """Bullet-list action items are checked too: type, priority, owner and link found inline."""
    good = "- Add a buffer alert (detect, P1, owner: sre-team, https://github.com/a/b/issues/1)"
    text = CLEAN.split("| action |")[0] + good + "\n"
    assert rules_fired(text) == set()
    assert "action-no-priority" in rules_fired(text.replace("P1, ", ""))


def test_placeholders_in_a_final_version():
    """TODO, TBD and {{ }} left in a non-draft post-mortem are errors."""
    text = CLEAN.replace("was enough.", "was enough. TODO: confirm {{ numbers }}.")
    review = review_text("pm.md", text)
    assert [f.rule for f in review.findings] == ["placeholder", "placeholder"]


def test_placeholders_allowed_in_a_draft_with_allow_draft():
    """A draft reviewed with --allow-draft may keep TODO/TBD and unfiled items."""
    text = CLEAN.replace("status: final", "status: draft").replace("was enough.", "TODO")
    text = text.replace(
        "| @sre-team | https://github.com/acme/ops/issues/12 |", "| TBD | not filed yet |"
    )
    assert rules_fired(text, allow_draft=True) == set()
    assert "draft-status" in rules_fired(text, allow_draft=False)
    assert "placeholder" in rules_fired(text, allow_draft=False)


def test_placeholder_in_code_span_is_ignored():
    """`TODO` inside a code span is quoted text, not a placeholder."""
    assert rules_fired(CLEAN.replace("was enough.", "was enough (`grep TODO`).")) == set()


@pytest.mark.parametrize(
    "sentence",
    [
        "This was human error.",
        "The operator should have checked.",
        "We failed to notice.",
        "A careless change.",
    ],
)
def test_blame_language(sentence):
    """Blaming phrases are errors."""
    assert rules_fired(CLEAN.replace("was enough.", "was enough. " + sentence)) == {
        "blame-language"
    }


def test_blameless_word_is_not_blame():
    """'blameless' itself does not trigger the blame rule."""
    assert (
        rules_fired(CLEAN.replace("was enough.", "was enough. This review is blameless.")) == set()
    )


@pytest.mark.parametrize(
    "sentence",
    [
        "The outage was caused by Alice.",
        "Bob forgot to restart it.",
        "@jdoe misconfigured the queue.",
    ],
)
def test_named_person_as_cause(sentence):
    """A sentence making a named person the cause is an error."""
    assert "blame-person" in rules_fired(CLEAN.replace("was enough.", "was enough. " + sentence))


def test_system_as_cause_is_not_blame():
    """A component named as the cause is fine."""
    text = CLEAN.replace(
        "was enough.", "was enough. The outage was caused by RabbitMQ running out of memory."
    )
    assert rules_fired(text) == set()


def test_output_formats(tmp_path):
    """text is file:line: rule, json lists findings and rules, github emits ::error annotations."""
    path = tmp_path / "pm.md"
    path.write_text(CLEAN.replace("## Timeline (UTC)", "## Timeline"))
    review = review_file(path)
    text = format_text([review])
    line = CLEAN.splitlines().index("## Timeline (UTC)") + 1
    assert f"{path}:{line}: timeline-no-utc: error:" in text
    data = json.loads(format_json([review]))
    assert data["files"][0]["findings"][0]["rule"] == "timeline-no-utc"
    assert set(data["rules"]) == set(RULES)
    assert format_github([review]).startswith(
        f"::error file={path},line={line},title=timeline-no-utc::"
    )


def test_a_verb_inside_a_longer_word_is_not_blame():
    """'Step broker-down stopped' is no 'Step broke': blame verbs match whole words only."""
    text = CLEAN.replace("was enough.", "was enough. Step broker-down stopped RabbitMQ.")
    assert rules_fired(text) == set()
    assert "blame-person" in rules_fired(text.replace("Step broker-down stopped", "Alice broke"))


@pytest.mark.parametrize(
    "sentence",
    [
        "The consumer restarted. Monitoring missed the first 6 s.",
        "Retries never exceeded 3.",
        "Detection did not depend on the broker.",
        "Bob broke the build.",  # a name that is also a word: the rule cannot tell
    ],
)
def test_an_ordinary_word_as_subject_is_only_unsure(sentence):
    """A sentence-initial common word before 'missed'/'never'/'broke' is a warning, not blame."""
    review = review_text("pm.md", CLEAN.replace("was enough.", "was enough. " + sentence))
    assert [(f.rule, f.severity) for f in review.findings] == [("blame-person-unsure", "warning")]
    assert review.errors == 0


@pytest.mark.parametrize(
    "sentence", ["Alice missed the page.", "Priya never restarted it.", "Bob forgot to restart it."]
)
def test_a_name_or_a_person_only_verb_stays_blame(sentence):
    """A name the lexicon does not know, or a verb only people do, is still an error."""
    assert rules_fired(CLEAN.replace("was enough.", "was enough. " + sentence)) == {"blame-person"}
