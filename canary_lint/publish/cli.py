"""`canary-lint comment`: post the Markdown report as one sticky comment on the pull request."""

from __future__ import annotations

import json
import os
import re

import click


def _pr_from_env(environ) -> int | None:
    event_path = environ.get("GITHUB_EVENT_PATH")
    if event_path:
        try:
            with open(event_path, encoding="utf-8") as fh:
                event = json.load(fh)
            number = (event.get("pull_request") or {}).get("number") or (event.get("issue") or {}).get("number")
            if number:
                return int(number)
        except (OSError, ValueError, AttributeError):
            pass
    m = re.fullmatch(r"refs/pull/(\d+)/(?:merge|head)", environ.get("GITHUB_REF", ""))
    return int(m.group(1)) if m else None


@click.command("comment")
@click.option("--report", "report_path", required=True, metavar="FILE",
              help="JSON report written by `canary-lint check --format json:FILE`.")
@click.option("--repo", metavar="OWNER/NAME", help="Repository (default: $GITHUB_REPOSITORY).")
@click.option("--pr", "pr", type=int, metavar="N", help="Pull request number (default: from the Actions event).")
@click.option("--tag", metavar="NAME", help="Keep one comment per tag (several checks on one PR).")
@click.option("--api-url", metavar="URL", help="GitHub API URL (default: $GITHUB_API_URL or https://api.github.com).")
@click.option("--fail-on", type=click.Choice(["error", "warning"]), default="error", show_default=True,
              help="The --fail-on the check ran with: the comment's verdict says blocked at that severity.")
@click.option("--fail-on-existing", is_flag=True,
              help="The check ran with --fail-on-existing: findings v1 already has count in the verdict too.")
@click.option("--author", metavar="LOGIN",
              help="Login the token comments as, when `GET /user` cannot tell (default: asked from GitHub).")
def comment(report_path, repo, pr, tag, api_url, fail_on, fail_on_existing, author):
    """Create or update ONE pull-request comment with the Markdown report (token in $GITHUB_TOKEN)."""
    from canary_lint.cli import UsageFailure
    from canary_lint.formatters import markdown
    from canary_lint.publish.ci import link_options
    from canary_lint.publish.github import DEFAULT_API, GitHub, GitHubError
    from canary_lint.publish.report_file import ReportFileError, load
    from canary_lint.publish.sticky import MAX_BODY, marker, upsert

    env = os.environ
    repo = repo or env.get("GITHUB_REPOSITORY")
    if not repo or not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
        raise UsageFailure(f"--repo must be OWNER/NAME (got {repo!r}); outside GitHub Actions pass it explicitly"
                           if repo else "no repository: pass --repo OWNER/NAME (or run in GitHub Actions)")
    pr = pr or _pr_from_env(env)
    if not pr or pr < 1:
        raise UsageFailure("no pull request number: pass --pr N (the workflow event is not a pull request)")
    try:
        report = load(report_path)
    except ReportFileError as exc:
        raise UsageFailure(str(exc)) from None
    token = env.get("GITHUB_TOKEN") or env.get("GH_TOKEN") or ""
    if not token:
        raise UsageFailure("no token: set GITHUB_TOKEN (in GitHub Actions: `env: GITHUB_TOKEN: "
                           "${{ secrets.GITHUB_TOKEN }}`)")
    mark = marker(tag)
    links = link_options(env, report.commit)
    body = mark + "\n" + markdown.render(report, source_url=links.get("source_url"), max_chars=MAX_BODY - len(mark) - 1,
                                         full_report_hint="the workflow run's report artifact", fail_on=fail_on,
                                         fail_on_existing=fail_on_existing)
    gh = GitHub(token, api_url or env.get("GITHUB_API_URL") or DEFAULT_API,
                log=lambda msg: click.echo(f"canary-lint: {msg}", err=True))
    try:
        outcome = upsert(gh, repo, pr, body, tag=tag, author=author)
    except GitHubError as exc:
        raise UsageFailure(str(exc)) from None
    click.echo(f"canary-lint: {outcome.action} the canary-lint comment on {repo}#{pr}"
               + (f": {outcome.url}" if outcome.url else ""), err=True)
    return 0
