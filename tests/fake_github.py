"""A local fake of GitHub's REST issues API, for the export and sync tests (loopback only).

It checks each request the way GitHub's REST API would: the path under the Enterprise-style
`/api/v3` prefix, the token in Authorization, the `Accept` and `X-GitHub-Api-Version` headers, and
the payload fields; and it answers like GitHub: issues listed newest first with `state` (default
open) and `labels` filters and pagination, an issue's comments oldest first, PATCH of `state` /
`state_reason` setting `closed_at` (and clearing it on reopen, with state_reason "reopened").
Its clock (`now`) is settable, so created_at / closed_at are what a test says. It never talks to
github.com.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

TOKEN = "ghp_test_secret_0123456789"
REPO = "/api/v3/repos/acme/ops"
STATES = ("open", "closed", "all")
STATE_REASONS = ("completed", "not_planned", "reopened", None)


def stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeGitHub:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.issues: list[dict[str, Any]] = []
        self.comments: list[tuple[int, str]] = []  # (issue number, body), in order of posting
        self.comment_times: list[str] = []
        self.requests: list[tuple[str, str]] = []
        self.problems: list[str] = []
        self.rate_limit: list[tuple[int, str]] = []  # (status, Retry-After) for the next writes
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/v3"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def writes(self) -> list[tuple[str, str]]:
        return [(method, path) for method, path in self.requests if method in ("POST", "PATCH")]

    def issue(self, number: int) -> dict[str, Any]:
        return self.issues[number - 1]

    def comments_on(self, number: int) -> list[str]:
        return [body for n, body in self.comments if n == number]

    def set_state(self, number: int, state: str, reason: str | None = None) -> None:
        """What a person does in the web UI: close (as completed / not planned) or reopen."""
        with self._lock:
            self._set_state(self.issue(number), state, reason)

    def _set_state(self, issue: dict[str, Any], state: str, reason: str | None) -> None:
        issue["updated_at"] = stamp(self.now())
        if state == "closed":
            issue["state"], issue["state_reason"] = "closed", reason or "completed"
            issue["closed_at"] = stamp(self.now())
        else:
            issue["state"], issue["state_reason"], issue["closed_at"] = "open", "reopened", None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- the HTTP side ------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _start(self, method: str) -> Any:
                """Record and check the request; its path and query, or None when answered."""
                url = urlparse(self.path)
                fake.requests.append((method, url.path))
                auth = self.headers.get("Authorization", "")
                if auth not in (f"token {fake.token}", f"Bearer {fake.token}"):
                    fake.problems.append(f"bad Authorization: {auth!r}")
                    self._reply(401, {"message": "Bad credentials"})
                    return None
                if "application/vnd.github+json" not in self.headers.get("Accept", ""):
                    fake.problems.append(f"bad Accept: {self.headers.get('Accept')!r}")
                if not re.fullmatch(
                    r"\d{4}-\d{2}-\d{2}", self.headers.get("X-GitHub-Api-Version", "")
                ):
                    fake.problems.append("missing X-GitHub-Api-Version")
                return url

            def _body(self) -> Any:
                return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

            def _limited(self) -> bool:
                if not fake.rate_limit:
                    return False
                status, retry = fake.rate_limit.pop(0)
                self._reply(
                    status,
                    {"message": "You have exceeded a secondary rate limit"},
                    {"Retry-After": retry},
                )
                return True

            def _number(self, path: str, tail: str = "") -> dict[str, Any] | None:
                match = re.fullmatch(rf"{REPO}/issues/(\d+){tail}", path)
                if not match or not 1 <= int(match.group(1)) <= len(fake.issues):
                    return None
                return fake.issue(int(match.group(1)))

            def do_GET(self) -> None:
                url = self._start("GET")
                if url is None:
                    return
                query = parse_qs(url.query)
                page = int(query.get("page", ["1"])[0])
                per_page = int(query.get("per_page", ["30"])[0])
                with fake._lock:
                    if url.path == f"{REPO}/issues":
                        state = query.get("state", ["open"])[0]
                        if state not in STATES:
                            fake.problems.append(f"listing with state={state!r}")
                        wanted = set(query.get("labels", [""])[0].split(",")) - {""}
                        matching = [
                            i
                            for i in reversed(fake.issues)  # newest first, as GitHub sorts
                            if state in ("all", i["state"])
                            and wanted <= {label["name"] for label in i["labels"]}
                        ]
                        self._reply(200, matching[(page - 1) * per_page : page * per_page])
                        return
                    issue = self._number(url.path, "/comments")
                    if issue is not None:
                        listed = [
                            {"id": k, "body": body, "created_at": at}
                            for k, ((n, body), at) in enumerate(
                                zip(fake.comments, fake.comment_times, strict=True), 1
                            )
                            if n == issue["number"]
                        ]
                        self._reply(200, listed[(page - 1) * per_page : page * per_page])
                        return
                    issue = self._number(url.path)
                    if issue is not None:
                        self._reply(200, issue)
                        return
                self._reply(404, {"message": "Not Found"})

            def do_POST(self) -> None:
                url = self._start("POST")
                if url is None:
                    return
                body = self._body()
                if self._limited():
                    return
                with fake._lock:
                    if url.path == f"{REPO}/issues":
                        self._create(body)
                        return
                    issue = self._number(url.path, "/comments")
                    if issue is not None and isinstance(body.get("body"), str):
                        fake.comments.append((issue["number"], body["body"]))
                        fake.comment_times.append(stamp(fake.now()))
                        issue["comments"] += 1
                        self._reply(201, {"id": len(fake.comments), "body": body["body"]})
                        return
                self._reply(404, {"message": "Not Found"})

            def _create(self, body: dict[str, Any]) -> None:
                if not isinstance(body.get("title"), str) or not body["title"]:
                    self._reply(422, {"message": "Validation Failed"})
                    return
                if not isinstance(body.get("body"), str) or not all(
                    isinstance(x, str) for x in body.get("labels", [])
                ):
                    self._reply(422, {"message": "Validation Failed"})
                    return
                number = len(fake.issues) + 1
                now = stamp(fake.now())
                issue = {
                    "number": number,
                    "state": "open",
                    "state_reason": None,
                    "title": body["title"],
                    "body": body["body"],
                    "labels": [{"name": name} for name in body.get("labels", [])],
                    "html_url": f"https://github.example/acme/ops/issues/{number}",
                    "created_at": now,
                    "updated_at": now,
                    "closed_at": None,
                    "comments": 0,
                }
                fake.issues.append(issue)
                self._reply(201, issue)

            def do_PATCH(self) -> None:
                url = self._start("PATCH")
                if url is None:
                    return
                body = self._body()
                if self._limited():
                    return
                with fake._lock:
                    issue = self._number(url.path)
                    if issue is None:
                        self._reply(404, {"message": "Not Found"})
                        return
                    state, reason = body.get("state"), body.get("state_reason")
                    if state not in ("open", "closed") or reason not in STATE_REASONS:
                        fake.problems.append(f"bad PATCH body: {body!r}")
                        self._reply(422, {"message": "Validation Failed"})
                        return
                    fake._set_state(issue, state, reason)
                    self._reply(200, issue)

        return Handler
