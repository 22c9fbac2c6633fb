"""The commit HEAD names, read from the files git keeps (no git process) when the repository is a plain one.

`head(cwd)` answers only for the usual layout: a `.git` directory with HEAD naming a branch whose ref is a
loose file or a line of packed-refs, or a detached HEAD. For anything else (a linked worktree, reftable,
GIT_DIR and the other variables that move the repository, a symbolic ref to a ref, an unreadable file) it
answers ASK, and git is asked.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

ASK = object()  # "run git": this reader does not know
# variables that move the repository, its refs or its configuration (GIT_SSL_*, GIT_AUTHOR_*, ... do not)
_MOVED_BY = ("GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR", "GIT_CEILING_DIRECTORIES", "GIT_DISCOVERY_ACROSS_FILESYSTEM",
             "GIT_OBJECT_DIRECTORY", "GIT_NAMESPACE", "GIT_CONFIG")
_OID = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")  # SHA-1 or SHA-256


def git_dir(cwd: Path) -> Path | None:
    """The `.git` of the nearest directory at or above `cwd` that has one (what git finds first)."""
    for d in (cwd, *cwd.parents):
        if (d / ".git").exists():
            return d / ".git"
    return None


def head(cwd: Path):
    """HEAD's commit (hex), None when HEAD names a branch with no commit yet, or ASK."""
    if any(name.startswith(_MOVED_BY) for name in os.environ):
        return ASK
    gd = git_dir(cwd)
    try:
        if gd is None or not gd.is_dir() or not (gd / "objects").is_dir() or not (gd / "refs").is_dir() \
                or (gd / "reftable").exists() or (gd / "commondir").exists():
            return ASK
        if "refstorage" in (gd / "config").read_text(encoding="utf-8", errors="replace").lower():
            return ASK
        text = _small(gd / "HEAD")
        if _OID.fullmatch(text):
            return text
        ref = text[5:]
        if not text.startswith("ref: refs/heads/") or ".." in ref or "//" in ref or ref.endswith("/"):
            return ASK
        loose = gd / ref
        if loose.is_file():
            value = _small(loose)
            return value if _OID.fullmatch(value) else ASK
        if loose.exists():
            return ASK
        packed = gd / "packed-refs"
        if packed.exists():
            for line in packed.read_text(encoding="utf-8").splitlines():
                oid, _, name = line.partition(" ")
                if name == ref and _OID.fullmatch(oid):
                    return oid
        return None
    except (OSError, UnicodeDecodeError):
        return ASK


def _small(path: Path) -> str:
    """A ref file's text (a ref is one line; a longer file is not one)."""
    with open(path, "rb") as fh:
        return fh.read(512).decode("utf-8").strip()
