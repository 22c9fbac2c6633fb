"""A small GitHub REST client for the sticky pull-request comment (stdlib `urllib`, no extra dependency).

Four endpoints, as GitHub documents them: `GET /user` (who the token is), `GET /repos/{repo}/pulls/{n}` (the PR
exists), `GET /repos/{repo}/issues/{n}/comments` (paginated with `Link: <…>; rel="next"`), `POST` to the same
path and `PATCH /repos/{repo}/issues/comments/{id}`. Server errors, `429` and secondary rate limits are retried
with exponential backoff (or `Retry-After`); every other 4xx is a `GitHubError` with a message that says what to
change. The token is sent only to the API host and never appears in a message.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlsplit

DEFAULT_API = "https://api.github.com"
INSTALLATION_BOT = "github-actions[bot]"  # the author of comments made with Actions' GITHUB_TOKEN
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


class GitHubError(Exception):
    """A request GitHub refused for a reason retrying will not fix; the message says what to change."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass
class Response:
    status: int
    headers: dict  # lower-cased names
    data: object

    @property
    def message(self) -> str:
        return str(self.data.get("message", "")) if isinstance(self.data, dict) else ""


def _retry_wait(resp: Response | None, attempt: int, backoff: float, max_wait: float) -> float | None:
    """Seconds to wait before retrying, or None when the response is final."""
    if resp is None:  # connection error
        return min(backoff * 2 ** attempt, max_wait)
    retryable = resp.status >= 500 or resp.status == 429
    if resp.status == 403:
        msg = resp.message.lower()
        retryable = ("secondary rate limit" in msg or "rate limit exceeded" in msg or "retry-after" in resp.headers
                     or resp.headers.get("x-ratelimit-remaining") == "0")
    if not retryable:
        return None
    if "retry-after" in resp.headers:
        try:
            return min(max(float(resp.headers["retry-after"]), 0.0), max_wait)
        except ValueError:
            pass
    if resp.headers.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in resp.headers:
        try:
            return min(max(float(resp.headers["x-ratelimit-reset"]) - time.time(), 0.0), max_wait)
        except ValueError:
            pass
    return min(backoff * 2 ** attempt, max_wait)


class GitHub:
    def __init__(self, token: str, api_url: str = DEFAULT_API, *, attempts: int = 5, backoff: float | None = None,
                 max_wait: float | None = None, sleep: Callable[[float], None] = time.sleep,
                 log: Callable[[str], None] | None = None, timeout: float = 30.0):
        if not token:
            raise GitHubError("no token: set GITHUB_TOKEN (in GitHub Actions: `env: GITHUB_TOKEN: "
                              "${{ secrets.GITHUB_TOKEN }}`)")
        self._token = token
        self.api_url = api_url.rstrip("/")
        self._host = urlsplit(self.api_url).netloc
        self.attempts = attempts
        self.backoff = backoff if backoff is not None else float(os.environ.get("CANARY_LINT_HTTP_BACKOFF", "1"))
        self.max_wait = max_wait if max_wait is not None else float(os.environ.get("CANARY_LINT_HTTP_MAX_WAIT", "60"))
        self.sleep = sleep
        self.log = log or (lambda _msg: None)
        self.timeout = timeout

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    def _url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            if urlsplit(path_or_url).netloc != self._host:
                raise GitHubError(f"refusing to send the token to {urlsplit(path_or_url).netloc}: "
                                  f"not the API host {self._host}")
            return path_or_url
        return f"{self.api_url}{path_or_url}"

    def _once(self, method: str, url: str, body: dict | None) -> Response:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method, headers={
            "Authorization": f"Bearer {self._token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "canary-lint",
            **({"Content-Type": "application/json"} if data is not None else {}),
        })
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - http(s) API URL only
                status, headers, raw = resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as exc:
            status, headers, raw = exc.code, exc.headers, exc.read()
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = {"message": raw[:200].decode("utf-8", "replace")}
        return Response(status, {k.lower(): v for k, v in headers.items()}, payload)

    def request(self, method: str, path_or_url: str, body: dict | None = None) -> Response:
        url = self._url(path_or_url)
        shown = urlsplit(url).path
        for attempt in range(self.attempts):
            try:
                resp: Response | None = self._once(method, url, body)
                problem = f"{resp.status} {self._redact(resp.message)}".strip()
            except (urllib.error.URLError, OSError) as exc:
                resp, problem = None, self._redact(f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}")
            if resp is not None and resp.status < 400:
                return resp
            wait = _retry_wait(resp, attempt, self.backoff, self.max_wait)
            if wait is None:
                return resp  # a final 4xx: the caller turns it into a message
            if attempt + 1 < self.attempts:
                self.log(f"GitHub answered {problem} on {method} {shown}; retrying in {wait:.2f}s")
                self.sleep(wait)
        raise GitHubError(f"GitHub did not answer {method} {shown} after {self.attempts} attempts (last: {problem})")

    def paginate(self, path: str, fail: Callable[[Response], Exception]):
        """Every item of a list endpoint, following `Link: rel="next"`; a 4xx raises `fail(response)`."""
        url: str | None = path
        while url:
            resp = self.request("GET", url)
            if resp.status >= 400:
                raise fail(resp)
            if not isinstance(resp.data, list):
                raise GitHubError(f"GitHub answered GET {urlsplit(self._url(url)).path} with a non-list body")
            yield from resp.data
            m = _LINK_NEXT.search(resp.headers.get("link", ""))
            url = m.group(1) if m else None
