"""Read the base tree (the version still serving) from git: no checkout, no network."""

from __future__ import annotations

import os
import shlex
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


def _one_line(value: str) -> str:
    """A user- or attacker-chosen value, quoted and on one line, for a message."""
    return shlex.quote(value.replace("\n", "\\n").replace("\r", "\\r"))


def fetch_hint(ref: str) -> str:
    """The command that makes `ref` exist in a shallow or single-branch clone (quoted: refs are attacker-chosen)."""
    if ref.startswith("origin/"):
        branch = ref.removeprefix("origin/")
        return f"git fetch --depth=1 origin {_one_line(f'+refs/heads/{branch}:refs/remotes/origin/{branch}')}"
    if ref.startswith("refs/"):
        return f"git fetch --depth=1 origin {_one_line(f'+{ref}:{ref}')}"
    if ref[:1].isdigit() or (ref[:1] in "vV" and ref[1:2].isdigit()):  # a release tag: v1.2, 2024.1
        return f"git fetch --depth=1 origin {_one_line(f'+refs/tags/{ref}:refs/tags/{ref}')}"
    return f"git fetch --depth=1 origin {_one_line(f'+refs/heads/{ref}:refs/heads/{ref}')}"


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
            raise GitError(f"base ref {_one_line(ref)} does not exist in {self.root}; fetch it first "
                           f"(in a shallow CI clone: `{fetch_hint(ref)}`, or checkout with fetch-depth: 0)")
        self.commit = proc.stdout.decode().strip()
        self._prefix = self.cwd.relative_to(self.root).as_posix() if self.cwd != self.root else ""
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._paths: list[str] | None = None
        self._blobs: dict[str, str] | None = None
        self.unreadable: list[str] = []  # files whose blob git does not have (a partial or shallow clone)

    def _tree(self) -> dict[str, str]:
        """path (relative to the current directory) -> blob id, from one `ls-tree -z` (any byte in a name is safe)."""
        if self._blobs is None:
            proc = _git(["ls-tree", "-r", "-z", "--full-tree", self.commit], self.cwd)
            prefix = self._prefix + "/" if self._prefix else ""
            blobs: dict[str, str] = {}
            for entry in proc.stdout.split(b"\0"):
                meta, tab, name = entry.partition(b"\t")
                fields = meta.split()
                if not tab or len(fields) != 3 or fields[1] != b"blob" or fields[0] == b"120000":
                    continue  # trees, submodules and symlinks are not files of v1 we read
                path = name.decode("utf-8", "surrogateescape")
                if prefix:
                    if not path.startswith(prefix):
                        continue
                    path = path[len(prefix):]
                blobs[path] = fields[2].decode("ascii")
            self._blobs = blobs
        return self._blobs

    def paths(self) -> list[str]:
        """Every file of the base tree under the current directory, relative to it."""
        if self._paths is None:
            self._paths = list(self._tree())
        return self._paths

    def blob_id(self, path: str) -> str | None:
        """The object id of `path` at the base ref (a cache key for what is derived from it), or None."""
        return self._tree().get(Path(path).as_posix().removeprefix("./"))

    def exists(self, path: str) -> bool:
        return self.blob_id(path) is not None

    def read_bytes(self, path: str) -> bytes | None:
        """Content of `path` at the base ref, or None when the base has no such file.

        The batch process is asked for object ids from `ls-tree -z`, never for a path, so no byte in a file
        name (newline, tab, quote, non-UTF-8) can inject a request and shift later reads."""
        oid = self.blob_id(path)
        if oid is None:
            return None
        with self._lock:
            if self._proc is None:
                self._proc = subprocess.Popen(
                    ["git", "cat-file", "--batch"], cwd=self.cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE
                )
            assert self._proc.stdin and self._proc.stdout
            self._proc.stdin.write(oid.encode("ascii") + b"\n")
            self._proc.stdin.flush()
            header = self._proc.stdout.readline().split()
            if len(header) == 2 and header[1] == b"missing":  # a partial or shallow clone without this blob
                self.unreadable.append(path)
                return None
            if len(header) < 3 or header[0].decode("ascii", "replace") != oid or header[1] != b"blob":
                raise GitError(f"git cat-file answered {header[:2]!r} for {oid}; the base tree cannot be read")
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
