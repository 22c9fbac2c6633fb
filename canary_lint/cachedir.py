"""Where canary-lint keeps what it may reuse between runs: outside the checked tree.

A pull request controls every file in the tree it proposes, so nothing read from that tree may change a
verdict except configuration and reasoned suppressions. Caches therefore live in the user's cache
directory (`$CANARY_LINT_CACHE_DIR`, else `$XDG_CACHE_HOME/canary-lint`, else `~/.cache/canary-lint`), and a
cache directory that has to live somewhere visible carries its own `.gitignore` so `git status` stays clean.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path | None:
    """The cache directory for this user, or None when caching is off (`CANARY_LINT_CACHE_DIR=""`)."""
    explicit = os.environ.get("CANARY_LINT_CACHE_DIR")
    if explicit is not None:
        return Path(explicit) if explicit.strip() else None
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "canary-lint"
    home = os.path.expanduser("~")
    if not home or home == "~":
        return None
    return Path(home) / ".cache" / "canary-lint"


def cache_dir(name: str, tree: Path | None = None) -> Path | None:
    """A named sub-directory of the cache (created with a `.gitignore` on first use), or None — also when
    the cache would lie inside `tree`, the checked tree, where a pull request could commit a forged entry."""
    root = cache_root()
    if root is None:
        return None
    if tree is not None:
        real, checked = Path(os.path.realpath(root)), Path(os.path.realpath(tree))
        if real == checked or checked in real.parents:
            return None
    path = root / name
    try:
        path.mkdir(parents=True, exist_ok=True)
        ignore = root / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# written by canary-lint: cache files, never committed\n*\n")
    except OSError:
        return None
    return path
