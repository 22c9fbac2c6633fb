"""The hooks in `.pre-commit-hooks.yaml`, run by the real `pre-commit try-repo` on a scratch repository.

`try-repo` installs canary-lint from a git repository (here: a committed copy of this work tree) into
pre-commit's own virtualenv, exactly as a user's `.pre-commit-config.yaml` would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
BAD = "BEGIN;\nCREATE INDEX CONCURRENTLY ix_users_email ON users (email);\nCOMMIT;\n"
FIXED = "CREATE INDEX CONCURRENTLY ix_users_email ON users (email);\n"
GIT_ENV = {"GIT_AUTHOR_NAME": "canary-lint tests", "GIT_AUTHOR_EMAIL": "tests@canary-lint.invalid",
           "GIT_COMMITTER_NAME": "canary-lint tests", "GIT_COMMITTER_EMAIL": "tests@canary-lint.invalid",
           "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z"}


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env={**os.environ, **GIT_ENV})


def test_hook_manifest_matches_what_pre_commit_expects():
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    per_file = hooks["canary-lint"]
    assert per_file["language"] == "python" and per_file["require_serial"] is True
    assert per_file["types_or"] == ["python", "sql", "yaml", "json"]
    assert per_file.get("pass_filenames", True) is True
    release = hooks["canary-lint-release"]
    assert release["pass_filenames"] is False and release["language"] == "python"
    assert all(h["entry"].split()[0] == "canary-lint" for h in hooks.values())
    from pre_commit.clientlib import MANIFEST_HOOK_DICT  # pre-commit's own schema for hook manifests
    from cfgv import validate

    for hook in hooks.values():
        validate(hook, MANIFEST_HOOK_DICT)


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory) -> Path:
    """A committed copy of the work tree (tracked and new, not ignored, files)."""
    dest = tmp_path_factory.mktemp("hook-repo")
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            check=True, capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file() and not src.is_symlink():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
        elif src.is_symlink():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(os.readlink(src), dest / rel)
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "canary-lint")
    return dest


def try_repo(hook_repo: Path, project: Path, home: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "CI_", "PRE_COMMIT"))}
    env.update(PRE_COMMIT_HOME=str(home), PRE_COMMIT_COLOR="never", **GIT_ENV)
    return subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(hook_repo), "--all-files",
                           "--verbose"], cwd=project, capture_output=True, text=True, env=env, timeout=900)


def test_try_repo_fails_on_a_bad_migration_and_passes_once_fixed(hook_repo, tmp_path):
    """Both hooks in one `try-repo` run per state (each run installs canary-lint into a fresh store)."""
    project = tmp_path / "shop"
    (project / "migrations").mkdir(parents=True)
    (project / "migrations" / "V15__idx.sql").write_text(BAD)
    (project / "README.txt").write_text("not for canary-lint\n")
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")

    proc = try_repo(hook_repo, project, tmp_path / "home-1")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    per_file, release = _hook_results(out)
    assert per_file == "Failed" and release == "Failed", out
    assert out.count("CLM202 concurrent-index-in-transaction-fails") == 2
    assert "cannot run inside a transaction block" in out
    assert "README.txt" not in out  # types_or keeps other files away from the per-file hook

    (project / "migrations" / "V15__idx.sql").write_text(FIXED)
    git(project, "add", "-A")
    proc = try_repo(hook_repo, project, tmp_path / "home-2")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert _hook_results(out) == ("Passed", "Passed"), out
    assert "CLM202" not in out


def _hook_results(out: str) -> tuple[str | None, str | None]:
    """The status pre-commit prints after each hook's dotted name line."""
    import re

    found = dict(re.findall(r"^(canary-lint(?: \(whole release\))?)\.+(Passed|Failed)", out, re.M))
    return found.get("canary-lint"), found.get("canary-lint (whole release)")
