"""The real-repository corpus: which repositories, which consecutive release pairs, and their checkouts.

    python bench/realrepos/corpus.py            # clone every repository (if missing) and list the pairs
    python bench/realrepos/corpus.py --list     # list the pairs only
    python bench/realrepos/corpus.py --checkout # also check out every tag a pair needs

Clones live under $CANARY_CORPUS (default /tmp/corpus/<repo>), one `git worktree` per tag under
/tmp/corpus/_wt/<repo>/<tag>. A repository is cloned from a local mirror when one exists
(/work/.mirror/<owner>+<name>/repo, or $CANARY_MIRRORS), else from GitHub. Nothing here is committed but
this script: the repositories' code stays in /tmp.

Two corpora share the machinery:
- `release`: consecutive release pairs of applications with Alembic migrations and a web API; the whole
  `canary-lint check --base <previous tag>` on the later tag is judged (labels.csv).
- `migrations`: OpenStack histories whose revisions are filed as `expand` (safe while the old release
  serves) or `contract` (only once it is gone); only the migration rules are run, and every operation of
  every new revision is labelled (migrations_labels.csv).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(os.environ.get("CANARY_CORPUS", "/tmp/corpus"))
MIRRORS = Path(os.environ.get("CANARY_MIRRORS", "/work/.mirror"))


@dataclass(frozen=True)
class Repo:
    name: str
    github: str  # owner/name
    kind: str  # what it is, for the README
    diff_paths: tuple[str, ...]  # where the release diff is read for misses (migrations, API, app)


@dataclass(frozen=True)
class Pair:
    repo: str
    base: str
    head: str
    corpus: str = "release"  # release | migrations
    select: str = ""  # --select for the run (the migrations corpus runs the CLM rules only)

    @property
    def key(self) -> str:
        return f"{self.base}..{self.head}"


REPOS = {
    r.name: r
    for r in (
        Repo("CTFd", "CTFd/CTFd", "Flask app, Flask-Migrate/Alembic, Flask-Caching sessions",
             ("migrations", "CTFd/config.py", "CTFd/__init__.py", "CTFd/models", "CTFd/api", "CTFd/utils")),
        Repo("redash", "getredash/redash", "Flask app, Alembic, Flask-Limiter, RQ, statsd",
             ("migrations", "redash/models", "redash/settings", "redash/handlers", "redash/__init__.py", "redash/app.py")),
        Repo("mealie", "mealie-recipes/mealie", "FastAPI app, Alembic, generated OpenAPI",
             ("alembic", "mealie/db", "mealie/core", "mealie/app.py", "mealie/routes", "mealie/schema")),
        Repo("dispatch", "Netflix/dispatch", "FastAPI app, two Alembic histories (core, tenant), Sentry, OpenAPI",
             ("src/dispatch/database", "src/dispatch/main.py", "src/dispatch/config.py", "src/dispatch/logging.py",
              "docs/scripts/openapi.yaml", "src/dispatch/api.py")),
        Repo("securedrop", "freedomofpress/securedrop", "Flask apps (source, journalist), Alembic, Redis sessions",
             ("securedrop/alembic", "securedrop/models.py", "securedrop/sdconfig.py", "securedrop/source_app",
              "securedrop/journalist_app", "securedrop/journalist_app/api.py")),
        Repo("healthchecks", "healthchecks/healthchecks", "Django app, Django migrations",
             ("hc/settings.py", "hc/api/migrations", "hc/accounts/migrations", "hc/api/views.py")),
        Repo("privacyidea", "privacyidea/privacyidea", "Flask app, Flask-Migrate/Alembic, logging config file",
             ("privacyidea/migrations", "privacyidea/models.py", "privacyidea/models", "privacyidea/app.py",
              "privacyidea/config.py", "privacyidea/lib/log.py")),
        Repo("flaskbb", "flaskbb/flaskbb", "Flask app, Flask-Migrate/Alembic, Flask-Limiter, Flask-Caching",
             ("flaskbb/migrations", "flaskbb/configs", "flaskbb/extensions.py", "flaskbb/app.py")),
        Repo("neutron", "openstack/neutron", "OpenStack, Alembic expand/contract branches",
             ("neutron/db/migration/alembic_migrations/versions",)),
        Repo("glance", "openstack/glance", "OpenStack, Alembic expand/contract revisions",
             ("glance/db/sqlalchemy/alembic_migrations",)),
        Repo("keystone", "openstack/keystone", "OpenStack, Alembic expand/contract branches",
             ("keystone/common/sql/migrations",)),
    )
}


def _chain(repo: str, tags: list[str], corpus: str = "release", select: str = "") -> list[Pair]:
    return [Pair(repo, a, b, corpus, select) for a, b in zip(tags, tags[1:])]


PAIRS: list[Pair] = [
    *_chain("CTFd", ["3.7.7", "3.8.0", "3.8.1", "3.8.2", "3.8.3"]),
    *_chain("redash", ["v10.1.0", "v25.1.0", "v25.8.0", "v26.3.0"]),
    *_chain("mealie", ["v1.10.2", "v1.11.0", "v1.12.0", "v2.0.0"]),
    *_chain("dispatch", ["v20240605", "v20240731", "v20241011", "v20241220"]),
    *_chain("securedrop", ["2.8.0", "2.9.0", "2.10.0"]),
    *_chain("healthchecks", ["v4.1", "v4.2", "v4.3"]),
    *_chain("privacyidea", ["v3.12.3", "v3.13", "v3.13.1", "v3.13.2", "v3.13.3"]),
    *_chain("flaskbb", ["v2.0.2", "v2.1.0"]),
    *_chain("neutron", ["7.0.0", "8.0.0", "9.0.0", "10.0.0"], "migrations", "CLM"),
    *_chain("glance", ["13.0.0", "14.0.0", "15.0.0"], "migrations", "CLM"),
    *_chain("keystone", ["23.0.0", "24.0.0"], "migrations", "CLM"),
]


def git(*args: str, cwd: Path | None = None, check: bool = True, input: str | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, input=input)
    if check and proc.returncode:
        raise RuntimeError(f"git {' '.join(args)} failed in {cwd}: {proc.stderr.strip()}")
    return proc.stdout


def clone(name: str) -> Path:
    """The clone of repository NAME, with all its tags; made when missing."""
    target = ROOT / name
    if (target / ".git").exists():
        return target
    repo = REPOS[name]
    mirror = MIRRORS / repo.github.replace("/", "+") / "repo"
    source = str(mirror) if mirror.is_dir() else f"https://github.com/{repo.github}.git"
    ROOT.mkdir(parents=True, exist_ok=True)
    git("clone", "--quiet", "--no-checkout", source, str(target))
    return target


def checkout(name: str, tag: str) -> Path:
    """A work tree of NAME at TAG (a `git worktree` of the clone). Blobs the clone lacks (a mirror may leave
    out very large files) are left out of the work tree through sparse checkout instead of failing."""
    repo_dir = clone(name)
    target = ROOT / "_wt" / name / tag
    if (target / ".git").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    git("worktree", "add", "--quiet", "--no-checkout", "--detach", str(target), tag, cwd=repo_dir)
    listing = git("ls-tree", "-r", "-z", tag, cwd=repo_dir).split("\0")
    entries = [line.split("\t", 1) for line in listing if line]
    blobs = [(meta.split()[2], path) for meta, path in entries if meta.split()[1] == "blob"]
    check = git("cat-file", "--batch-check", cwd=repo_dir, input="".join(f"{sha}\n" for sha, _ in blobs))
    missing = [path for (sha, path), line in zip(blobs, check.splitlines()) if line.endswith("missing")]
    if missing:
        patterns = "/*\n" + "".join(f"!/{p}\n" for p in missing)
        git("sparse-checkout", "set", "--no-cone", "--stdin", cwd=target, input=patterns)
    git("checkout", "--quiet", "--detach", tag, cwd=target)
    return target


def pairs(corpus: str | None = None, repos: list[str] | None = None) -> list[Pair]:
    return [p for p in PAIRS if (corpus in (None, "all", p.corpus)) and (not repos or p.repo in repos)]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repos", nargs="*", help="only these repositories")
    parser.add_argument("--corpus", choices=["release", "migrations", "all"], default="all")
    parser.add_argument("--list", action="store_true", help="list the pairs, clone nothing")
    parser.add_argument("--checkout", action="store_true", help="also check out every tag of every pair")
    args = parser.parse_args(argv)
    unknown = [r for r in args.repos if r not in REPOS]
    if unknown:
        parser.error(f"unknown repositories: {', '.join(unknown)} (known: {', '.join(REPOS)})")
    chosen = pairs(args.corpus, args.repos)
    for p in chosen:
        if not args.list:
            clone(p.repo)
            if args.checkout:
                checkout(p.repo, p.base)
                checkout(p.repo, p.head)
        print(f"{p.corpus:10} {p.repo:13} {p.base:>12} -> {p.head:<12} {p.select}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
