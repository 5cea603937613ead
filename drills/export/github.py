"""The only code that talks to GitHub: action items → issues, idempotently, through githubkit.

Why githubkit: it is maintained, typed, built on httpx (already a dependency), accepts a custom base
URL (GitHub Enterprise via `GITHUB_API_URL`) and sends GitHub's `Accept` and
`X-GitHub-Api-Version` headers itself. PyGithub was the alternative; it cannot add the API version
header and its retry policy is not injectable. githubkit's own retry is switched off: back-off on
403/429 with `Retry-After` is done here, serially, with an injectable sleep so tests need not wait.

Idempotency: every issue body carries the action item's fingerprint; before creating anything, the
open issues with the `genesis-drill` label are listed, and an item whose fingerprint is already open
gets a comment ("seen again in run X") instead of a twin. (Listing is used rather than the search
API, which is eventually consistent and would miss an issue created seconds earlier.)

`issues sync` (drills.export.sync) reads the same issues in every state, their comments, and
comments, closes and reopens through the same serial, backed-off `_call`.

The token (`GITHUB_TOKEN`) lives in a `Secret` (alias `Token`) that never prints, and every error
message is redacted before it leaves this module.
"""

from __future__ import annotations

import functools
import json
import re
import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from drills.errors import GitHubError, InvalidInput
from drills.export.tracked import FINGERPRINT_MARK, FINGERPRINT_RE, TrackedIssue
from drills.postmortem.actions import UNFILED, ActionItem
from drills.postmortem.context import RunContext
from drills.postmortem.render import ISSUES_FILE, load_tracking
from drills.secret import Secret

LABEL = "genesis-drill"
DEFAULT_API_URL = "https://api.github.com"
MAX_ATTEMPTS = 5
MAX_WAIT_S = 120.0
PER_PAGE = 100
T = TypeVar("T")


# The GitHub token is a `Secret` like every other credential (the name is kept for callers).
Token = Secret


def token_from_env(env: Mapping[str, str], needed_by: str = "--create") -> Secret:
    value = env.get("GITHUB_TOKEN", "").strip()
    if not value:
        raise InvalidInput(
            f"{needed_by} needs a token in GITHUB_TOKEN (it is never printed or saved)"
        )
    return Secret(value)


def parse_repo(value: str) -> tuple[str, str]:
    match = re.fullmatch(r"([A-Za-z0-9-]+)/([A-Za-z0-9._-]+)", value)
    if not match:
        raise InvalidInput(f"--repo {value!r}: expected OWNER/NAME")
    return match.group(1), match.group(2)


@dataclass(frozen=True)
class IssuePayload:
    """One issue as GitHub's REST API takes it (POST /repos/{owner}/{repo}/issues)."""

    fingerprint: str
    title: str
    body: str
    labels: tuple[str, ...]

    def json(self) -> dict[str, Any]:
        return {"title": self.title, "body": self.body, "labels": list(self.labels)}


def payload(run: RunContext, item: ActionItem) -> IssuePayload:
    body = "\n".join(
        [
            f"**{item.priority} · {item.type}** — found by drill `{run.drill}` in run "
            f"`{run.run_id}` (outcome: {run.outcome}).",
            "",
            f"**Evidence:** {item.evidence}",
            "",
            f"**Done when:** {item.done_when}",
            "",
            f"**Owner:** {item.owner} · rule `{item.rule}` · fingerprint `{item.fingerprint}`",
            "",
            f"Post-mortem: `{run.run_dir / 'postmortem.md'}`",
            "",
            f"<!-- {FINGERPRINT_MARK}: {item.fingerprint} -->",
        ]
    )
    labels = (LABEL, f"type:{item.type}", f"priority:{item.priority}", f"drill:{run.drill}")
    return IssuePayload(item.fingerprint, f"[{run.drill}] {item.title}", body, labels)


def gh_command(repo: str, issue: IssuePayload) -> str:
    """The equivalent `gh issue create` command line."""
    argv = ["gh", "issue", "create", "--repo", repo, "--title", issue.title, "--body", issue.body]
    for label in issue.labels:
        argv += ["--label", label]
    return shlex.join(argv)


def dry_run(repo: str, issues: Sequence[IssuePayload]) -> str:
    """What --create would send: REST payloads as JSON, then the gh commands."""
    requests = [
        {"method": "POST", "path": f"/repos/{repo}/issues", "json": issue.json()}
        for issue in issues
    ]
    commands = [gh_command(repo, issue) for issue in issues]
    return json.dumps(requests, indent=2) + "\n\n" + "\n\n".join(commands)


@dataclass(frozen=True)
class Filed:
    fingerprint: str
    number: int
    url: str
    action: str  # "created" or "commented"


class GitHubExporter:
    """Files issues into one repository, serially, backing off on rate limits."""

    def __init__(
        self,
        token: Secret,
        api_url: str = DEFAULT_API_URL,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 30.0,
    ) -> None:
        from githubkit import GitHub

        self._token = token
        self._sleep = sleep
        self.waits: list[float] = []
        self._gh = GitHub(
            token.reveal(),
            base_url=api_url.rstrip("/") + "/",
            user_agent="genesis-drill",
            timeout=timeout,
            auto_retry=False,  # back-off is ours (serial, bounded, testable)
            http_cache=False,
        )

    def _call(self, what: str, func: Callable[[], T]) -> T:
        from githubkit.exception import RateLimitExceeded, RequestError, RequestFailed

        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return func()
            except RateLimitExceeded as exc:
                wait = _seconds(exc.retry_after)
                status = exc.response.status_code
            except RequestFailed as exc:
                status = exc.response.status_code
                if status not in (403, 429):
                    raise GitHubError(
                        self._token.redact(f"GitHub {what}: HTTP {status}: {_message(exc)}")
                    ) from None
                wait = float(2**attempt)
            except RequestError as exc:
                raise GitHubError(
                    self._token.redact(f"GitHub {what}: {type(exc.exc).__name__}: {exc.exc}")
                ) from None
            if attempt == MAX_ATTEMPTS:
                break
            wait = min(max(wait, 1.0), MAX_WAIT_S)
            self.waits.append(wait)
            self._sleep(wait)
        raise GitHubError(
            f"GitHub {what}: still rate-limited (HTTP {status}) after {attempt} tries"
        )

    def _pages(self, what: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> list[Any]:
        """Every item of a paginated list (pages of PER_PAGE until a short one)."""
        items: list[Any] = []
        page = 1
        while True:
            response = self._call(
                what, functools.partial(method, *args, per_page=PER_PAGE, page=page, **kwargs)
            )
            batch: Any = response.json()
            if not isinstance(batch, list):
                raise GitHubError(f"GitHub {what}: the answer is not a list")
            items += batch
            if len(batch) < PER_PAGE:
                return items
            page += 1

    def open_fingerprints(self, owner: str, repo: str) -> dict[str, tuple[int, str]]:
        """Fingerprint → (number, url) of the open genesis-drill issues of the repository."""
        found: dict[str, tuple[int, str]] = {}
        issues = self._pages(
            "list open issues",
            self._gh.rest.issues.list_for_repo,
            owner,
            repo,
            state="open",
            labels=LABEL,
        )
        for issue in issues:
            if not isinstance(issue, dict) or "pull_request" in issue:
                continue
            match = FINGERPRINT_RE.search(str(issue.get("body") or ""))
            if match:
                found.setdefault(match.group(1), (int(issue["number"]), str(issue["html_url"])))
        return found

    def tracked_issues(self, owner: str, repo: str) -> list[TrackedIssue]:
        """Every genesis-drill issue of the repository, open and closed (state=all)."""
        issues = self._pages(
            "list issues",
            self._gh.rest.issues.list_for_repo,
            owner,
            repo,
            state="all",
            labels=LABEL,
        )
        return [t for t in map(TrackedIssue.from_json, issues) if t is not None]

    def comment_bodies(self, owner: str, repo: str, number: int) -> list[str]:
        """The bodies of an issue's comments, oldest first."""
        comments = self._pages(
            f"list comments of #{number}",
            self._gh.rest.issues.list_comments,
            owner,
            repo,
            number,
        )
        return [str(c.get("body") or "") for c in comments if isinstance(c, dict)]

    def comment(self, owner: str, repo: str, number: int, body: str) -> None:
        self._call(
            f"comment on #{number}",
            functools.partial(self._gh.rest.issues.create_comment, owner, repo, number, body=body),
        )

    def set_state(
        self, owner: str, repo: str, number: int, state: str, state_reason: str
    ) -> TrackedIssue | None:
        """Close (state_reason "completed") or reopen ("reopened") an issue; its new form."""
        response = self._call(
            f"{'close' if state == 'closed' else 'reopen'} #{number}",
            functools.partial(
                self._gh.rest.issues.update,
                owner,
                repo,
                number,
                state=state,
                state_reason=state_reason,
            ),
        )
        return TrackedIssue.from_json(response.json())

    def export(self, repo: str, run_id: str, issues: Sequence[IssuePayload]) -> list[Filed]:
        owner, name = parse_repo(repo)
        existing = self.open_fingerprints(owner, name)
        filed = []
        for issue in issues:  # serial on purpose: GitHub's secondary limits punish bursts
            if issue.fingerprint in existing:
                number, url = existing[issue.fingerprint]
                self._call(
                    f"comment on #{number}",
                    functools.partial(
                        self._gh.rest.issues.create_comment,
                        owner,
                        name,
                        number,
                        body=f"Seen again in run `{run_id}` (fingerprint `{issue.fingerprint}`).",
                    ),
                )
                filed.append(Filed(issue.fingerprint, number, url, "commented"))
                continue
            created = self._call(
                "create issue",
                functools.partial(
                    self._gh.rest.issues.create,
                    owner,
                    name,
                    title=issue.title,
                    body=issue.body,
                    labels=list(issue.labels),
                ),
            )
            data: Any = created.json()
            number, url = int(data["number"]), str(data["html_url"])
            existing[issue.fingerprint] = (number, url)
            filed.append(Filed(issue.fingerprint, number, url, "created"))
        return filed


def _seconds(value: timedelta) -> float:
    return max(0.0, value.total_seconds())


def _message(exc: Any) -> str:
    try:
        data = exc.response.json()
    except ValueError:
        return str(exc.response.text)[:200]
    return str(data.get("message", ""))[:200] if isinstance(data, dict) else ""


def write_back(run_dir: Path, filed: Sequence[Filed]) -> None:
    """Record the issue URLs (issues.json) and put them into the post-mortem's action table."""
    tracking = load_tracking(run_dir) | {f.fingerprint: f.url for f in filed}
    (run_dir / ISSUES_FILE).write_text(json.dumps(tracking, indent=2) + "\n", encoding="utf-8")
    postmortem = run_dir / "postmortem.md"
    if not postmortem.exists():
        return
    lines = postmortem.read_text(encoding="utf-8").splitlines(keepends=True)
    for index, line in enumerate(lines):
        for fingerprint, url in tracking.items():
            if f"`{fingerprint}`" in line and f"| {UNFILED} |" in line:
                lines[index] = line.replace(f"| {UNFILED} |", f"| [{url}]({url}) |", 1)
    postmortem.write_text("".join(lines), encoding="utf-8")
