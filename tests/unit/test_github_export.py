"""GitHub export against a local fake GitHub: dry run, create, idempotent re-run, back-off.

The fake server checks each request the way GitHub's REST API would: the path under the
Enterprise-style `/api/v3` prefix, the token in Authorization, the `Accept` and
`X-GitHub-Api-Version` headers, and the payload fields. It never talks to github.com.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from click.testing import CliRunner

from drills.cli.main import cli
from drills.errors import GitHubError, InvalidInput
from drills.export import github
from drills.postmortem.actions import derive
from drills.postmortem.context import build
from drills.postmortem.render import draft

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "runs"
RUN = "20261127T062644Z-rabbitmq-outage"
TOKEN = "ghp_test_secret_0123456789"


class FakeGitHub:
    def __init__(self) -> None:
        self.issues: list[dict[str, Any]] = []
        self.comments: list[tuple[int, str]] = []
        self.requests: list[tuple[str, str]] = []
        self.problems: list[str] = []
        self.rate_limit: list[tuple[int, str]] = []  # (status, Retry-After) for the next writes
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status, body, headers=None):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _check_headers(self):
                auth = self.headers.get("Authorization", "")
                if auth not in (f"token {TOKEN}", f"Bearer {TOKEN}"):
                    fake.problems.append(f"bad Authorization: {auth!r}")
                    self._reply(401, {"message": "Bad credentials"})
                    return False
                if "application/vnd.github+json" not in self.headers.get("Accept", ""):
                    fake.problems.append(f"bad Accept: {self.headers.get('Accept')!r}")
                if not re.fullmatch(
                    r"\d{4}-\d{2}-\d{2}", self.headers.get("X-GitHub-Api-Version", "")
                ):
                    fake.problems.append("missing X-GitHub-Api-Version")
                return True

            def do_GET(self):
                url = urlparse(self.path)
                fake.requests.append(("GET", url.path))
                if not self._check_headers():
                    return
                if url.path != "/api/v3/repos/acme/ops/issues":
                    self._reply(404, {"message": "Not Found"})
                    return
                query = parse_qs(url.query)
                if query.get("state") != ["open"]:
                    fake.problems.append(f"listing without state=open: {url.query}")
                page, per_page = (
                    int(query.get("page", ["1"])[0]),
                    int(query.get("per_page", ["30"])[0]),
                )
                wanted = set(query.get("labels", [""])[0].split(",")) - {""}
                matching = [
                    i
                    for i in fake.issues
                    if i["state"] == "open" and wanted <= {label["name"] for label in i["labels"]}
                ]
                self._reply(200, matching[(page - 1) * per_page : page * per_page])

            def do_POST(self):
                url = urlparse(self.path)
                fake.requests.append(("POST", url.path))
                if not self._check_headers():
                    return
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if fake.rate_limit:
                    status, retry = fake.rate_limit.pop(0)
                    self._reply(
                        status,
                        {"message": "You have exceeded a secondary rate limit"},
                        {"Retry-After": retry},
                    )
                    return
                if url.path == "/api/v3/repos/acme/ops/issues":
                    if not isinstance(body.get("title"), str) or not body["title"]:
                        self._reply(422, {"message": "Validation Failed"})
                        return
                    if not isinstance(body.get("body"), str) or not all(
                        isinstance(x, str) for x in body.get("labels", [])
                    ):
                        self._reply(422, {"message": "Validation Failed"})
                        return
                    number = len(fake.issues) + 1
                    issue = {
                        "number": number,
                        "state": "open",
                        "title": body["title"],
                        "body": body["body"],
                        "labels": [{"name": name} for name in body.get("labels", [])],
                        "html_url": f"https://github.example/acme/ops/issues/{number}",
                    }
                    fake.issues.append(issue)
                    self._reply(201, issue)
                    return
                match = re.fullmatch(r"/api/v3/repos/acme/ops/issues/(\d+)/comments", url.path)
                if match and isinstance(body.get("body"), str):
                    fake.comments.append((int(match.group(1)), body["body"]))
                    self._reply(201, {"id": len(fake.comments), "body": body["body"]})
                    return
                self._reply(404, {"message": "Not Found"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/v3"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


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
