"""The GitHub client's own rules: which answers are retried and how long it waits, and where the token goes."""

from __future__ import annotations

import time

import pytest

from canary_lint.publish.github import GitHub, GitHubError, Response, _retry_wait


def _resp(status, message="", **headers):
    return Response(status, {k.replace("_", "-"): v for k, v in headers.items()}, {"message": message})


@pytest.mark.parametrize("resp, expected", [
    (_resp(500), 0.5), (_resp(502), 0.5), (_resp(429), 0.5),
    (_resp(403, "You have exceeded a secondary rate limit"), 0.5),
    (_resp(403, "anything", retry_after="3"), 3.0),
    (_resp(403, "Resource not accessible by integration"), None),
    (_resp(401, "Bad credentials"), None), (_resp(404, "Not Found"), None), (_resp(422, "Validation Failed"), None),
])
def test_which_answers_are_retried(resp, expected):
    assert _retry_wait(resp, 0, 0.5, 60) == expected


def test_backoff_doubles_and_is_capped():
    assert [_retry_wait(_resp(503), a, 0.5, 3) for a in range(5)] == [0.5, 1.0, 2.0, 3, 3]
    assert _retry_wait(None, 1, 0.5, 60) == 1.0  # connection errors back off too
    reset = str(int(time.time()) + 2)
    wait = _retry_wait(_resp(403, "API rate limit exceeded", x_ratelimit_remaining="0", x_ratelimit_reset=reset), 0, 9, 60)
    assert 0 < wait <= 2
    assert _retry_wait(_resp(429, retry_after="120"), 0, 0.5, 10) == 10


def test_the_token_only_goes_to_the_api_host():
    gh = GitHub("tok", "http://127.0.0.1:9", sleep=lambda _s: None)
    with pytest.raises(GitHubError, match="refusing to send the token to evil.example"):
        gh.request("GET", "https://evil.example/repos/a/b/issues/1/comments?page=2")


def test_retries_then_gives_up_without_printing_the_token():
    calls, waits, logs = [], [], []
    gh = GitHub("ghp_secret", "http://api.test", attempts=3, backoff=0.25, max_wait=1, sleep=waits.append,
                log=logs.append)

    def fake_once(method, url, body):
        calls.append((method, url))
        return _resp(503, "upstream ghp_secret failed")

    gh._once = fake_once
    with pytest.raises(GitHubError) as info:
        gh.request("POST", "/repos/a/b/issues/1/comments", {"body": "x"})
    assert len(calls) == 3 and waits == [0.25, 0.5]
    assert "after 3 attempts" in str(info.value) and "ghp_secret" not in str(info.value)
    assert logs and all("ghp_secret" not in line for line in logs)


def test_missing_token_is_refused():
    with pytest.raises(GitHubError, match="GITHUB_TOKEN"):
        GitHub("", "http://api.test")
