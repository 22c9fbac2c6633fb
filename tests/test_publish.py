"""`canary-lint comment` against a local server implementing the GitHub REST endpoints it uses.

The server follows GitHub's documented behaviour: `GET /user` (401 for a bad token, 403 "Resource not
accessible by integration" for an Actions installation token), `GET /repos/{o}/{r}/pulls/{n}`, issue comments
listed with `per_page`/`page` and a `Link` header, `POST` to create and `PATCH /repos/{o}/{r}/issues/comments/{id}`
(only by the comment's author). Faults (5xx, secondary rate limits) are injected per request.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from canary_lint.formatters import json as json_format
from canary_lint.model import Finding, Report, Severity
from canary_lint.publish.sticky import marker

TOKEN = "ghp_s3cr3tTOKENvalue0123456789"
BOT_TOKEN = "ghs_installationTOKEN987654321"
REPO = "acme/shop"


class FakeGitHub:
    def __init__(self):
        self.users = {TOKEN: "release-bot", "ghp_other": "someone-else"}
        self.installation_tokens = {BOT_TOKEN}
        self.pulls = {7}
        self.comments: list[dict] = []  # all on PR 7
        self.next_id = 1000
        self.faults: list[tuple[str, str, int, dict, dict]] = []  # (method, path prefix, status, headers, body)
        self.forbidden_writes: set[str] = set()  # tokens that may read but not write
        self.log: list[tuple[str, str]] = []
        self.seen_auth: list[str] = []
        self.lock = threading.Lock()

    def add_comment(self, login: str, body: str) -> dict:
        self.next_id += 1
        c = {"id": self.next_id, "body": body, "user": {"login": login, "type": "User"},
             "html_url": f"https://github.example/{REPO}/pull/7#issuecomment-{self.next_id}"}
        self.comments.append(c)
        return c

    def start(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, body, headers=None):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method):
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                payload = json.loads(self.rfile.read(length)) if length else None
                with fake.lock:
                    fake.log.append((method, url.path))
                    fake.seen_auth.append(self.headers.get("Authorization", ""))
                    for i, (m, prefix, status, headers, body) in enumerate(fake.faults):
                        if m == method and url.path.startswith(prefix):
                            del fake.faults[i]
                            return self._send(status, body, headers)
                    auth = self.headers.get("Authorization", "")
                    token = auth.removeprefix("Bearer ").strip()
                    login = fake.users.get(token)
                    if token in fake.installation_tokens:
                        login = "github-actions[bot]"
                    if login is None:
                        return self._send(401, {"message": "Bad credentials",
                                                "documentation_url": "https://docs.github.com/rest"})
                    if url.path == "/user" and method == "GET":
                        if token in fake.installation_tokens:
                            return self._send(403, {"message": "Resource not accessible by integration"})
                        return self._send(200, {"login": login, "id": 1, "type": "User"})
                    parts = url.path.strip("/").split("/")
                    if parts[:3] != ["repos", *REPO.split("/")]:
                        return self._send(404, {"message": "Not Found"})
                    rest = parts[3:]
                    if rest[:1] == ["pulls"] and method == "GET":
                        if int(rest[1]) in fake.pulls:
                            return self._send(200, {"number": int(rest[1]), "state": "open"})
                        return self._send(404, {"message": "Not Found"})
                    if rest[:1] == ["issues"] and len(rest) == 3 and rest[2] == "comments":
                        if int(rest[1]) not in fake.pulls:
                            return self._send(404, {"message": "Not Found"})
                        if method == "GET":
                            q = parse_qs(url.query)
                            per_page = min(int(q.get("per_page", ["30"])[0]), 100)
                            page = int(q.get("page", ["1"])[0])
                            chunk = fake.comments[(page - 1) * per_page: page * per_page]
                            headers = {}
                            last = max(1, -(-len(fake.comments) // per_page))
                            host = f"http://{self.headers['Host']}"
                            links = []
                            if page < last:
                                links.append(f'<{host}{url.path}?per_page={per_page}&page={page + 1}>; rel="next"')
                                links.append(f'<{host}{url.path}?per_page={per_page}&page={last}>; rel="last"')
                            if links:
                                headers["Link"] = ", ".join(links)
                            return self._send(200, chunk, headers)
                        if method == "POST":
                            if token in fake.forbidden_writes:
                                return self._send(403, {"message": "Resource not accessible by personal access token"})
                            c = fake.add_comment(login, payload["body"])
                            return self._send(201, c)
                    if rest[:2] == ["issues", "comments"] and method == "PATCH":
                        c = next((c for c in fake.comments if c["id"] == int(rest[2])), None)
                        if c is None:
                            return self._send(404, {"message": "Not Found"})
                        if c["user"]["login"] != login:
                            return self._send(403, {"message": "You cannot edit someone else's comment"})
                        c["body"] = payload["body"]
                        return self._send(200, c)
                    return self._send(404, {"message": "Not Found"})

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

            def do_PATCH(self):
                self._handle("PATCH")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def ours(self, login="release-bot"):
        return [c for c in self.comments if c["user"]["login"] == login and marker() in c["body"]]


@pytest.fixture()
def github():
    fake = FakeGitHub().start()
    yield fake
    fake.stop()


def _report(errors: int = 1, warnings: int = 0) -> Report:
    findings = []
    for i in range(errors):
        findings.append(Finding("CL001", "file-not-checked", "meta", Severity.ERROR, f"app/broken_{i}.py", 3, 1, 3, 2,
                                f"invalid syntax in app/broken_{i}.py", fix="fix the syntax error",
                                subject=f"app/broken_{i}.py"))
    for i in range(warnings):
        findings.append(Finding("CL002", "unused-suppression", "meta", Severity.WARNING, "app/x.py", 10 + i, 1, 10 + i,
                                5, "unused suppression for `CL001`", subject=f"{i}"))
    return Report(findings=tuple(findings), files=4, base="origin/main", commit="c" * 40, tool_version="0.1.0")


def _write(tmp_path: Path, report: Report, name="canary-lint.json") -> Path:
    p = tmp_path / name
    p.write_text(json_format.render(report), encoding="utf-8")
    return p


def run_comment(fake: FakeGitHub, *args: str, token: str | None = TOKEN, env_extra: dict | None = None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GH_", "CI_"))}
    env.update({"CANARY_LINT_HTTP_BACKOFF": "0.01", "CANARY_LINT_HTTP_MAX_WAIT": "0.05"})
    if token is not None:
        env["GITHUB_TOKEN"] = token
    env.update(env_extra or {})
    proc = subprocess.run([sys.executable, "-m", "canary_lint", "comment", "--api-url", fake.url, *args],
                          capture_output=True, text=True, env=env, timeout=60)
    for secret in (TOKEN, BOT_TOKEN, "ghp_other"):
        assert secret not in proc.stdout and secret not in proc.stderr, "the token must never be printed"
    return proc


def test_first_run_creates_second_updates_the_same_comment(github, tmp_path):
    first = _write(tmp_path, _report(errors=2))
    proc = run_comment(github, "--report", str(first), "--repo", REPO, "--pr", "7")
    assert proc.returncode == 0, proc.stderr
    assert "created" in proc.stderr
    [mine] = github.ours()
    assert mine["body"].startswith(marker())
    assert "canary gate: blocked by 2 errors" in mine["body"]

    second = _write(tmp_path, _report(errors=0, warnings=1), "second.json")
    proc = run_comment(github, "--report", str(second), "--repo", REPO, "--pr", "7")
    assert proc.returncode == 0, proc.stderr
    assert "updated" in proc.stderr
    [again] = github.ours()
    assert again["id"] == mine["id"]
    assert "canary gate: passed with 1 warning" in again["body"]
    proc = run_comment(github, "--report", str(second), "--repo", REPO, "--pr", "7", "--fail-on", "warning")
    assert proc.returncode == 0 and "canary gate: blocked by 1 warning" in github.ours()[0]["body"]
    proc = run_comment(github, "--report", str(second), "--repo", REPO, "--pr", "7")
    assert proc.returncode == 0 and "canary gate: passed with 1 warning" in github.ours()[0]["body"]
    assert [m for m, _ in github.log].count("POST") == 1
    assert all(auth == f"Bearer {TOKEN}" for auth in github.seen_auth)

    proc = run_comment(github, "--report", str(second), "--repo", REPO, "--pr", "7")
    assert proc.returncode == 0 and "unchanged" in proc.stderr
    assert [m for m, _ in github.log].count("PATCH") == 3


def test_finds_its_comment_on_a_later_page(github, tmp_path):
    for i in range(230):
        github.add_comment("someone-else", f"comment {i}")
    report = _write(tmp_path, _report())
    assert run_comment(github, "--report", str(report), "--repo", REPO, "--pr", "7").returncode == 0
    for i in range(40):
        github.add_comment("someone-else", f"later {i}")
    proc = run_comment(github, "--report", str(report), "--repo", REPO, "--pr", "7")
    assert proc.returncode == 0 and "unchanged" in proc.stderr, proc.stderr
    pages = [p for m, p in github.log if m == "GET" and p.endswith("/comments")]
    assert len(pages) >= 1 + 3  # first run: 3 pages (230 comments), second: followed `next` to page 3
    assert len(github.ours()) == 1


def test_a_foreign_comment_with_the_same_text_is_never_touched(github, tmp_path):
    report = _write(tmp_path, _report())
    assert run_comment(github, "--report", str(report), "--repo", REPO, "--pr", "7").returncode == 0
    [mine] = github.ours()
    # Someone quotes our comment verbatim, marker included, before we run again.
    foreign = github.add_comment("someone-else", mine["body"])
    quoted = foreign["body"]
    github.comments.remove(foreign)
    github.comments.insert(0, foreign)
    updated = _write(tmp_path, _report(errors=3), "again.json")
    proc = run_comment(github, "--report", str(updated), "--repo", REPO, "--pr", "7")
    assert proc.returncode == 0, proc.stderr
    assert foreign["body"] == quoted
    assert ("PATCH", f"/repos/{REPO}/issues/comments/{foreign['id']}") not in github.log
    assert "blocked by 3 errors" not in foreign["body"]
    assert "blocked by 3 errors" in github.ours()[0]["body"]


def test_foreign_comment_first_means_we_create_our_own(github, tmp_path):
    report = _write(tmp_path, _report())
    body_we_would_post = marker() + "\n" + "anything"
    github.add_comment("someone-else", body_we_would_post)
    proc = run_comment(github, "--report", str(report), "--repo", REPO, "--pr", "7")
    assert proc.returncode == 0 and "created" in proc.stderr
    assert github.comments[0]["body"] == body_we_would_post
    assert not any(m == "PATCH" for m, _ in github.log)


def test_tags_keep_one_comment_each(github, tmp_path):
    report = _write(tmp_path, _report())
    for tag in ("api", "db", "api"):
        assert run_comment(github, "--report", str(report), "--repo", REPO, "--pr", "7", "--tag", tag).returncode == 0
    assert len(github.comments) == 2
    assert {marker("api"), marker("db")} == {c["body"].splitlines()[0] for c in github.comments}


def test_bad_token_is_exit_2_with_a_clear_message(github, tmp_path):
    report = _write(tmp_path, _report())
    proc = run_comment(github, "--report", str(report), "--repo", REPO, "--pr", "7", token="ghp_not_a_real_one")
    assert proc.returncode == 2
    assert "401" in proc.stderr and "GITHUB_TOKEN" in proc.stderr
    assert "ghp_not_a_real_one" not in proc.stderr
    assert not github.comments


def test_token_without_write_permission_is_exit_2(github, tmp_path):
    github.forbidden_writes.add(TOKEN)
    report = _write(tmp_path, _report())
    proc = run_comment(github, "--report", str(report), "--repo", REPO, "--pr", "7")
    assert proc.returncode == 2
    assert "403" in proc.stderr and "pull-requests: write" in proc.stderr


def test_pull_request_that_does_not_exist_is_exit_2(github, tmp_path):
    report = _write(tmp_path, _report())
    proc = run_comment(github, "--report", str(report), "--repo", REPO, "--pr", "999")
    assert proc.returncode == 2
    assert "pull request #999 does not exist in acme/shop" in proc.stderr
    proc = run_comment(github, "--report", str(report), "--repo", "acme/nope", "--pr", "7")
    assert proc.returncode == 2 and "does not exist in acme/nope" in proc.stderr


def test_server_errors_and_secondary_rate_limits_are_retried(github, tmp_path):
    github.faults += [
        ("GET", "/user", 502, {}, {"message": "Bad Gateway"}),
        ("GET", f"/repos/{REPO}/issues/7/comments", 403, {"Retry-After": "30"},
         {"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}),
        ("POST", f"/repos/{REPO}/issues/7/comments", 503, {}, {"message": "Service Unavailable"}),
        ("POST", f"/repos/{REPO}/issues/7/comments", 429, {"Retry-After": "1"}, {"message": "Too Many Requests"}),
    ]
    report = _write(tmp_path, _report())
    proc = run_comment(github, "--report", str(report), "--repo", REPO, "--pr", "7")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("retrying in") == 4
    assert "secondary rate limit" in proc.stderr
    assert len(github.ours()) == 1
    assert [m for m, _ in github.log].count("POST") == 3  # two refused, one created


def test_persistent_server_error_gives_up_with_exit_2(github, tmp_path):
    github.faults += [("GET", f"/repos/{REPO}/pulls/7", 500, {}, {"message": "Internal Server Error"})] * 5
    report = _write(tmp_path, _report())
    proc = run_comment(github, "--report", str(report), "--repo", REPO, "--pr", "7")
    assert proc.returncode == 2
    assert "after 5 attempts" in proc.stderr and "500" in proc.stderr
    assert not github.comments


def test_actions_installation_token_comments_as_the_bot(github, tmp_path):
    report = _write(tmp_path, _report())
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 7}}))
    env = {"GITHUB_REPOSITORY": REPO, "GITHUB_EVENT_PATH": str(event), "GITHUB_SERVER_URL": "https://github.com"}
    github.add_comment("release-bot", marker() + "\nold report by a person's token")
    for _ in range(2):
        proc = run_comment(github, "--report", str(report), token=BOT_TOKEN, env_extra=env)
        assert proc.returncode == 0, proc.stderr
    bot = github.ours("github-actions[bot]")
    assert len(bot) == 1
    assert "old report" in github.comments[0]["body"]  # another author's comment stays as it was
    assert f"https://github.com/{REPO}/blob/{'c' * 40}/app/broken_0.py#L3" in bot[0]["body"]


@pytest.mark.parametrize("content, expected", [
    ("not json at all", "is not JSON"),
    ('{"version": "2.1.0", "runs": []}', "is not a canary-lint JSON report"),
    ('{"schema": 2, "tool": {"name": "canary-lint"}, "summary": {}, "findings": []}', "has report schema 2"),
])
def test_a_report_that_is_not_ours_is_exit_2(github, tmp_path, content, expected):
    bad = tmp_path / "report.json"
    bad.write_text(content)
    proc = run_comment(github, "--report", str(bad), "--repo", REPO, "--pr", "7")
    assert proc.returncode == 2
    assert expected in proc.stderr
    assert not github.log  # nothing was sent


def test_missing_report_pr_or_token_is_exit_2(github, tmp_path):
    proc = run_comment(github, "--report", str(tmp_path / "none.json"), "--repo", REPO, "--pr", "7")
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    report = _write(tmp_path, _report())
    proc = run_comment(github, "--report", str(report), "--repo", REPO)
    assert proc.returncode == 2 and "--pr" in proc.stderr
    proc = run_comment(github, "--report", str(report), "--repo", REPO, "--pr", "7", token=None)
    assert proc.returncode == 2 and "GITHUB_TOKEN" in proc.stderr
    assert not github.log
