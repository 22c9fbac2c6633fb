"""Read the base tree (the version still serving) from git: no checkout, no network."""

from __future__ import annotations

import os
import subprocess
import threading
from functools import lru_cache
from pathlib import Path


class GitError(Exception):
    """Raised for a missing ref or a tree that is not a repository (the CLI exits 2)."""


def _git(args: list[str], cwd: Path, *, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"}
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, env=env)
    except FileNotFoundError:
        raise GitError("git is not installed; --base needs git to read the base tree") from None
    if check and proc.returncode != 0:
        raise GitError(proc.stderr.decode("utf-8", "replace").strip() or f"git {' '.join(args)} failed")
    return proc


COMMIT_IDENTITY = {"GIT_AUTHOR_NAME": "canary-lint", "GIT_AUTHOR_EMAIL": "canary-lint@localhost",
                   "GIT_COMMITTER_NAME": "canary-lint", "GIT_COMMITTER_EMAIL": "canary-lint@localhost"}


def git(cwd: Path, *args: str) -> str:
    """Run git in `cwd` with a fixed identity (for the repositories canary-lint builds itself: the example
    release, rule-page cases); returns stdout, raises CalledProcessError on failure."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", **COMMIT_IDENTITY}
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env).stdout


def repo_root(cwd: Path) -> Path:
    proc = _git(["rev-parse", "--show-toplevel"], cwd, check=False)
    if proc.returncode != 0:
        raise GitError(f"{cwd} is not inside a git repository; --base needs one (run `git init` or drop --base)")
    return Path(proc.stdout.decode().strip())


def head_commit(cwd: Path) -> str | None:
    proc = _git(["rev-parse", "HEAD"], cwd, check=False)
    return proc.stdout.decode().strip() if proc.returncode == 0 else None


class BaseTree:
    """Files of `ref`, addressed by paths relative to the current directory (POSIX), read lazily.

    One `git cat-file --batch` process serves every read; `paths()` lists the tree once.
    """

    def __init__(self, ref: str, cwd: Path | None = None):
        self.ref = ref
        self.cwd = (cwd or Path.cwd()).resolve()
        self.root = repo_root(self.cwd)
        proc = _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], self.cwd, check=False)
        if proc.returncode != 0:
            hint = f"git fetch origin {ref.removeprefix('origin/')}" if ref.startswith("origin/") else f"git fetch origin {ref}"
            raise GitError(
                f"base ref {ref!r} does not exist in {self.root}; fetch it first "
                f"(in a shallow CI clone: `{hint} --depth=1`, or checkout with fetch-depth: 0)"
            )
        self.commit = proc.stdout.decode().strip()
        self._prefix = self.cwd.relative_to(self.root).as_posix() if self.cwd != self.root else ""
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._paths: list[str] | None = None

    def _full(self, path: str) -> str:
        path = Path(path).as_posix()
        if path.startswith("./"):
            path = path[2:]
        return f"{self._prefix}/{path}" if self._prefix else path

    def paths(self) -> list[str]:
        """Every file of the base tree under the current directory, relative to it."""
        if self._paths is None:
            proc = _git(["ls-tree", "-r", "-z", "--name-only", "--full-tree", self.commit], self.cwd)
            names = [n for n in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if n]
            if self._prefix:
                p = self._prefix + "/"
                names = [n[len(p):] for n in names if n.startswith(p)]
            self._paths = names
        return self._paths

    def exists(self, path: str) -> bool:
        return Path(path).as_posix().removeprefix("./") in set(self.paths())

    def read_bytes(self, path: str) -> bytes | None:
        """Content of `path` at the base ref, or None when the base has no such file."""
        with self._lock:
            if self._proc is None:
                self._proc = subprocess.Popen(
                    ["git", "cat-file", "--batch"], cwd=self.cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE
                )
            assert self._proc.stdin and self._proc.stdout
            self._proc.stdin.write(f"{self.commit}:{self._full(path)}\n".encode("utf-8", "surrogateescape"))
            self._proc.stdin.flush()
            header = self._proc.stdout.readline().decode().split()
            if len(header) < 3 or header[1] != "blob":
                return None
            size = int(header[2])
            data = self._proc.stdout.read(size)
            self._proc.stdout.read(1)  # trailing LF
            return data

    @lru_cache(maxsize=None)
    def read_text(self, path: str) -> str | None:
        data = self.read_bytes(path)
        if data is None:
            return None
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return None

    def close(self) -> None:
        if self._proc is not None:
            if self._proc.stdin:
                self._proc.stdin.close()
            self._proc.wait(timeout=5)
            self._proc = None
