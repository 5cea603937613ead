"""The review over a corpus, through the CLI: finished post-mortems pass, flawed ones fail.

Each file of tests/golden/postmortems/ is reviewed on its own by the `genesis-drill postmortem
review FILE` command, so the exit code is the file's own. Those runs call the click command in
this process (a fresh process per file costs about a second, most of it loading the English
lexicon, and 20 of them made this the slowest unit test); two more runs go through this
virtualenv's console script in processes of their own, over whole folders, and must agree.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from drills.cli.main import cli
from tests import REPO_ROOT

CORPUS = REPO_ROOT / "tests" / "golden" / "postmortems"
DRAFTS = sorted((REPO_ROOT / "tests" / "golden").glob("*.postmortem.md"))

# flawed file → (the one error rule it must fire, words its message must contain)
FLAWED = {
    "action-inflected-verb.md": (
        "action-no-verb",
        "start with a verb, not 'Alerting' (a form of the verb 'alert': write the imperative "
        "'Alert')",
    ),
    "action-starts-with-a-pronoun.md": ("action-no-verb", "not 'We' (a pronoun)"),
    "action-vague.md": ("action-vague", "'Improve monitoring of backups'"),
    "action-no-owner.md": ("action-no-owner", "'Check the body size before parsing"),
    "blame-person.md": ("blame-person", "'caused by Alice'"),
    "blame-language.md": ("blame-language", "'should have'"),
    "placeholder-left.md": ("placeholder", "'TBD' left in a final version"),
    "timeline-out-of-order.md": (
        "timeline-order",
        "2026-12-01 10:12:09 comes after 2026-12-01 10:12:11",
    ),
    "timeline-without-utc.md": ("timeline-no-utc", "the timeline does not say UTC"),
    "impact-not-quantified.md": ("impact-not-quantified", "impact states no number"),
    "missing-trigger.md": ("missing-section", "no 'Trigger' section"),
    "still-a-draft.md": ("draft-status", "status is draft"),
}


def review(*args: str | Path) -> tuple[int, list[dict[str, object]]]:
    """(exit code, findings of every file) of `postmortem review --format json ARGS`."""
    argv = ["postmortem", "review", "--format", "json", *map(str, args)]
    result = CliRunner().invoke(cli, argv)
    findings = [f for file in json.loads(result.output)["files"] for f in file["findings"]]
    return result.exit_code, findings


def errors(findings: list[dict[str, object]]) -> set[object]:
    return {f["rule"] for f in findings if f["severity"] == "error"}


def console_script(*args: str | Path) -> tuple[int, dict[str, list[dict[str, object]]]]:
    """(exit code, path → findings) of the installed `genesis-drill` in a process of its own."""
    script = Path(sys.executable).parent / "genesis-drill"
    argv = [str(script), "postmortem", "review", "--format", "json", *map(str, args)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    files = json.loads(done.stdout)["files"]
    return done.returncode, {file["path"]: file["findings"] for file in files}


def _names(folder: str) -> list[str]:
    return sorted(p.name for p in (CORPUS / folder).glob("*.md"))


def test_the_corpus_has_six_good_and_six_flawed_post_mortems():
    """The corpus holds what the issue asks for: at least 6 of each, each flaw with its test."""
    assert len(_names("good")) >= 6
    assert _names("flawed") == sorted(FLAWED)
    drills = {
        line.split(":", 1)[1].strip().strip('"')
        for name in _names("good")
        for line in (CORPUS / "good" / name).read_text().splitlines()
        if line.startswith("drill:")
    }
    assert len(drills) >= 6  # a different drill each


@pytest.mark.parametrize("name", _names("good"))
def test_a_finished_post_mortem_passes_with_no_finding(name):
    """A well-written post-mortem exits 0 with 0 errors and 0 warnings."""
    assert review(CORPUS / "good" / name) == (0, [])


@pytest.mark.parametrize("name", sorted(FLAWED))
def test_a_flawed_post_mortem_fails_with_its_error(name):
    """Each flawed post-mortem exits 1 and reports exactly its one error, with its message."""
    rule, words = FLAWED[name]
    code, findings = review(CORPUS / "flawed" / name)
    assert code == 1, findings
    assert errors(findings) == {rule}, findings
    assert any(words in str(f["message"]) for f in findings), findings


def test_an_unsure_first_word_warns_and_passes():
    """An action item starting with a noun is a warning naming the word: exit 0."""
    code, findings = review(CORPUS / "warned" / "noun-first-action.md")
    assert code == 0, findings
    assert [(f["rule"], f["severity"]) for f in findings] == [("action-verb-unsure", "warning")]
    assert "is 'Runbook' a verb?" in str(findings[0]["message"])


@pytest.mark.parametrize("path", DRAFTS, ids=[p.name for p in DRAFTS])
def test_the_harness_drafts_pass_with_allow_draft(path):
    """The drafts the harness renders for the recorded runs pass --allow-draft with no finding."""
    assert review("--allow-draft", path) == (0, [])


def test_the_console_script_agrees_in_a_process_of_its_own():
    """The installed `genesis-drill` passes the good folder (exit 0) and fails the flawed one
    (exit 1) with each file's own error: the lexicon loads outside pytest's process too."""
    code, good = console_script(*sorted((CORPUS / "good").glob("*.md")))
    assert code == 0
    assert len(good) >= 6 and not any(good.values())
    code, flawed = console_script(*sorted((CORPUS / "flawed").glob("*.md")))
    assert code == 1
    assert {Path(path).name: errors(found) for path, found in flawed.items()} == {
        name: {rule} for name, (rule, _) in FLAWED.items()
    }
