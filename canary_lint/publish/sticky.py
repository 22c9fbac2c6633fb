"""The sticky pull-request comment: one comment per PR (and tag), created once and updated on every run.

It is found again by a hidden marker *and* its author (the token's user), so a comment that someone else wrote
or quoted with the same marker is never edited.
"""

from __future__ import annotations

from dataclasses import dataclass

from canary_lint.publish.github import INSTALLATION_BOT, GitHub, GitHubError, Response

MAX_BODY = 65_536  # GitHub's limit for a comment body, in characters


def marker(tag: str | None = None) -> str:
    return f"<!-- canary-lint: sticky pr comment{f' ({tag})' if tag else ''} -->"


@dataclass(frozen=True)
class Outcome:
    action: str  # "created" | "updated" | "unchanged"
    comment_id: int
    url: str


def _error(resp: Response, action: str, repo: str, pr: int) -> GitHubError:
    msg = resp.message or "no message"
    if resp.status == 401:
        return GitHubError(f"GitHub rejected the token while trying to {action} (401 {msg}): "
                           "check that GITHUB_TOKEN is set to a valid token", 401)
    if resp.status == 403:
        return GitHubError(f"the token may not {action} on {repo}#{pr} (403 {msg}): in GitHub Actions give the job "
                           "`permissions: pull-requests: write`; a personal token needs repo access", 403)
    if resp.status == 404:
        return GitHubError(f"cannot {action}: {repo}#{pr} was not found (404 {msg}); check --repo and --pr, "
                           "and that the token can see the repository", 404)
    return GitHubError(f"GitHub refused to {action} on {repo}#{pr} ({resp.status} {msg})", resp.status)


def token_author(gh: GitHub) -> str:
    """The login the token comments as (`GET /user`); Actions' installation token cannot ask, it is the bot."""
    resp = gh.request("GET", "/user")
    if resp.status == 200 and isinstance(resp.data, dict) and resp.data.get("login"):
        return str(resp.data["login"])
    if resp.status == 403 and "resource not accessible by integration" in resp.message.lower():
        return INSTALLATION_BOT
    if resp.status == 401:
        raise GitHubError(f"GitHub rejected the token (401 {resp.message or 'Bad credentials'}): "
                          "check that GITHUB_TOKEN is set to a valid token", 401)
    raise GitHubError(f"cannot tell who the token belongs to (GET /user: {resp.status} {resp.message}); "
                      "pass --author LOGIN", resp.status)


def upsert(gh: GitHub, repo: str, pr: int, body: str, *, tag: str | None = None,
           author: str | None = None) -> Outcome:
    """Create or update the one comment of `tag` on pull request `pr` of `repo` ("owner/name")."""
    mark = marker(tag)
    if mark not in body:
        body = f"{mark}\n{body}"
    if len(body) > MAX_BODY:
        raise GitHubError(f"comment body has {len(body)} characters; GitHub accepts at most {MAX_BODY}")
    if author:
        login = author
        resp = gh.request("GET", "/user")  # still an auth check: a bad token fails here, clearly
        if resp.status == 401:
            raise GitHubError(f"GitHub rejected the token (401 {resp.message or 'Bad credentials'}): "
                              "check that GITHUB_TOKEN is set to a valid token", 401)
    else:
        login = token_author(gh)
    resp = gh.request("GET", f"/repos/{repo}/pulls/{pr}")
    if resp.status >= 400:
        if resp.status == 404:
            raise GitHubError(f"pull request #{pr} does not exist in {repo} (or the token cannot see the "
                              "repository): check --repo and --pr", 404)
        raise _error(resp, "read the pull request", repo, pr)
    mine = None
    for comment in gh.paginate(f"/repos/{repo}/issues/{pr}/comments?per_page=100",
                               lambda r: _error(r, "list comments", repo, pr)):
        user = (comment.get("user") or {}).get("login", "")
        if user.lower() == login.lower() and mark in (comment.get("body") or ""):
            mine = comment
            break
    if mine is not None:
        if mine.get("body") == body:
            return Outcome("unchanged", int(mine["id"]), str(mine.get("html_url", "")))
        resp = gh.request("PATCH", f"/repos/{repo}/issues/comments/{mine['id']}", {"body": body})
        if resp.status >= 400:
            raise _error(resp, "update the comment", repo, pr)
        return Outcome("updated", int(mine["id"]), str(resp.data.get("html_url", "")))
    resp = gh.request("POST", f"/repos/{repo}/issues/{pr}/comments", {"body": body})
    if resp.status >= 400:
        raise _error(resp, "comment", repo, pr)
    return Outcome("created", int(resp.data["id"]), str(resp.data.get("html_url", "")))
