"""Run a check: discovery -> release context -> analyzers -> select/ignore -> suppressions -> Report."""

from __future__ import annotations

from pathlib import Path

from canary_lint import __version__
from canary_lint.analysis import analyze
from canary_lint.config import Config
from canary_lint.context import ReleaseContext
from canary_lint.discovery import discover
from canary_lint.model import Report
from canary_lint.registry import registry


def _head_commit(cwd: Path) -> str | None:
    """HEAD of the checked tree when it is a git work tree with no uncommitted changes, else None. HEAD is read
    from git's files where they are plain (`gitfiles`): a branch with no commit yet then costs no git process."""
    from canary_lint import gitfiles

    if gitfiles.git_dir(cwd) is None:
        return None
    commit = gitfiles.head(cwd)
    if commit is None:
        return None
    from canary_lint.gitio import _git

    if commit is gitfiles.ASK:
        head = _git(["rev-parse", "HEAD"], cwd, check=False)
        if head.returncode != 0:
            return None
        commit = head.stdout.decode().strip()
    dirty = _git(["status", "--porcelain", "--untracked-files=no"], cwd, check=False)
    return None if dirty.returncode != 0 or dirty.stdout.strip() else commit


def run_check(paths: list[str], config: Config, *, base: str | None = None, cwd: Path | None = None,
              record_commit: bool = True, prove: tuple[str, str | None] | None = None) -> Report:
    """Check a release. Raises `gitio.GitError` when `base` cannot be read (the CLI exits 2).

    With `base`, a finding whose fingerprint v1's tree already has is marked existing (`Finding.new` False):
    see `existing.py`. `record_commit=False` skips asking git for the head commit (a text report on a
    pre-commit run has no use for it, and `git status` costs time on a large work tree). `prove` is (DSN,
    schema name or None): each migration finding is checked on that database (`prove/run.py`); a DSN that
    cannot be used raises `prove.db.ProveRefused` (the CLI exits 2)."""
    reg = registry()
    cwd = (cwd or Path.cwd()).resolve()
    discovered = discover(paths, config, cwd)
    ctx = ReleaseContext(config, discovered.files, reg, base_ref=base, cwd=cwd)
    if base is not None:
        root = ctx.base.root  # open now: a missing ref is a usage error before any work
        outside = next((p for p in paths if not (cwd / p).resolve().is_relative_to(root)), None)
        if outside is not None:
            from canary_lint.gitio import GitError

            raise GitError(f"--base reads the git repository of the current directory ({root}), and {outside!r} is "
                           f"outside it: run canary-lint from inside the repository of the tree you check")
    for path, message in discovered.problems:
        ctx.file_error(path, message)
    findings, suppressed = analyze(ctx)
    if base is not None:
        from canary_lint import existing

        findings = existing.mark(findings, existing.v1_counts(paths, config, ctx.base, cwd, shared=ctx))
    if prove is not None:
        from canary_lint.prove.run import attach

        findings = attach(ctx, list(findings), *prove)
    if base is not None and ctx.base.unreadable:
        missing = sorted(set(ctx.base.unreadable))
        more = f" and {len(missing) - 1} more files" if len(missing) > 1 else ""
        ctx.note(f"v1's {missing[0]}{more} could not be read from git (the object is missing: a partial or shallow "
                 "clone), so nothing was compared with v1's copy; fetch the full history (`git fetch --unshallow` "
                 "or `git fetch --refetch`) to compare it")
    ctx.close()
    migrations = len(ctx.files_of("alembic", "django", "sql_migration"))
    extra = {"migration_files": migrations, "notes": list(ctx.notes)}
    if ("serving",) in ctx._cache:
        extra["serving"] = ctx._cache[("serving",)].describe()
    return Report(
        findings=tuple(findings),
        errors=tuple(sorted(ctx.errors, key=lambda e: e.path)),
        files=len(discovered.files),
        base=base,
        commit=_head_commit(cwd) if record_commit else None,
        suppressed=suppressed,
        tool_version=__version__,
        internal_error=ctx.crashed,
        extra=extra,
    )
