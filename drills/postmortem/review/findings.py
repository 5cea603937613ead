"""What a review reports: the rule table, one finding per broken rule, a file's review.

Every check module reports through `finding`, so a rule id that is not in `RULES` fails at once
instead of reaching a CI annotation with no explanation. Only `error` findings fail a review
(exit 1); `warning`s are advice.
"""

from __future__ import annotations

from dataclasses import dataclass

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    explanation: str


RULES = {
    rule.id: rule
    for rule in (
        Rule("missing-section", ERROR, "a required section is absent"),
        Rule("empty-section", ERROR, "a required section has no content"),
        Rule("impact-not-quantified", ERROR, "impact must be stated in numbers"),
        Rule("impact-vague", WARNING, "vague quantities ('some users') hide the real impact"),
        Rule("timeline-no-utc", ERROR, "the timeline must say its times are UTC"),
        Rule("timeline-order", ERROR, "timeline rows must be in time order"),
        Rule("action-no-type", ERROR, "an action item needs a type (investigate ... process)"),
        Rule("action-no-priority", ERROR, "an action item needs a priority P0-P2"),
        Rule("action-no-owner", ERROR, "an action item needs an owner"),
        Rule("action-no-tracking", ERROR, "an action item needs a tracking link"),
        Rule("action-no-verb", ERROR, "an action item starts with a verb"),
        Rule(
            "action-verb-unsure",
            WARNING,
            "an action item's first word may not be a verb (a noun, or not in the lexicon)",
        ),
        Rule("action-vague", ERROR, "vague action items ('improve monitoring') never get done"),
        Rule("placeholder", ERROR, "template placeholders (TODO, TBD, {{ }}) are left"),
        Rule("front-matter", ERROR, "the YAML front matter must be a valid mapping"),
        Rule("draft-status", ERROR, "the post-mortem is still a draft"),
        Rule("blame-language", ERROR, "blameless post-mortems describe systems, not fault"),
        Rule("blame-person", ERROR, "a named person is presented as the cause"),
        Rule(
            "blame-person-unsure",
            WARNING,
            "an ordinary word ('Monitoring missed ...') may be a system or a person's name",
        ),
    )
}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    rule: str
    severity: str
    message: str


def finding(path: str, line: int, rule: str, message: str) -> Finding:
    """A finding of `rule` at `path:line`, with the rule's severity."""
    return Finding(path, line, rule, RULES[rule].severity, message)


@dataclass(frozen=True)
class Review:
    path: str
    status: str
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == ERROR)
