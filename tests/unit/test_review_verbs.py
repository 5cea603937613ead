"""An action item's first word, judged as English: verb, sure not a verb, or unsure (a warning)."""

from __future__ import annotations

import pytest

from drills.postmortem.review import review_text
from drills.postmortem.review.verbs import Kind, first_word, judge
from tests.unit.test_review_rules import ACTION, CLEAN


@pytest.mark.parametrize(
    "title",
    [
        # the false alarms of issue 16: ordinary imperatives no word list had
        "Cap the generator reconnect back-off at 2 seconds",
        "Pin aio-pika below 10 until the batched publish is re-tested",
        "Bound the generator buffer at 50,000 events",
        "Throttle archive re-drive to 500 events/s",
        "Alert on generator buffer fill above 80 %",
        # a noun the lexicon knows only as a noun, used as a verb before its object
        "Shard the ledger table by event_id",
        # compounds and prefixes the lexicon lacks, headed by a verb it knows
        "Rate-limit the dashboard's /api/events endpoint",
        "Re-run drill pod-kill after the fix",
        "Backfill 37 events from the archive",
        "Requeue dead-lettered events after a schema fix",
        "Containerize the migration job",
        # an adjective used as a verb before its object
        "Inline the alert thresholds into the rule file",
        # Markdown and adverbs before the verb
        "**Cap** the back-off",
        "Never page on the pending state",
        "Don't restart the broker during a drill",
        # the rule's existing good cases and the drafts' own verbs
        "Investigate whether the consumer prefetch limits the drain",
        "Add or fix the alert rule RabbitMQDown",
        "Repair Prometheus access for drill pod-kill",
        "Schedule drill rabbitmq-outage in the next game day",
        "Back up the database before the migration",
    ],
)
def test_imperatives_are_verbs(title):
    """Base-form verbs, verbed nouns before an object, compounds and prefixed verbs pass."""
    verdict = judge(title)
    assert verdict.kind is Kind.VERB, verdict


@pytest.mark.parametrize(
    ("title", "word", "why"),
    [
        ("Alerting on buffer fill", "Alerting", "write the imperative 'Alert'"),
        ("Added a retry", "Added", "write the imperative 'Add'"),
        ("Fixes for the consumer", "Fixes", "a form of the verb 'fix'"),
        ("The alert should fire sooner", "The", "a determiner"),
        ("We should add a test", "We", "a pronoun"),
        ("Should page the on-call", "Should", "a modal verb"),
        ("For the broker: more memory", "For", "a preposition"),
        ("Faster alerting on queue depth", "Faster", "an adjective and an adverb"),
        ("Properly test the restore", "Properly", "an adverb"),
        ("Also the dashboard", "the", "a determiner"),
        ("42 s cap on the back-off", "42", "a number"),
        ("", "", "no words"),
    ],
)
def test_words_that_are_never_imperatives(title, word, why):
    """Closed-class words, numbers, inflected verb forms and adjectives are sure errors."""
    verdict = judge(title)
    assert (verdict.kind, verdict.word) == (Kind.NOT_VERB, word)
    assert why in verdict.why


@pytest.mark.parametrize(
    ("title", "why"),
    [
        ("Shard ledger writes by event_id", "only as a noun"),
        ("Dashboard for consumer lag", "only as a noun"),
        ("Runbook for broker restarts", "not in the English lexicon"),
        ("Follow-up with the broker team", "not in the English lexicon"),
        ("New alert on queue depth", "only as an adjective"),
        ("`max_backoff` to 2 s", "code"),
    ],
)
def test_nouns_unknown_words_and_code_are_unsure(title, why):
    """A noun or adjective that may be verbed, a word the lexicon lacks, or code: unsure."""
    verdict = judge(title)
    assert verdict.kind is Kind.UNSURE, verdict
    assert why in verdict.why


def test_first_word_strips_markdown_but_keeps_code_whole():
    """Emphasis, escapes and trailing punctuation go; a code span stays one word."""
    assert first_word("**Cap**: the back-off") == ("Cap", "the")
    assert first_word("\\*Pin\\* aio-pika") == ("Pin", "aio-pika")
    assert first_word("`max_backoff` to 2 s") == ("`max_backoff`", "to")


def test_unsure_first_word_is_a_warning_that_names_the_word():
    """An unsure word is reported as action-verb-unsure, a warning: the review still passes."""
    text = CLEAN.replace("Add an alert on generator buffer fill above 80 %", "Runbook for X")
    review = review_text("pm.md", text)
    assert [(f.rule, f.severity) for f in review.findings] == [("action-verb-unsure", "warning")]
    assert "'Runbook'" in review.findings[0].message
    assert review.errors == 0


def test_a_sure_non_verb_is_an_error_that_says_what_to_write():
    """An inflected form is an error whose message names the imperative to use instead."""
    review = review_text("pm.md", CLEAN.replace(ACTION, ACTION.replace("Add an", "Added an")))
    assert [f.rule for f in review.findings] == ["action-no-verb"]
    assert "start with a verb, not 'Added'" in review.findings[0].message
    assert "'Add'" in review.findings[0].message
    assert review.errors == 1


@pytest.mark.parametrize(
    ("title", "rules"),
    [
        ("Investigate whether the consumer prefetch limits the drain", set()),
        ("Look into it", {"action-vague"}),
        ("Improve monitoring", {"action-vague"}),
        ("Better alerting", {"action-vague"}),
        ("Cap the generator reconnect back-off at 2 seconds", set()),
    ],
)
def test_vague_items_are_still_caught_and_good_ones_still_pass(title, rules):
    """The verb judgement leaves the vague-item rule as it was: a verb can still say nothing."""
    text = CLEAN.replace("Add an alert on generator buffer fill above 80 %", title)
    assert {f.rule for f in review_text("pm.md", text).findings} == rules
