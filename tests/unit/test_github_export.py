"""GitHub export against a local fake GitHub: dry run, create, idempotent re-run, back-off.

The fake server (tests/fake_github.py, shared with the sync tests) checks each request the way
GitHub's REST API would. It never talks to github.com.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from drills.cli.main import cli
from drills.errors import GitHubError, InvalidInput
from drills.export import github
from drills.postmortem.actions import derive
from drills.postmortem.context import build
from drills.postmortem.render import draft
from tests.fake_github import TOKEN, FakeGitHub

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "runs"
RUN = "20261127T062644Z-rabbitmq-outage"


@pytest.fixture
def fake():
    server = FakeGitHub()
    yield server
    server.close()


@pytest.fixture(scope="module")
def drafted(tmp_path_factory):
    target = tmp_path_factory.mktemp("drafted") / RUN
    shutil.copytree(GOLDEN / RUN, target)
    draft(target)  # the chart is slow to draw: once per module, copied per test
    return target


@pytest.fixture
def run_dir(drafted, tmp_path):
    target = tmp_path / RUN
    shutil.copytree(drafted, target)
    return target


def payloads(run_dir):
    run = build(run_dir)
    return [github.payload(run, item) for item in derive(run)]


def test_dry_run_prints_payloads_and_gh_commands(run_dir):
    """Without --create: REST payloads as JSON and gh commands, nothing sent, no token needed."""
    result = CliRunner().invoke(
        cli, ["issues", "export", str(run_dir), "--repo", "acme/ops"], env={"GITHUB_TOKEN": ""}
    )
    assert result.exit_code == 0, result.output
    requests_json, _, commands = result.output.partition("\n\n")
    requests = json.loads(requests_json)
    assert requests[0]["method"] == "POST" and requests[0]["path"] == "/repos/acme/ops/issues"
    assert requests[0]["json"]["labels"][0] == "genesis-drill"
    assert "<!-- genesis-drill-fingerprint: gd-" in requests[0]["json"]["body"]
    assert commands.startswith("gh issue create --repo acme/ops --title ")


def test_create_files_issues_and_writes_links_back(fake, run_dir):
    """--create files one issue per item with the right headers and puts URLs in the post-mortem."""
    exporter = github.GitHubExporter(github.Token(TOKEN), fake.url, sleep=lambda s: None)
    filed = exporter.export("acme/ops", RUN, payloads(run_dir))
    github.write_back(run_dir, filed)
    assert fake.problems == []
    assert [f.action for f in filed] == ["created", "created"]
    assert len(fake.issues) == 2
    assert fake.issues[0]["title"].startswith(
        "[rabbitmq-outage] Add or fix the alert rule RabbitMQDown"
    )
    text = (run_dir / "postmortem.md").read_text()
    assert (
        "[https://github.example/acme/ops/issues/1](https://github.example/acme/ops/issues/1)"
        in text
    )
    assert json.loads((run_dir / "issues.json").read_text())[filed[0].fingerprint] == filed[0].url


def test_rerun_comments_instead_of_creating_twins(fake, run_dir):
    """A second export of the same findings comments on the open issues; no twin is created."""
    exporter = github.GitHubExporter(github.Token(TOKEN), fake.url, sleep=lambda s: None)
    exporter.export("acme/ops", RUN, payloads(run_dir))
    again = exporter.export("acme/ops", "20261128T000000Z-rabbitmq-outage", payloads(run_dir))
    assert [f.action for f in again] == ["commented", "commented"]
    assert len(fake.issues) == 2
    assert (
        fake.comments[0][0] == 1
        and "Seen again in run `20261128T000000Z-rabbitmq-outage`" in fake.comments[0][1]
    )


def test_closed_issue_gets_a_new_one(fake, run_dir):
    """Only open issues count: a closed issue with the same fingerprint does not absorb a re-run."""
    exporter = github.GitHubExporter(github.Token(TOKEN), fake.url, sleep=lambda s: None)
    exporter.export("acme/ops", RUN, payloads(run_dir))
    fake.issues[0]["state"] = "closed"
    again = exporter.export("acme/ops", RUN, payloads(run_dir))
    assert [f.action for f in again] == ["created", "commented"]


@pytest.mark.parametrize("status", [403, 429])
def test_rate_limit_backs_off_with_retry_after(fake, run_dir, status):
    """403/429 with Retry-After: wait that long (serially), then the write succeeds."""
    waits: list[float] = []
    fake.rate_limit = [(status, "7"), (status, "3")]
    exporter = github.GitHubExporter(github.Token(TOKEN), fake.url, sleep=waits.append)
    filed = exporter.export("acme/ops", RUN, payloads(run_dir))
    assert waits == [7.0, 3.0]
    assert len(filed) == 2 and len(fake.issues) == 2


def test_rate_limit_gives_up_after_max_attempts(fake, run_dir):
    """A write still limited after every attempt is a GitHubError (exit 3), not a hang."""
    fake.rate_limit = [(429, "1")] * 10
    exporter = github.GitHubExporter(github.Token(TOKEN), fake.url, sleep=lambda s: None)
    with pytest.raises(GitHubError, match="still rate-limited") as caught:
        exporter.export("acme/ops", RUN, payloads(run_dir))
    assert caught.value.exit_code == 3


def test_token_never_printed(fake, run_dir):
    """Bad credentials: one error line with exit 3, and the token appears nowhere in the output."""
    result = CliRunner().invoke(
        cli,
        ["issues", "export", str(run_dir), "--create", "--repo", "acme/ops"],
        env={"GITHUB_TOKEN": "ghp_wrong_token_value", "GITHUB_API_URL": fake.url},
    )
    assert result.exit_code == 3
    assert "HTTP 401" in result.output and "ghp_wrong_token_value" not in result.output
    assert "Traceback" not in result.output
    assert repr(github.Token(TOKEN)) == "Secret('***')" and TOKEN not in str(github.Token(TOKEN))


def test_cli_create_end_to_end(fake, run_dir):
    """The CLI with --create files the issues through GITHUB_API_URL and prints their URLs."""
    result = CliRunner().invoke(
        cli,
        ["issues", "export", str(run_dir), "--create", "--repo", "acme/ops"],
        env={"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": fake.url},
    )
    assert result.exit_code == 0, result.output
    assert "created #1 https://github.example/acme/ops/issues/1" in result.output
    assert TOKEN not in result.output and fake.problems == []


def test_create_needs_token_and_repo(run_dir):
    """--create without GITHUB_TOKEN or --repo is invalid input (exit 2)."""
    runner = CliRunner()
    no_token = runner.invoke(
        cli,
        ["issues", "export", str(run_dir), "--create", "--repo", "acme/ops"],
        env={"GITHUB_TOKEN": ""},
    )
    assert no_token.exit_code == 2 and "GITHUB_TOKEN" in no_token.output
    no_repo = runner.invoke(
        cli, ["issues", "export", str(run_dir), "--create"], env={"GITHUB_TOKEN": TOKEN}
    )
    assert no_repo.exit_code == 2
    with pytest.raises(InvalidInput):
        github.parse_repo("not a repo")
