"""What the CI environment tells about the repository, for links from reports to the exact commit."""

from __future__ import annotations

from collections.abc import Mapping


def link_options(environ: Mapping[str, str], commit: str | None) -> dict:
    """`repo_url` and `source_url` (blob prefix at the commit) from GitHub Actions or GitLab CI; {} elsewhere."""
    if environ.get("GITHUB_REPOSITORY"):
        server = environ.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
        repo_url = f"{server}/{environ['GITHUB_REPOSITORY']}"
        sha = commit or environ.get("GITHUB_SHA")
        return {"repo_url": repo_url, **({"source_url": f"{repo_url}/blob/{sha}"} if sha else {})}
    if environ.get("CI_PROJECT_URL"):
        repo_url = environ["CI_PROJECT_URL"].rstrip("/")
        sha = commit or environ.get("CI_COMMIT_SHA")
        return {"repo_url": repo_url, **({"source_url": f"{repo_url}/-/blob/{sha}"} if sha else {})}
    return {}
